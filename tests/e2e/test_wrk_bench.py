"""benchmarks.wrk: its Lua script against the bare ASGI app, its goals, its RESULTS.md section."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks import wrk as bench
from benchmarks.small_objects import bare_app

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

PLAN = bench.Plan(seconds=1.0, threads=2, connections=4, process_timeout=10.0)


@needs_wrk
def test_puts_go_to_fresh_keys_with_the_fixed_json_body(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    with bare_app(folder) as (url, _pid):
        figures = bench.run_wrk(url, "put", PLAN, target="/disk/w", auth="Bearer x")
    files = sorted(folder.iterdir())
    assert figures["errors"] == 0
    assert figures["ok"] > 0
    # Every accepted PUT wrote a file of its own (no key was used twice); requests still
    # in flight when wrk stopped may have written one more each.
    assert figures["ok"] == figures["statuses"]["201"]
    assert figures["ok"] <= len(files) <= figures["ok"] + PLAN.connections
    assert {f.name.split("-")[0] for f in files} == {"w0", "w1"}
    body = files[0].read_bytes()
    assert len(body) == bench.SIZE
    assert set(json.loads(body)) == {"pad"}


@needs_wrk
def test_cold_reads_ask_for_every_key_and_stop(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    names = [f"k{i}" for i in range(200)]
    for name in names:
        (folder / name).write_bytes(b"x" * 10)
    keyfile = tmp_path / "keys.txt"
    keyfile.write_text("".join(f"/disk/{name}\n" for name in names))
    plan = bench.Plan(seconds=8.0, threads=2, connections=4, process_timeout=10.0)
    with bare_app(folder) as (url, _pid):
        figures = bench.run_wrk(url, "cold", plan, keyfile=keyfile)
    # Any key missing from the folder would answer 404 (the bare app fails on it).
    assert figures["errors"] == 0
    assert set(figures["statuses"]) == {"200"}
    # Each thread stopped once its share was answered: a few more than 200 at most
    # (requests in flight when the last answer came), not 8 s of requests.
    assert 200 <= figures["ok"] <= 200 + 2 * plan.connections


def _row(topology: str, case: str, per_s: float, **extra: float) -> dict[str, object]:
    row: dict[str, object] = {"topology": topology, "case": case, "per_s": per_s}
    return {**row, "p50_ms": 1.0, "p99_ms": 5.0, "errors": 0, "statuses": {"200": 1}, **extra}


def test_goals_compare_with_the_baselines_of_the_same_run() -> None:
    report = bench.Report()
    report.rows = [
        _row("bare-asgi", "put_mem_4k", 4000),
        _row("bare-asgi", "get_mem_4k", 10000),
        _row("bare-asgi", "get_disk_4k_cold", 8000),
        _row("embedded", "put_json_4k", 2500, processed_per_s=900),
        _row("embedded", "get_4k_warm", 7000),
        _row("embedded", "get_4k_cold", 4000, p99_ms=25.0),
        _row("direct", "boto3_put_4k", 300),
        _row("direct", "pika_publish_confirmed", 5000),
        _row("distributed", "put_json_4k", 250, processed_per_s=100),
    ]
    met = {(g.topology, g.what): (g.ratio, g.met) for g in bench.goals(report)}
    assert met[("embedded", "4 KiB JSON accepted")] == (None, True)
    assert met[("embedded", "4 KiB JSON accepted vs bare PUT")] == (0.625, True)
    assert met[("embedded", "4 KiB JSON processed")] == (None, False)
    assert met[("embedded", "warm GET vs bare GET from memory")] == (0.7, False)
    assert met[("embedded", "cold GET vs bare GET from disk")] == (0.5, True)
    assert met[("embedded", "p99 get_4k_warm")] == (None, True)
    assert met[("embedded", "p99 get_4k_cold")] == (None, False)
    # The slower of the two direct paths is the floor.
    assert met[("distributed", "4 KiB JSON accepted vs the slower direct path")] == (0.833, True)
    assert met[("distributed", "processed vs accepted")] == (0.4, False)


def test_the_section_goes_on_top_and_is_replaced_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## S3 API\n\nkept\n")
    monkeypatch.setattr(bench, "RESULTS", results)
    bench.write_results(f"{bench.BEGIN}\nfirst\n{bench.END}")
    text = results.read_text()
    assert text.index(bench.SECTION) < text.index("## S3 API")
    results.write_text(text.replace(bench.END, f"{bench.END}\n\nprose written by hand"))
    bench.write_results(f"{bench.BEGIN}\nsecond\n{bench.END}")
    text = results.read_text()
    assert "second" in text and "first" not in text
    assert text.count(bench.SECTION) == 1
    assert "prose written by hand" in text and "kept" in text
