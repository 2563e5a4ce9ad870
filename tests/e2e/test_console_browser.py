"""The web console in a real (headless) browser: it lists what the API holds."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._topology import Topology, embedded

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topo = embedded(tmp_path_factory.mktemp("console"))
    try:
        yield topo
    finally:
        topo.stop()


def _rendered(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_console_lists_a_bucket_and_escapes_what_it_shows(server: Topology, tmp_path: Path) -> None:
    hostile = "<img src=x onerror=alert(1)>.json"
    for key in ("reports/a.json", hostile):
        response = httpx.put(
            f"{server.write_url}/v1/buckets/console/objects/{key}",
            content=b'{"ok": true}',
            headers={"Content-Type": "application/json"},
            params={"wait": "10"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

    dom = _rendered(f"{server.read_url}/console?bucket=console", tmp_path / "profile")

    assert "reports/a.json" in dom
    assert "2 object(s)" in dom
    # The hostile key is shown as text, never parsed as markup.
    assert "&lt;img src=x onerror=alert(1)&gt;.json" in dom
    assert "<img src=" not in dom
