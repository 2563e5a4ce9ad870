"""Liveness and readiness: alive means the process answers; ready means its backends do."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from .._backends import Backends
from .._constants import RETRY_AFTER_SECONDS
from .._exceptions import BackendUnavailableError

__all__ = ["health_router"]


def health_router(get_backends: Callable[[Request], Backends]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz")
    async def readyz(request: Request) -> Response:
        backends = get_backends(request)
        checks: dict[str, str] = {}
        ok = True
        for name, check in (
            ("blobs", backends.blobs.check),
            ("metadata", backends.metadata.check),
            ("queue", backends.queue.check),
        ):
            try:
                await run_in_threadpool(check)
                checks[name] = "ok"
            except BackendUnavailableError as error:
                checks[name] = f"unavailable: {error}"
                ok = False
        if ok:
            return JSONResponse({"status": "ready", "checks": checks})
        return JSONResponse(
            {"status": "unavailable", "checks": checks},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    return router
