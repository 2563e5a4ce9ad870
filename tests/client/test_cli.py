"""The command line, run through main() with the fake service injected."""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import sys
from collections.abc import Iterator

import httpx
import pytest

import sangraha_client
from sangraha_client import cli
from sangraha_client._cli_output import human_size
from tests.client.fake_sangraha import FakeSangraha


class Run:
    def __init__(self, fake: FakeSangraha) -> None:
        self.fake = fake

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(
            ["--url", "http://x.test", *argv],
            transport=self.fake.transport(),
            stdout=out,
            stderr=err,
        )
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def fake() -> FakeSangraha:
    return FakeSangraha()


@pytest.fixture
def run(fake: FakeSangraha) -> Run:
    return Run(fake)


def test_put_ls_stat_rm(run: Run, fake: FakeSangraha, tmp_path: pathlib.Path) -> None:
    a = tmp_path / "a.json"
    a.write_bytes(b'{"a": 1}')
    b = tmp_path / "b.json"
    b.write_bytes(b"[]")
    code, out, _ = run("--json", "put", str(a), str(b), "--bucket", "docs", "--meta", "team=x")
    assert code == 0
    assert [r["key"] for r in json.loads(out)] == ["a.json", "b.json"]
    assert fake.objects[("docs", "a.json")][1]["metadata"] == {"team": "x"}

    code, out, _ = run("ls", "docs", "--limit", "1")
    header, line = out.splitlines()
    assert code == 0 and header.split()[0] == "KEY" and line.split()[0] == "a.json"
    assert "b.json" not in out
    code, out, _ = run("ls", "docs", "--json")
    assert code == 0 and [r["key"] for r in json.loads(out)] == ["a.json", "b.json"]

    code, out, _ = run("--json", "stat", "docs/b.json")
    assert json.loads(out)["key"] == "b.json"

    assert run("rm", "docs/b.json")[0] == 0
    code, _, err = run("stat", "docs/b.json")
    assert code == cli.EXIT_NOT_FOUND
    assert err.startswith("sangraha: 404") and err.count("\n") == 1


def test_get_to_a_file_and_to_stdout(
    run: Run, fake: FakeSangraha, tmp_path: pathlib.Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    fake.store("docs", "dir/a.json", b'{"a": 1}')
    target = tmp_path / "out.json"
    assert run("get", "docs/dir/a.json", "-o", str(target))[0] == 0
    assert target.read_bytes() == b'{"a": 1}'
    code = cli.main(
        ["--url", "http://x.test", "get", "docs/dir/a.json"], transport=fake.transport()
    )
    assert code == 0
    assert capsysbinary.readouterr().out == b'{"a": 1}'


def test_usage_errors_exit_2(run: Run, tmp_path: pathlib.Path) -> None:
    assert run("get", "no-slash")[0] == cli.EXIT_USAGE
    assert run("frobnicate")[0] == cli.EXIT_USAGE
    code, _, err = run("put", str(tmp_path / "missing.json"), "--bucket", "docs")
    assert code == cli.EXIT_USAGE and "no such file" in err
    one, two = tmp_path / "1.json", tmp_path / "2.json"
    one.write_text("1")
    two.write_text("2")
    assert run("put", str(one), str(two), "--bucket", "d", "--key", "k")[0] == cli.EXIT_USAGE


def test_wait_exit_codes(run: Run, fake: FakeSangraha) -> None:
    fake.store("docs", "ok.json", b"{}")
    fake.store("docs", "bad.json", b"{", status="failed", error="truncated JSON")
    assert run("wait", "docs/ok.json")[0] == 0
    code, _, err = run("wait", "docs/bad.json")
    assert code == cli.EXIT_PROCESSING_FAILED and "truncated JSON" in err


def test_an_unreachable_service_exits_4() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    err = io.StringIO()
    code = cli.main(
        ["--url", "http://x.test", "stat", "d/k"], transport=httpx.MockTransport(refuse), stderr=err
    )
    assert code == cli.EXIT_CONNECTION
    assert "cannot reach http://x.test" in err.getvalue() and "Traceback" not in err.getvalue()


def test_serve_without_the_server_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sangraha_server", None)
    err = io.StringIO()
    assert cli.main(["serve"], stderr=err) == cli.EXIT_USAGE
    assert "pip install ./packages/sangraha-* ." in err.getvalue()


def test_serve_hands_over_to_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    calls: list[tuple[str, int, pathlib.Path]] = []
    module = type(sys)("sangraha_server")
    module.serve = lambda host, port, data_dir, **_: calls.append((host, port, data_dir))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sangraha_server", module)
    assert cli.main(["serve", "--port", "9001", "--data-dir", str(tmp_path)]) == 0
    assert calls == [("127.0.0.1", 9001, tmp_path)]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as a person's is."""

    def isatty(self) -> bool:
        return True


def test_ls_prints_human_columns_with_the_reason_of_a_failure(run: Run, fake: FakeSangraha) -> None:
    fake.store("docs", "a.json", b'{"a": 1}')
    fake.store("docs", "big.pdf", b"%PDF" + b"x" * 1532, "application/pdf")
    fake.store("docs", "bad.json", b"{", status="failed", error="truncated\nJSON")
    fake.store("docs", "wait.json", b"{}", status="pending")
    code, out, err = run("ls", "docs")
    assert code == 0 and err == ""
    header, *lines = out.splitlines()
    assert header.split() == ["KEY", "SIZE", "CREATED", "(UTC)", "STATUS", "KIND", "REASON"]
    rows = {line.split()[0]: line for line in lines}
    assert list(rows) == ["a.json", "bad.json", "big.pdf", "wait.json"]
    assert rows["a.json"].split()[1:3] == ["8", "B"]
    assert rows["big.pdf"].split()[1:3] == ["1.5", "KiB"]
    assert rows["big.pdf"].split()[-2:] == ["ready", "pdf"]
    assert rows["wait.json"].split()[-2:] == ["pending", "json"]
    assert rows["bad.json"].endswith("failed   json  truncated JSON")
    # The columns line up under their titles.
    at = header.index("STATUS")
    assert {line[at:].split()[0] for line in lines} == {"ready", "failed", "pending"}
    assert run("ls", "empty") == (0, "", "")
    code, out, _ = run("ls", "docs", "--status", "ready", "--prefix", "a")
    assert out.splitlines()[0].split() == ["KEY", "SIZE", "CREATED", "(UTC)", "STATUS", "KIND"]


def test_human_sizes() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 10 * 1024**2, 1024**3 - 1)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "10.0 MiB",
        "1.0 GiB",
    ]


def test_json_goes_before_or_after_the_command(run: Run, fake: FakeSangraha) -> None:
    fake.store("docs", "a.json", b"{}")
    for argv in (["--json", "stat", "docs/a.json"], ["stat", "docs/a.json", "--json"]):
        code, out, _ = run(*argv)
        assert code == 0 and json.loads(out)["key"] == "a.json"
    code, out, _ = run("wait", "docs/a.json", "--json")
    assert json.loads(out)["status"] == "ready"


def _walk(
    parser: argparse.ArgumentParser, name: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _walk(sub, f"{name} {sub_name}")


def test_every_option_has_help_and_every_command_examples() -> None:
    commands = dict(_walk(cli._build_parser(), "sangraha"))
    assert {"sangraha put", "sangraha ls", "sangraha keys create", "sangraha serve"} <= set(
        commands
    )
    for name, parser in commands.items():
        assert parser.epilog and parser.epilog.startswith("examples:\n"), name
        assert "examples:\n  sangraha" in parser.format_help(), name
        block = parser.epilog.split("\n\n")[0].splitlines()[1:]
        assert block, name
        for line in block:
            assert line.startswith("  ") and "sangraha " in line, (name, line)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)


def test_help_and_version_print_to_stdout_and_exit_0(run: Run) -> None:
    code, out, err = run("--version")
    assert code == 0 and err == ""
    assert out.startswith(f"sangraha {sangraha_client.__version__} (sangraha-core ")
    code, out, _ = run("put", "--help")
    assert code == 0 and "examples:\n  sangraha put report.pdf --bucket docs\n" in out
    assert "--content-type CONTENT_TYPE" in out and "e.g. application/pdf" in out


def test_progress_bars_only_on_a_terminal(fake: FakeSangraha, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "rows.json"
    source.write_bytes(b"[" + b"1," * 5000 + b"1]")

    def main(*argv: str, err: io.StringIO) -> tuple[int, str]:
        out = io.StringIO()
        code = cli.main(
            ["--url", "http://x.test", *argv], transport=fake.transport(), stdout=out, stderr=err
        )
        return code, out.getvalue()

    terminal = Terminal()
    code, out = main("--json", "put", str(source), "--bucket", "docs", err=terminal)
    assert code == 0 and json.loads(out)["key"] == "rows.json", "stdout stays clean"
    bar = terminal.getvalue()
    assert "rows.json" in bar and "100%" in bar and "10.0kB/10.0kB" in bar
    assert "B/s]" in bar and "<" in bar, "speed and time left"
    terminal = Terminal()
    assert main("get", "docs/rows.json", "-o", str(tmp_path / "back"), err=terminal)[0] == 0
    assert "100%" in terminal.getvalue() and "B/s" in terminal.getvalue()

    plain = io.StringIO()
    assert main("put", str(source), "--bucket", "docs", err=plain)[0] == 0
    assert main("get", "docs/rows.json", "-o", str(tmp_path / "again"), err=plain)[0] == 0
    assert plain.getvalue() == ""
