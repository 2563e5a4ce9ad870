"""The README's SDK and command-line examples run as written against a real server."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._topology import BIN, Topology, embedded
from tests.e2e import _content

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.timeout(300)


def code_block(section: str, language: str) -> str:
    """The first ``language`` fenced block under the ``## section`` heading."""
    text = README.read_text("utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    found = re.search(rf"```{language}\n(.*?)```", text[start : end if end > 0 else None], re.S)
    assert found is not None, f"no {language} block under {section!r} in README.md"
    return found.group(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topo = embedded(tmp_path_factory.mktemp("readme"))
    try:
        yield topo
    finally:
        topo.stop()


def _env(server: Topology) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGRAHA_")}
    env["SANGRAHA_URL"] = server.read_url
    return env


def test_sdk_example_runs(server: Topology, tmp_path: Path) -> None:
    code = code_block("Python SDK", "python")
    assert len(code.strip().splitlines()) <= 6, "the README example should stay short"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(server),
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == repr(b'{"hi": 1}')
    record = httpx.get(f"{server.read_url}/v1/buckets/docs/metadata/hello.json").json()
    assert record["status"] == "ready" and record["metadata"] == {"team": "ops"}


def test_command_line_example_runs(server: Topology, tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(_content.pdf())
    outputs = []
    for line in code_block("Command line", "sh").strip().splitlines():
        argv = shlex.split(line)
        assert argv[0] == "sangraha", line
        result = subprocess.run(
            [str(BIN / "sangraha"), *argv[1:]],
            env=_env(server),
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{line}: {result.stderr.decode()}"
        outputs.append(result.stdout.decode())
    assert "report.pdf" in outputs[1]
    assert (tmp_path / "copy.pdf").read_bytes() == (tmp_path / "report.pdf").read_bytes()
