"""The web console: a page and the ES modules and style it loads, all shipped in the package.

No build step, no CDN, no npm: the files under ``static/`` (with pdf.js, vendored under
``static/vendor/pdfjs/`` as published) are served as they are, from a fixed list read when
the module is imported (a name not on it is a 404, so no path reaches outside that folder).
The page carries a strict Content-Security-Policy: scripts, workers and styles from this
origin only, no inline script, no eval; ``blob:`` images and frames so a preview shows
bytes the page fetched with its key, without loosening the sandbox stored content is
served under. Everything the page shows from the API is set with ``textContent``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from sangraha_core import NotFoundError

__all__ = ["CONSOLE_ASSETS", "CONSOLE_ASSET_PREFIX", "CONSOLE_POLICY", "router"]

router = APIRouter(include_in_schema=False)

#: Where the page's modules and style are served (open to anyone, read-only).
CONSOLE_ASSET_PREFIX = "/console/assets/"

_STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: The assets by path under ``static/`` (``app.js``, ``vendor/pdfjs/pdf.min.mjs``), with the
#: type each is served as.
CONSOLE_ASSETS = {
    path.relative_to(_STATIC).as_posix(): _TYPES[path.suffix]
    for path in sorted(_STATIC.rglob("*"))
    if path.is_file() and path.suffix in _TYPES
}

# connect-src http: https:: uploads may go to a write service on another origin.
# img-src blob:: image previews are fetched with the key and shown as blob: URLs.
# worker-src 'self': pdf.js parses a PDF in its module worker, served from this list.
CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; connect-src 'self' http: https:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONSOLE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The files change only with a release, but a release must not wait a day to be seen.
_ASSET_CACHE = "public, max-age=300"
_PAGE = (_STATIC / "index.html").read_text(encoding="utf-8")


@router.get("/console", response_class=HTMLResponse)
async def console() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={**_HEADERS, "Cache-Control": "no-cache"})


# A path, for the vendored files; only names on the list are read, so ".." goes nowhere.
@router.get(CONSOLE_ASSET_PREFIX + "{name:path}")
async def console_asset(name: str) -> Response:
    media_type = CONSOLE_ASSETS.get(name)
    if media_type is None:
        raise NotFoundError(f"the console has no asset {name!r}")
    body = (_STATIC / name).read_bytes()
    return Response(
        body, media_type=media_type, headers={**_HEADERS, "Cache-Control": _ASSET_CACHE}
    )
