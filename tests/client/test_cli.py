"""The command line, run through main() with the fake service injected."""

from __future__ import annotations

import io
import json
import pathlib
import sys

import httpx
import pytest

from sangraha_client import cli
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
    assert code == 0 and out.strip().endswith("a.json") and "b.json" not in out

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
    assert "pip install sangraha" in err.getvalue()


def test_serve_hands_over_to_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    calls: list[tuple[str, int, pathlib.Path]] = []
    module = type(sys)("sangraha_server")
    module.serve = lambda host, port, data_dir: calls.append((host, port, data_dir))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sangraha_server", module)
    assert cli.main(["serve", "--port", "9001", "--data-dir", str(tmp_path)]) == 0
    assert calls == [("127.0.0.1", 9001, tmp_path)]
