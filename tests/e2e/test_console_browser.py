"""The web console in a real browser (Debian's Chromium, driven by Playwright) against a
real embedded server with access control on: sign-in, drag-and-drop upload (single PUT and
upload sessions with resume), a preview of each kind (PDFs drawn by the vendored pdf.js),
folders, search, versions, delete, the dashboard, and axe-core's accessibility rules in
light and dark mode.

Screenshots of each kind previewed, at 1400 and 400 px wide, go to ``tests/e2e/artifacts/``
(git-ignored; ``SANGRAHA_CONSOLE_ARTIFACTS`` names another folder) and their paths are
printed.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests._topology import Topology, embedded
from tests.e2e._content import pdf_with_text, png, png_with_bad_crc

CHROMIUM = "/usr/bin/chromium"
playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium on this machine"),
    pytest.mark.timeout(120),
]

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "assets" / "axe.min.js"
ARTIFACTS = Path(
    os.environ.get("SANGRAHA_CONSOLE_ARTIFACTS") or Path(__file__).parent / "artifacts"
)
TOKEN = "console-operator-token"
BUCKET = "console"
OPEN_BUCKET = "console-any"
MiB = 1024 * 1024


class Server:
    def __init__(self, topo: Topology, bearer: str) -> None:
        self.topo = topo
        self.url = topo.read_url
        self.bearer = bearer
        self.http = httpx.Client(
            base_url=topo.write_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    def put(
        self, key: str, body: bytes, content_type: str, bucket: str = BUCKET, **meta: str
    ) -> Any:
        headers = {"Content-Type": content_type}
        headers.update({f"X-Sangraha-Meta-{k}": v for k, v in meta.items()})
        response = self.http.put(
            f"/v1/buckets/{bucket}/objects/{key}",
            content=body,
            headers=headers,
            params={"wait": "10"},
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    topo = embedded(tmp_path_factory.mktemp("console"), auth="keys", api_key=TOKEN)
    try:
        operator = {"Authorization": f"Bearer {TOKEN}"}
        for name, kinds in ((BUCKET, "validated"), (OPEN_BUCKET, "any")):
            httpx.put(
                f"{topo.write_url}/v1/buckets/{name}", json={"kinds": kinds}, headers=operator
            ).raise_for_status()
        actions = ["read", "list", "write", "delete", "admin"]
        made = httpx.post(
            f"{topo.write_url}/v1/keys",
            json={"grants": [{"buckets": "*", "actions": actions}]},
            headers=operator,
        )
        made.raise_for_status()
        served = Server(topo, made.json()["bearer"])
        try:
            yield served
        finally:
            served.http.close()
    finally:
        topo.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A console page signed in with the key (as a person would: through the form)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{server.url}/console")
    tab.fill("#apikey", server.bearer)
    tab.click("#sign-in-form button[type=submit]")
    tab.wait_for_selector("#view-buckets:not([hidden])")
    yield tab
    context.close()
    assert not errors, errors


def drop(page: Any, files: list[tuple[str, str, bytes]]) -> None:
    """Drop ``files`` (name, type, bytes) on the upload zone, as a drag from the desktop."""
    payload = [{"name": n, "type": t, "b64": base64.b64encode(b).decode()} for n, t, b in files]
    page.evaluate(
        """(files) => {
          const dt = new DataTransfer();
          for (const f of files) {
            const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
            dt.items.add(new File([bytes], f.name, { type: f.type, lastModified: 1 }));
          }
          const zone = document.getElementById("drop");
          zone.dispatchEvent(new DragEvent("dragenter", { dataTransfer: dt, bubbles: true }));
          zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
        }""",
        payload,
    )


def until(page: Any, predicate: str, arg: Any = None, timeout: float = 30) -> Any:
    """Poll ``predicate`` (a function of ``arg``) in the page until it holds. Playwright's
    own wait_for_function evaluates strings, which the console's policy forbids."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(predicate, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {predicate}")
        page.wait_for_timeout(100)


def upload_state(page: Any, key: str) -> Any:
    row = page.locator(f'#upload-list li[data-key="{key}"]')
    until(
        page,
        '(key) => { const li = document.querySelector(`#upload-list li[data-key="${key}"]`);'
        " return li && (li.dataset.state === 'ok' || li.dataset.state === 'error'); }",
        key,
    )
    return row


def open_bucket(page: Any, bucket: str, prefix: str = "") -> None:
    query = f"?prefix={prefix}" if prefix else ""
    page.evaluate(f"window.location.hash = {json.dumps('#/b/' + bucket + query)}")
    page.wait_for_selector("#view-browser:not([hidden])")
    until(page, "() => document.getElementById('status').textContent === ''")


def open_object(page: Any, key: str) -> None:
    page.get_by_role("button", name=f"Open {key}", exact=True).click()
    until(page, "(key) => document.getElementById('detail-key').textContent === key", key)


def shoot(page: Any, name: str, showing: str | None = None) -> None:
    """Screenshots at 1400 and 400 px; with ``showing`` (an element's id), each must show
    that element with something drawn in it (dark pixels where it sits on the page)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1400, 400):
        page.set_viewport_size({"width": width, "height": 900})
        path = ARTIFACTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"console screenshot: {path}")
        if showing is not None:
            box = page.evaluate(
                "(id) => { const r = document.getElementById(id).getBoundingClientRect();"
                " return [r.left + scrollX, r.top + scrollY, r.right + scrollX,"
                " r.bottom + scrollY]; }",
                showing,
            )
            with Image.open(path) as shot:
                region = shot.convert("L").crop(tuple(round(v) for v in box))
                dark = sum(region.histogram()[:100])
            assert region.width > 100 and dark > 200, (path, region.size, dark)
    page.set_viewport_size({"width": 1400, "height": 900})


# Dark pixels of the PDF preview's canvas, in its upper half (the line of text) and its
# lower half (the bar, as wide as 40 pt times the page number).
CANVAS_INK = """() => {
  const c = document.getElementById("pdf-canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const ink = { top: 0, bottom: 0, width: c.width, height: c.height };
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0 && d[i] < 128 && d[i + 1] < 128 && d[i + 2] < 128) {
      if (Math.floor(i / 4 / c.width) < c.height / 2) ink.top++; else ink.bottom++;
    }
  }
  return ink;
}"""


def pdf_drawn(page: Any, number: int) -> dict[str, int]:
    until(
        page,
        "(n) => document.getElementById('pdf-canvas')?.dataset.page === String(n)",
        number,
    )
    ink: dict[str, int] = page.evaluate(CANVAS_INK)
    return ink


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".filter((v) => v.impact === 'serious' || v.impact === 'critical')"
        ".map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target)}))"
    )
    return found


def test_the_page_and_its_modules_are_served_under_a_strict_policy(server: Server) -> None:
    page = httpx.get(f"{server.url}/console")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "img-src 'self' blob:" in policy and "frame-src" not in policy
    assert "<script>" not in page.text
    # The modules are open to anyone (they hold no data), for reading only.
    module = httpx.get(f"{server.url}/console/assets/app.js")
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server.url}/console/assets/nothing.js").status_code == 404
    assert httpx.post(f"{server.url}/console/assets/app.js").status_code == 401
    # Everything else still asks for a key.
    assert httpx.get(f"{server.url}/v1/buckets").status_code == 401


def test_sign_in_keeps_the_key_in_session_storage_only(browser: Any, server: Server) -> None:
    context = browser.new_context()
    tab = context.new_page()
    try:
        tab.goto(f"{server.url}/console?bucket={BUCKET}")
        # Without a key the listing is refused and the page asks for one.
        tab.wait_for_selector("#sign-in:not([hidden])")
        assert "401" in tab.text_content("#status")
        tab.fill("#apikey", server.bearer)
        tab.click("#sign-in-form button[type=submit]")
        tab.wait_for_selector("#view-browser:not([hidden])")
        assert tab.evaluate("sessionStorage.getItem('sangraha.access-key')") == server.bearer
        assert server.bearer not in tab.url
        tab.reload()
        tab.wait_for_selector("#view-browser:not([hidden])")
        assert tab.is_visible("#sign-out")
    finally:
        context.close()


def test_drop_upload_and_preview_of_each_kind(page: Any, server: Server) -> None:
    hostile = '<img src=x onerror="window.pwned=1">.json'
    document = {"title": "Report", "rows": [{"n": i, "ok": i % 2 == 0} for i in range(5)]}
    report = pdf_with_text(["One", "Two", "Three"], title="Quarterly report")
    open_bucket(page, BUCKET)
    page.click("#upload-toggle")
    page.fill("#upload-prefix", "drop/")
    page.click("#upload-meta-add")
    page.fill("#upload-meta-name-0", "team")
    page.fill("#upload-meta-value-0", "blue")
    drop(
        page,
        [
            ("doc.json", "application/json", json.dumps(document).encode()),
            ("photo.png", "image/png", png(32, 24)),
            ("report.pdf", "application/pdf", report),
            (hostile, "application/json", b"{}"),
        ],
    )
    for key in ("drop/doc.json", "drop/photo.png", "drop/report.pdf"):
        row = upload_state(page, key)
        assert "Stored:" in row.text_content(), row.text_content()
    page.click("#browser-refresh")
    page.get_by_role("link", name="drop/").click()
    page.wait_for_selector("#crumbs a[aria-current=page]:text('drop')")

    open_object(page, "drop/doc.json")
    page.wait_for_selector("#preview .tree")
    tree = page.text_content("#preview .tree")
    assert '"Report"' in tree and "rows" in tree
    assert "blue" in page.text_content("#detail-user")
    shoot(page, "preview-json")

    open_object(page, "drop/photo.png")
    until(page, "() => document.getElementById('preview-dims')?.textContent.startsWith('32 x 24')")
    assert page.evaluate("document.querySelector('#preview img').naturalWidth") == 32
    assert page.get_attribute("#preview img", "src").startswith("blob:")
    shoot(page, "preview-image")

    open_object(page, "drop/report.pdf")
    # pdf.js draws the first page on a canvas, beside the facts the worker extracted.
    ink = pdf_drawn(page, 1)
    assert ink["top"] > 200 and ink["bottom"] > 200, ink
    assert page.text_content("#pdf-where") == "Page 1 of 3"
    assert "3 pages" in page.text_content("#preview-pdf")
    assert "Quarterly report" in page.text_content("#preview")
    shoot(page, "preview-pdf", showing="pdf-canvas")

    # A key that looks like markup is shown as text, never parsed.
    assert page.evaluate("window.pwned") is None
    shown = page.locator("#object-rows button.linkish").all_text_contents()
    assert hostile in shown
    assert page.locator("#object-rows img").count() == 0


def test_a_pdf_is_drawn_page_by_page_under_the_policy(page: Any, server: Server) -> None:
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    server.put("pdfs/two.pdf", pdf_with_text(["First page", "Second page"]), "application/pdf")
    server.put("pdfs/one.pdf", pdf_with_text(["Only page"]), "application/pdf")
    open_bucket(page, BUCKET, "pdfs/")
    # Another PDF opened while the first is still loading: that one is drawn, whichever
    # answer comes first (the fixture fails on any page error).
    open_object(page, "pdfs/two.pdf")
    open_object(page, "pdfs/one.pdf")
    pdf_drawn(page, 1)
    assert page.text_content("#pdf-where") == "Page 1 of 1"
    assert page.get_attribute("#pdf-canvas", "aria-label") == "Page 1 of 1 of pdfs/one.pdf"
    assert page.locator("#pdf-error").count() == 0
    open_object(page, "pdfs/two.pdf")
    first = pdf_drawn(page, 1)
    # Helvetica is not embedded and no standard font data is shipped: the text is still drawn.
    assert first["top"] > 200 and first["bottom"] > 200, first
    assert page.text_content("#pdf-where") == "Page 1 of 2"
    assert page.is_disabled("#pdf-prev") and not page.is_disabled("#pdf-next")
    assert page.get_attribute("#pdf-canvas", "aria-label") == "Page 1 of 2 of pdfs/two.pdf"
    assert "2 pages" in page.text_content("#preview-pdf")  # the facts stay beside it
    page.click("#pdf-next")
    second = pdf_drawn(page, 2)
    assert page.text_content("#pdf-where") == "Page 2 of 2"
    assert page.is_disabled("#pdf-next") and not page.is_disabled("#pdf-prev")
    assert second["bottom"] > first["bottom"] * 1.5, (first, second)  # the wider bar
    assert axe_violations(page) == []
    page.click("#pdf-prev")
    assert pdf_drawn(page, 1) == first
    # pdf.js and its worker came from the console's own assets; the key is in no URL.
    assert any(u.endswith("/console/assets/vendor/pdfjs/pdf.worker.min.mjs") for u in requested)
    assert all(u.startswith(server.url) for u in requested), requested
    assert not any(server.bearer in u for u in requested)
    # Nothing was refused by the policy, and pdf.js parsed in its worker: it falls back to
    # parsing on the page ("fake worker") only when the worker cannot start.
    assert not [t for t in logged if "Content Security Policy" in t or "fake worker" in t], logged


def test_a_pdf_that_cannot_be_drawn_says_so(page: Any, server: Server) -> None:
    server.put("pdfs/sealed.pdf", pdf_with_text(["Secret"], password="pw"), "application/pdf")
    stored = server.put("pdfs/mangled.pdf", pdf_with_text(["Fine"]), "application/pdf")
    open_bucket(page, BUCKET, "pdfs/")
    open_object(page, "pdfs/sealed.pdf")
    page.wait_for_selector("#pdf-error")
    assert "password" in page.text_content("#pdf-error")
    assert page.is_hidden("#pdf-canvas")
    assert "Encrypted" in page.text_content("#preview")
    assert axe_violations(page) == []
    # Bytes pdf.js cannot parse (as from a damaged disk): a message, not a blank or a crash.
    page.route(
        f"**/v1/objects/{stored['id']}/content",
        lambda route: route.fulfill(
            status=200, body=b"%PDF-1.7\n1 0 obj garbage", content_type="application/pdf"
        ),
    )
    open_object(page, "pdfs/mangled.pdf")
    page.wait_for_selector("#pdf-error")
    assert "could not be drawn" in page.text_content("#pdf-error")
    assert page.is_hidden("#pdf-canvas")
    assert page.text_content("#preview-pdf")


def test_failed_uploads_say_why(page: Any, server: Server) -> None:
    open_bucket(page, BUCKET)
    page.click("#upload-toggle")
    drop(
        page,
        [
            ("broken.png", "image/png", png_with_bad_crc()),
            ("blob.bin", "application/octet-stream", b"\x00\x01"),
        ],
    )
    broken = upload_state(page, "broken.png")
    assert "Validation failed:" in broken.text_content()
    refused = upload_state(page, "blob.bin")
    assert "415" in refused.text_content()
    # The record says why too.
    page.click("#browser-refresh")
    open_object(page, "broken.png")
    reason = page.text_content("#detail-reason")
    assert reason and reason in broken.text_content()
    assert "nothing to show" in page.text_content("#preview")
    shoot(page, "upload-errors")


def test_big_files_go_through_a_session_and_resume(page: Any, server: Server) -> None:
    size = 9 * MiB
    body = bytes(range(256)) * (size // 256)
    # A session left half done: part 1 is there, as after a closed tab.
    opened = server.http.post(
        f"/v1/buckets/{OPEN_BUCKET}/uploads",
        json={"key": "big.bin", "content_type": "application/octet-stream", "size": size},
    )
    assert opened.status_code == 201, opened.text
    session = opened.json()
    server.http.put(
        f"/v1/uploads/{session['id']}/parts/1", content=body[: 8 * MiB]
    ).raise_for_status()
    resume_id = "|".join([OPEN_BUCKET, "big.bin", "big.bin", str(size), "1"])
    page.evaluate(
        "([id, sid]) => localStorage.setItem('sangraha.uploads', JSON.stringify({[id]: sid}))",
        [resume_id, session["id"]],
    )
    parts: list[str] = []
    page.on("request", lambda r: parts.append(r.url) if "/parts/" in r.url else None)
    open_bucket(page, OPEN_BUCKET)
    page.click("#upload-toggle")
    drop(page, [("big.bin", "application/octet-stream", body)])
    row = upload_state(page, "big.bin")
    assert "Stored:" in row.text_content(), row.text_content()
    assert [url.rsplit("/", 1)[1] for url in parts] == ["2"]  # part 1 was not sent again
    record = server.http.get(f"/v1/buckets/{OPEN_BUCKET}/metadata/big.bin").json()
    assert record["size"] == size and record["status"] == "ready"
    assert page.evaluate("localStorage.getItem('sangraha.uploads')") == "{}"


def test_folders_search_versions_and_delete(page: Any, server: Server) -> None:
    server.put("tree/a.json", b'{"v": 1}', "application/json", team="red")
    server.put("tree/a.json", b'{"v": 2}', "application/json", team="red")
    server.put("tree/sub/b.json", b"{}", "application/json", team="green")
    server.put("tree/c.png", png(), "image/png")
    open_bucket(page, BUCKET, "tree/")
    assert page.locator("#object-rows a.folder").all_text_contents() == ["sub/"]
    names = page.locator("#object-rows button.linkish").all_text_contents()
    assert names == ["a.json", "c.png"]
    page.click("th[data-sort=name] button")  # descending
    assert page.locator("#object-rows button.linkish").all_text_contents() == ["c.png", "a.json"]

    # Search: flat, by kind and user metadata.
    page.select_option("#search-kind", "json")
    page.click("#search-meta-add")
    page.fill("#search-meta-name-0", "team")
    page.fill("#search-meta-value-0", "green")
    page.click("#search button[type=submit]")
    until(page, "() => document.getElementById('search-mode').textContent !== ''")
    until(page, "() => document.querySelectorAll('#object-rows button.linkish').length === 1")
    assert page.locator("#object-rows button.linkish").all_text_contents() == ["tree/sub/b.json"]
    page.click("#search-clear")
    until(page, "() => document.querySelectorAll('#object-rows a.folder').length === 1")

    # Versions: two of a.json; delete the older one.
    open_object(page, "tree/a.json")
    until(page, "() => document.querySelectorAll('#detail-versions li').length === 2")
    page.locator("#detail-versions li").nth(1).get_by_role("button", name="Delete version").click()
    page.click("#confirm-ok")
    until(page, "() => document.querySelectorAll('#detail-versions li').length === 1")
    every = server.http.get(
        f"/v1/buckets/{BUCKET}/objects", params={"prefix": "tree/a.json", "versions": "true"}
    ).json()["items"]
    assert len(every) == 1
    assert every[0]["id"] == page.get_attribute("#detail-versions li", "data-version")

    # Delete the key, after saying no once.
    page.click("#detail-delete")
    page.click("#confirm button[value=cancel]")
    assert server.http.get(f"/v1/buckets/{BUCKET}/metadata/tree/a.json").status_code == 200
    page.click("#detail-delete")
    page.click("#confirm-ok")
    page.wait_for_selector("#detail", state="hidden")
    assert server.http.get(f"/v1/buckets/{BUCKET}/metadata/tree/a.json").status_code == 404
    until(
        page,
        "() => !document.querySelector('#object-rows button[aria-label=\"Open tree/a.json\"]')",
    )


def test_buckets_and_dashboard(page: Any, server: Server) -> None:
    server.put("dash/one.json", b"{}", "application/json")
    bad = server.put("dash/bad.png", png_with_bad_crc(), "image/png")
    assert bad["status"] == "failed"
    page.fill("#bucket-name", "made-here")
    page.select_option("#bucket-kinds", "any")
    page.click("#bucket-create button[type=submit]")
    page.wait_for_selector("#bucket-rows a:text('made-here')")
    made = server.http.get("/v1/buckets/made-here")
    assert made.status_code == 200 and made.json()["kinds"] == "any"
    row = page.locator("#bucket-rows tr", has=page.locator("a:text-is('console')"))
    assert row.locator("td.num").first.text_content() not in ("", "0")

    page.click("#nav-dashboard")
    page.wait_for_selector("#tile-ready")
    page.select_option("#dashboard-bucket", BUCKET)
    page.wait_for_selector("#kind-rows tr[data-kind=json]")
    assert int(page.text_content("#tile-ready .value") or "0") >= 1
    assert page.text_content("#tile-dedup .value") not in ("", "n/a")
    json_count = page.text_content("#kind-rows tr[data-kind=json] td.num")
    assert json_count is not None and int(json_count.rstrip("+")) >= 1
    failure = page.locator("#failures li", has=page.locator("a:text-is('dash/bad.png')"))
    failure.wait_for()
    assert bad["error"] in failure.text_content()
    failure.get_by_role("link").click()
    until(page, "() => document.getElementById('detail-key').textContent === 'dash/bad.png'")
    page.click("#nav-dashboard")
    page.wait_for_selector("#failures li")
    shoot(page, "dashboard")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious(browser: Any, server: Server, scheme: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    tab = context.new_page()
    try:
        server.put("axe/doc.json", b'{"a": [1, 2, {"b": null}]}', "application/json", owner="x")
        server.put("axe/doc.pdf", pdf_with_text(["Page one", "Page two"]), "application/pdf")
        tab.goto(f"{server.url}/console")
        assert axe_violations(tab) == []  # the sign-in form
        tab.fill("#apikey", server.bearer)
        tab.click("#sign-in-form button[type=submit]")
        tab.wait_for_selector("#bucket-rows tr")
        assert axe_violations(tab) == []
        open_bucket(tab, BUCKET, "axe/")
        tab.click("#upload-toggle")
        tab.click("#search-meta-add")
        open_object(tab, "axe/doc.json")
        tab.wait_for_selector("#preview .tree")
        assert axe_violations(tab) == []
        open_object(tab, "axe/doc.pdf")  # the PDF's canvas and its pager
        pdf_drawn(tab, 1)
        assert axe_violations(tab) == []
        open_object(tab, "axe/doc.json")
        tab.wait_for_selector("#preview .tree")
        tab.set_viewport_size({"width": 400, "height": 900})
        assert axe_violations(tab) == []
        tab.click("#nav-dashboard")
        tab.wait_for_selector("#kind-rows tr")
        assert axe_violations(tab) == []
        tab.click("#settings-open")
        assert axe_violations(tab) == []  # the settings dialog
        tab.click("#settings button[value=cancel]")
        tab.click("#nav-buckets")
        tab.get_by_role("button", name=f"Delete bucket {BUCKET}", exact=True).click()
        assert axe_violations(tab) == []  # the confirmation dialog
        tab.click("#confirm button[value=cancel]")
        if scheme == "dark":
            tab.set_viewport_size({"width": 1400, "height": 900})
            shoot(tab, "dashboard-dark")
    finally:
        context.close()


def test_keyboard_alone_reaches_an_object(page: Any, server: Server) -> None:
    server.put("keys/k.json", b'{"k": 1}', "application/json")
    open_bucket(page, BUCKET, "keys/")
    page.focus("#object-rows button.linkish")
    page.keyboard.press("Enter")
    until(page, "() => document.getElementById('detail-key').textContent === 'keys/k.json'")
    page.focus("#detail-delete")
    page.keyboard.press("Enter")
    assert page.evaluate("document.getElementById('confirm').open")
    page.keyboard.press("Escape")
    assert not page.evaluate("document.getElementById('confirm').open")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_an_upload_cut_off_resumes_where_it_stopped(page: Any, server: Server) -> None:
    size = 9 * MiB
    body = bytes(reversed(range(256))) * (size // 256)
    sent: list[str] = []
    cut: list[str] = []

    def part(route: Any) -> None:
        sent.append(route.request.url.rsplit("/", 1)[1])
        if route.request.url.endswith("/parts/2") and not cut:
            cut.append(route.request.url)
            route.abort()  # the network drops mid-upload
        else:
            route.continue_()

    page.route("**/parts/*", part)
    open_bucket(page, OPEN_BUCKET)
    page.click("#upload-toggle")
    drop(page, [("cut.bin", "application/octet-stream", body)])
    row = upload_state(page, "cut.bin")
    assert row.get_attribute("data-state") == "error"
    resume = row.get_by_role("button", name="Resume cut.bin")
    assert resume.is_visible()
    resume.click()
    until(
        page,
        "() => document.querySelector('#upload-list li[data-key=\"cut.bin\"]')"
        ".dataset.state === 'ok'",
    )
    assert sent == ["1", "2", "2"]  # part 1 was kept by the session, not sent again
    record = server.http.get(f"/v1/buckets/{OPEN_BUCKET}/metadata/cut.bin").json()
    assert record["size"] == size and record["status"] == "ready"


def test_pages_theme_and_a_narrow_screen(page: Any, server: Server) -> None:
    for i in range(30):
        server.put(f"paged/k{i:02}.json", b"{}", "application/json")
    open_bucket(page, BUCKET, "paged/")
    page.select_option("#page-size", "25")
    until(page, "() => document.querySelectorAll('#object-rows tr').length === 25")
    page.click("#page-next")
    until(page, "() => document.querySelectorAll('#object-rows tr').length === 5")
    assert page.locator("#object-rows button.linkish").first.text_content() == "k25.json"
    assert page.is_disabled("#page-next")
    page.click("#page-prev")
    until(page, "() => document.querySelectorAll('#object-rows tr').length === 25")
    assert page.is_disabled("#page-prev")

    # The theme button cycles system, light, dark, and the choice outlives a reload.
    page.click("#theme")
    page.click("#theme")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    page.wait_for_selector("#view-browser:not([hidden])")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.click("#theme")  # back to the system's

    # At 400 px nothing runs off the side of the page.
    page.set_viewport_size({"width": 400, "height": 800})
    open_object(page, "paged/k00.json")
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    page.click("#nav-buckets")
    page.wait_for_selector("#bucket-rows tr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    shoot(page, "buckets")


def test_a_bucket_that_holds_objects_is_not_deleted(page: Any, server: Server) -> None:
    server.put("keep/one.json", b"{}", "application/json")
    page.click("#buckets-refresh")
    page.get_by_role("button", name=f"Delete bucket {BUCKET}", exact=True).click()
    page.click("#confirm-ok")
    until(page, "() => document.getElementById('status').textContent.includes('still holds')")
    assert server.http.get(f"/v1/buckets/{BUCKET}").status_code == 200
    # An empty one goes.
    server.http.put("/v1/buckets/empty-one", json={"kinds": "any"}).raise_for_status()
    page.click("#buckets-refresh")
    page.get_by_role("button", name="Delete bucket empty-one", exact=True).click()
    page.click("#confirm-ok")
    until(
        page, "() => document.getElementById('status').textContent === 'Deleted bucket empty-one.'"
    )
    assert server.http.get("/v1/buckets/empty-one").status_code == 404
    assert page.locator("#bucket-rows a:text-is('empty-one')").count() == 0
