"""The web console in a real (headless) browser: it lists what the API holds."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client

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


class _Page:
    """One page of a headless Chromium, driven over the DevTools protocol."""

    def __init__(self, url: str, profile: Path) -> None:
        from tests._services import free_port

        assert CHROMIUM is not None
        port = free_port()
        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={port}",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = httpx.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
                target = next(p for p in pages if p["type"] == "page")
                break
            except (httpx.HTTPError, StopIteration, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self._stack = ExitStack()
        self._ws = self._stack.enter_context(
            websockets.sync.client.connect(target["webSocketDebuggerUrl"], max_size=None)
        )
        self._id = 0

    def eval(self, expression: str) -> Any:
        self._id += 1
        self._ws.send(
            json.dumps(
                {
                    "id": self._id,
                    "method": "Runtime.evaluate",
                    "params": {
                        "expression": expression,
                        "awaitPromise": True,
                        "returnByValue": True,
                    },
                }
            )
        )
        while True:
            message = json.loads(self._ws.recv(timeout=30))
            if message.get("id") == self._id:
                return message["result"]["result"].get("value")

    def until(self, expression: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"not within {timeout} s: {expression}")

    def close(self) -> None:
        self._stack.close()
        self._proc.kill()
        self._proc.wait(10)


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, str]]:
    token = "console-operator-token"
    topo = embedded(tmp_path_factory.mktemp("locked"), auth="keys", api_key=token)
    try:
        made = httpx.post(
            f"{topo.write_url}/v1/keys",
            json={"grants": [{"buckets": "console", "actions": ["read", "list"]}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        made.raise_for_status()
        httpx.put(
            f"{topo.write_url}/v1/buckets/console/objects/signed-in.json",
            content=b"{}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            params={"wait": "10"},
            timeout=30,
        ).raise_for_status()
        yield topo, made.json()["bearer"]
    finally:
        topo.stop()


def test_console_signs_in_with_a_key_kept_in_session_storage(
    locked: tuple[Topology, str], tmp_path: Path
) -> None:
    topo, bearer = locked
    page = _Page(f"{topo.read_url}/console?bucket=console", tmp_path / "profile")
    try:
        # Without a key the listing is refused, and says so.
        page.until("document.getElementById('status').textContent.startsWith('Unauthorized')")
        page.eval(
            f"const k = document.getElementById('apikey'); k.value = {json.dumps(bearer)};"
            "k.dispatchEvent(new Event('change')); document.getElementById('list').click();"
        )
        page.until("document.getElementById('rows').textContent.includes('signed-in.json')")
        assert page.eval("sessionStorage.getItem('sangraha.access-key')") == bearer
        assert bearer not in page.eval("window.location.href")
        # A reload keeps the key for this tab.
        page.eval("location.reload()")
        page.until("document.getElementById('apikey').value === " + json.dumps(bearer))
    finally:
        page.close()
