"""The installed ``sangraha`` command, run as a process against both topologies."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests._services import free_port
from tests._topology import BIN, Topology
from tests.e2e import _content

pytestmark = pytest.mark.timeout(600)

SANGRAHA = str(BIN / "sangraha")


def _bucket() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGRAHA_")}
    env.update(extra)
    return env


def sangraha(
    *argv: str, topology: Topology | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the command; with ``topology``, the write URL comes from ``SANGRAHA_WRITE_URL``."""
    urls = [] if topology is None else ["--url", topology.read_url]
    environ = env or _env()
    if topology is not None:
        environ = {**environ, "SANGRAHA_WRITE_URL": topology.write_url}
    return subprocess.run(
        [SANGRAHA, *urls, *argv], env=environ, capture_output=True, timeout=180, check=False
    )


def _one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert err.startswith("sangraha: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_put_ls_get_stat_rm_wait(topology: Topology, tmp_path: Path) -> None:
    bucket = _bucket()
    doc = tmp_path / "a.json"
    doc.write_bytes(b'{"a": 1}')
    pic = tmp_path / "pic.png"
    pic.write_bytes(_content.png())
    report = tmp_path / "report.pdf"
    report.write_bytes(_content.pdf())

    put = sangraha(
        "--json",
        "put",
        str(doc),
        str(pic),
        str(report),
        "--bucket",
        bucket,
        "--meta",
        "team=ops",
        "--meta",
        "title=Grüße 文件",
        "--wait",
        topology=topology,
    )
    assert put.returncode == 0, put.stderr.decode()
    records = json.loads(put.stdout)
    assert [r["key"] for r in records] == ["a.json", "pic.png", "report.pdf"]
    assert {r["status"] for r in records} == {"ready"}
    assert records[0]["metadata"] == {"team": "ops", "title": "Grüße 文件"}

    listed = sangraha("ls", bucket, topology=topology)
    assert listed.returncode == 0 and listed.stderr == b"", "no progress bar off a terminal"
    header, *lines = listed.stdout.decode().splitlines()
    assert header.split()[:2] == ["KEY", "SIZE"]
    assert [line.split()[0] for line in lines] == ["a.json", "pic.png", "report.pdf"]
    assert lines[1].split()[-2:] == ["ready", "image"]
    assert lines[0].split()[1:3] == ["8", "B"]
    listed_json = sangraha("ls", bucket, "--json", topology=topology)
    assert [r["key"] for r in json.loads(listed_json.stdout)] == [r["key"] for r in records]
    by_kind = sangraha("--json", "ls", bucket, "--kind", "pdf", topology=topology)
    assert [r["key"] for r in json.loads(by_kind.stdout)] == ["report.pdf"]
    by_prefix = sangraha("--json", "ls", bucket, "--prefix", "pic", topology=topology)
    assert [r["key"] for r in json.loads(by_prefix.stdout)] == ["pic.png"]
    by_meta = sangraha("--json", "ls", bucket, "--meta", "title=Grüße 文件", topology=topology)
    assert len(json.loads(by_meta.stdout)) == 3

    out = tmp_path / "back.pdf"
    got = sangraha("get", f"{bucket}/report.pdf", "-o", str(out), topology=topology)
    assert got.returncode == 0 and got.stdout == b""
    assert out.read_bytes() == report.read_bytes()
    to_stdout = sangraha("get", f"{bucket}/pic.png", topology=topology)
    assert to_stdout.returncode == 0 and to_stdout.stdout == pic.read_bytes()

    stat = sangraha("stat", f"{bucket}/a.json", topology=topology)
    assert stat.returncode == 0
    assert "status:       ready" in stat.stdout.decode()
    stat_json = json.loads(sangraha("--json", "stat", f"{bucket}/a.json", topology=topology).stdout)
    assert stat_json["id"] == records[0]["id"]

    waited = sangraha("--json", "wait", f"{bucket}/pic.png", topology=topology)
    assert waited.returncode == 0 and json.loads(waited.stdout)["status"] == "ready"

    assert sangraha("rm", f"{bucket}/a.json", topology=topology).returncode == 0
    gone = sangraha("stat", f"{bucket}/a.json", topology=topology)
    assert gone.returncode == 3
    assert "404" in _one_line_error(gone)


def test_put_from_stdin_and_failed_processing(topology: Topology, tmp_path: Path) -> None:
    bucket = _bucket()
    piped = subprocess.run(
        [
            SANGRAHA,
            *("--url", topology.read_url, "--write-url", topology.write_url, "--json"),
            *("put", "-", "--bucket", bucket, "--key", "in/stdin.json", "--wait"),
        ],
        input=b'{"from": "stdin"}',
        env=_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr.decode()
    assert json.loads(piped.stdout)["status"] == "ready"

    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"open": ')
    failed = sangraha("put", str(bad), "--bucket", bucket, "--wait", topology=topology)
    assert failed.returncode == 5
    _one_line_error(failed)
    listed = sangraha("ls", bucket, "--status", "failed", topology=topology)
    assert listed.returncode == 0, listed.stderr.decode()
    header, line = listed.stdout.decode().splitlines()
    assert header.split()[-1] == "REASON"
    assert line.split()[0] == "bad.json" and line.split()[5:7] == ["failed", "json"]
    reason = line[header.index("REASON") :]
    assert reason and reason in failed.stderr.decode(), "ls shows the reason the wait raised"


def test_usage_and_unreachable_exit_codes(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = sangraha("--url", nowhere, "stat", "b/k.json")
    assert unreachable.returncode == 4
    assert nowhere in _one_line_error(unreachable)

    for argv in (["frobnicate"], ["get", "no-slash"], ["put", str(tmp_path / "none.json")]):
        usage = sangraha("--url", nowhere, *argv)
        assert usage.returncode == 2, argv
        _one_line_error(usage)
    missing = sangraha("--url", nowhere, "put", str(tmp_path / "none.json"), "--bucket", "b")
    assert missing.returncode == 2 and "no such file" in _one_line_error(missing)


def test_serve_help_in_the_full_install() -> None:
    result = sangraha("serve", "--help")
    assert result.returncode == 0, result.stderr.decode()
    assert "--data-dir" in result.stdout.decode() and "examples:" in result.stdout.decode()
    version = sangraha("--version")
    assert version.returncode == 0 and version.stdout.decode().startswith("sangraha 0.")
