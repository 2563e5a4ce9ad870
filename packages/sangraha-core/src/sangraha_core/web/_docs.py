"""The API reference pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served whole by
the service itself: no CDN, no web fonts, no online validator, so they work on a machine
without internet and ask no third party for anything.

FastAPI's own pages load their scripts from a CDN; :func:`install_docs` replaces them with
the same pages (``get_swagger_ui_html``, ``get_redoc_html``) pointed at the copies in
``_static/`` (see its README for their versions and licences), under
:data:`DOCS_ASSET_PREFIX`. Each page carries a Content-Security-Policy that allows only
this origin, the page's own inline script by its hash, and the inline styles both tools
set at run time.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

__all__ = ["DOCS_ASSETS", "DOCS_ASSET_PREFIX", "DOCS_OPEN_PATHS", "install_docs"]

#: Where the pages' assets are served.
DOCS_ASSET_PREFIX = "/docs/assets/"
#: The assets, by file name, with the type each is served as.
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}
#: The pages and their assets: open to anyone, like ``/openapi.json`` they describe.
DOCS_OPEN_PATHS = frozenset(
    {"/docs", "/redoc", *(DOCS_ASSET_PREFIX + name for name in DOCS_ASSETS)}
)

_STATIC = Path(__file__).parent / "_static"
# The copies never change within a release; a browser may keep them a day.
_ASSET_CACHE = "public, max-age=86400"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# connect-src: the description and "Try it out" requests go to this origin only.
# img-src data:: both stylesheets draw their icons as data: URIs. style-src
# 'unsafe-inline': Swagger UI sets style attributes and ReDoc writes <style> elements at
# run time (styled-components); styles cannot run code. worker-src blob:: ReDoc's search
# index runs in a worker made from a Blob.
_POLICY = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _policy(html: str) -> str:
    """The page's policy, allowing exactly its inline scripts by their SHA-256."""
    hashes = "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return _POLICY.format(scripts=hashes)


def _page(page: HTMLResponse) -> HTMLResponse:
    html = bytes(page.body).decode()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _policy(html),
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


def install_docs(app: FastAPI) -> None:
    """Serve ``app``'s ``/docs`` and ``/redoc`` (wherever ``docs_url`` and ``redoc_url``
    put them; neither when ``openapi_url`` is ``None``) with the assets in this package."""
    openapi_url = app.openapi_url
    docs_url, redoc_url = app.docs_url, app.redoc_url
    pages = {url for url in (docs_url, redoc_url) if url} if openapi_url else set()
    if not pages:
        return
    # FastAPI added its CDN pages when the app was made; these take their place.
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if not (isinstance(route, Route) and route.path in pages)
    ]

    def prefix(request: Request) -> str:
        # Behind a proxy that mounts the service under a path, every URL is under it too.
        root: str = request.scope.get("root_path", "")
        return root.rstrip("/")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        assets = root + DOCS_ASSET_PREFIX
        oauth2 = app.swagger_ui_oauth2_redirect_url
        return _page(
            get_swagger_ui_html(
                openapi_url=root + str(openapi_url),
                title=f"{app.title} - Swagger UI",
                swagger_js_url=assets + "swagger-ui-bundle.js",
                swagger_css_url=assets + "swagger-ui.css",
                swagger_favicon_url=assets + "favicon-32x32.png",
                oauth2_redirect_url=root + oauth2 if oauth2 else None,
                init_oauth=app.swagger_ui_init_oauth,
                # Off: the default sends the description to an online validator for a badge.
                swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
            )
        )

    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        assets = root + DOCS_ASSET_PREFIX
        return _page(
            get_redoc_html(
                openapi_url=root + str(openapi_url),
                title=f"{app.title} - ReDoc",
                redoc_js_url=assets + "redoc.standalone.js",
                redoc_favicon_url=assets + "favicon-32x32.png",
                with_google_fonts=False,
            )
        )

    async def asset(request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[-1]
        return FileResponse(
            _STATIC / name,
            media_type=DOCS_ASSETS[name],
            headers={"Cache-Control": _ASSET_CACHE},
        )

    _describe_sign_in(app)
    if docs_url:
        app.add_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)
    if redoc_url:
        app.add_route(redoc_url, redoc, methods=["GET"], include_in_schema=False)
    for name in DOCS_ASSETS:
        # One route per file: nothing else under the prefix can be asked for.
        app.add_route(DOCS_ASSET_PREFIX + name, asset, methods=["GET"], include_in_schema=False)


#: How the description tells clients (and Swagger UI's Authorize button) to sign in.
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An access key's `<id>.<secret>` (SigV4 and presigned URLs are taken too; "
    "see docs/access.md).",
}


def _describe_sign_in(app: FastAPI) -> None:
    """Name the bearer token in the description, so the reference page can sign requests.

    Every route is described as needing it; the probes and metrics, which do not, are not
    in the description at all."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["accessKey"] = (
                BEARER_SCHEME
            )
            schema["security"] = [{"accessKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
