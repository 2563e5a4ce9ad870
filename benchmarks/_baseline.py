"""The bare baseline: uvicorn and a raw ASGI callable, no framework, no checks.

``PUT /<name>`` streams the request body into ``<dir>/<name>``; ``GET /<name>`` streams
it back in 1 MiB pieces. Sangraha's transfers are compared with this app, on the same
disk and in the same run, so the ratio says what the service adds, not what the machine
can do. Run with ``python -m benchmarks._baseline --port N --dir D``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

__all__ = ["BaselineApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_CHUNK = 1024 * 1024


class BaselineApp:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._kept: dict[int, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"].startswith("/mem/"):
            await self._memory(scope, receive, send)
            return
        path = self.folder / Path(scope["path"]).name
        if scope["method"] == "PUT":
            with path.open("wb") as out:
                more = True
                while more:
                    message = await receive()
                    out.write(message.get("body", b""))
                    more = message.get("more_body", False)
                os.fsync(out.fileno())
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        size = path.stat().st_size
        headers = [(b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _memory(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /mem/<n>``: n bytes made once and kept; ``PUT /mem/...``: the body is dropped.

        The floor of a small read or write that touches no disk.
        """
        if scope["method"] == "PUT":
            while (await receive()).get("more_body", False):
                pass
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        size = int(Path(scope["path"]).name)
        body = self._kept.get(size)
        if body is None:
            body = self._kept[size] = b"m" * size
        headers = [(b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(BaselineApp(args.dir), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
