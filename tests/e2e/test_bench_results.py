"""Each benchmark rewrites its own table in RESULTS.md and nothing else."""

from __future__ import annotations

from pathlib import Path

from benchmarks._results import write_section


def _write(results: Path, section: str, table: str, *, on_top: bool) -> None:
    tag = section.removeprefix("## ").replace(" ", "-")
    write_section(
        results,
        section=section,
        begin=f"<!-- {tag}:begin -->",
        end=f"<!-- {tag}:end -->",
        table=f"<!-- {tag}:begin -->\n{table}\n<!-- {tag}:end -->",
        on_top=on_top,
    )


def test_a_heading_that_starts_another_is_not_taken_for_it(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Small objects with wrk\n\nwrk prose\n")
    _write(results, "## Small objects", "python table", on_top=False)
    text = results.read_text()
    assert text.index("wrk prose") < text.index("## Small objects\n") < text.index("python table")


def test_a_table_is_replaced_and_the_prose_around_it_kept(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    _write(results, "## S3 API", "first", on_top=True)
    text = results.read_text()
    assert text.index("## S3 API") < text.index("## Other")
    results.write_text(
        text.replace("first\n<!-- S3-API:end -->", "first\n<!-- S3-API:end -->\nby hand")
    )
    _write(results, "## S3 API", "second", on_top=True)
    text = results.read_text()
    assert "second" in text and "first" not in text and "by hand" in text and "kept" in text
    assert text.count("## S3 API") == 1
