"""The admin API for access keys: create, list, show, revoke, rotate.

Routes parse and answer; ``sangraha_core.access.KeyAdmin`` decides who may do what. A
change is seen by this process at once and by every other within ``key_refresh``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from sangraha_core.access import CreateKey, KeyView, NewKeyView
from sangraha_core.web import access_of, principal_of, problem_doc, requires_admin

__all__ = ["build_router"]


def _answer(view: BaseModel, status: int = 200) -> Response:
    # The secret must not linger in a cache between the server and the client.
    return JSONResponse(
        view.model_dump(mode="json"), status_code=status, headers={"Cache-Control": "no-store"}
    )


_KEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: problem_doc("The key may not manage keys with these grants."),
    404: problem_doc("No such key that this key may manage."),
}


def build_router() -> APIRouter:
    """The key routes, for the receiver's app or the embedded one."""
    # Every key route needs an admin grant somewhere, checked before any body is read.
    router = APIRouter(tags=["access keys"], dependencies=[Depends(requires_admin)])

    @router.post(
        "/v1/keys",
        status_code=201,
        response_model=NewKeyView,
        responses=_KEY_RESPONSES,
        summary="Make a key; its secret is in this answer only",
    )
    async def create_key(request: Request, body: CreateKey) -> Response:
        guard = access_of(request)
        new = await anyio.to_thread.run_sync(
            partial(
                guard.admin.create,
                principal_of(request),
                grants=body.grants,
                name=body.name,
                expires_at=body.expires_at,
                rate_limit=body.rate_limit,
            )
        )
        return _answer(NewKeyView.of_new(new), 201)

    @router.get(
        "/v1/keys",
        response_model=list[KeyView],
        responses=_KEY_RESPONSES,
        summary="The keys this key may manage",
    )
    async def list_keys(request: Request) -> Response:
        keys = await anyio.to_thread.run_sync(access_of(request).admin.list, principal_of(request))
        return JSONResponse([KeyView.of(k).model_dump(mode="json") for k in keys])

    @router.get(
        "/v1/keys/{key_id}",
        response_model=KeyView,
        responses=_KEY_RESPONSES,
        summary="One key: its grants, status and last use",
    )
    async def get_key(request: Request, key_id: str) -> Response:
        admin = access_of(request).admin
        key = await anyio.to_thread.run_sync(admin.get, principal_of(request), key_id)
        return _answer(KeyView.of(key))

    @router.post(
        "/v1/keys/{key_id}/revoke",
        response_model=KeyView,
        responses=_KEY_RESPONSES,
        summary="Revoke a key for good, on every service within seconds",
    )
    async def revoke_key(request: Request, key_id: str) -> Response:
        guard = access_of(request)
        key = await anyio.to_thread.run_sync(guard.admin.revoke, principal_of(request), key_id)
        guard.ring.forget(key_id)
        return _answer(KeyView.of(key))

    @router.post(
        "/v1/keys/{key_id}/rotate",
        response_model=NewKeyView,
        responses=_KEY_RESPONSES,
        summary="A new secret for a key; the old one stops working within seconds",
    )
    async def rotate_key(request: Request, key_id: str) -> Response:
        guard = access_of(request)
        new = await anyio.to_thread.run_sync(guard.admin.rotate, principal_of(request), key_id)
        guard.ring.forget(key_id)
        return _answer(NewKeyView.of_new(new))

    return router
