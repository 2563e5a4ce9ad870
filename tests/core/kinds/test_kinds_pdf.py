"""PDFs: a real parse with pypdf; encrypted files flagged; broken ones refused."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest
from pypdf import PdfWriter

from sangraha_core import InvalidContentError
from sangraha_core.kinds import inspect


def _pdf(
    pages: int = 1,
    *,
    title: str | None = None,
    author: str | None = None,
    user_password: str | None = None,
    attachment: bytes | None = None,
) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    meta = {}
    if title is not None:
        meta["/Title"] = title
    if author is not None:
        meta["/Author"] = author
    if meta:
        writer.add_metadata(meta)
    if attachment is not None:
        writer.add_attachment("payload.bin", attachment)
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _run(data: bytes) -> dict[str, object]:
    return inspect("application/pdf", io.BytesIO(data))


def _refused(data: bytes) -> str:
    with pytest.raises(InvalidContentError) as info:
        _run(data)
    return info.value.reason


def test_plain_pdf_with_title_and_author() -> None:
    result = _run(_pdf(title="Annual report", author="Asha Rao"))
    assert result == {
        "pages": 1,
        "title": "Annual report",
        "author": "Asha Rao",
        "encrypted": False,
        "pdf_version": result["pdf_version"],
    }
    assert isinstance(result["pdf_version"], str)
    assert str(result["pdf_version"]).startswith(("1.", "2."))


def test_missing_info_gives_none() -> None:
    result = _run(_pdf(pages=2))
    assert (result["title"], result["author"], result["pages"]) == (None, None, 2)


def test_page_count_of_a_long_document() -> None:
    assert _run(_pdf(pages=37))["pages"] == 37


def test_encrypted_with_an_empty_user_password_still_counts_pages() -> None:
    result = _run(_pdf(pages=3, title="Sealed", user_password=""))
    assert result["encrypted"] is True
    assert result["pages"] == 3
    assert result["title"] == "Sealed"


def test_encrypted_with_a_password_is_accepted_and_flagged() -> None:
    result = _run(_pdf(pages=3, title="Secret", user_password="hunter2"))
    assert result["encrypted"] is True
    assert result["pages"] is None
    assert result["title"] is None


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.75, 0.98])
def test_truncated_pdf_is_refused(keep: float) -> None:
    data = _pdf(pages=5, title="t")
    assert _refused(data[: int(len(data) * keep)])


def test_garbage_with_a_pdf_header_is_refused() -> None:
    assert _refused(b"%PDF-1.7\n" + os.urandom(4096))


def test_garbage_with_a_pdf_header_and_an_end_marker_is_refused() -> None:
    reason = _refused(b"%PDF-1.7\n" + b"this is not a PDF body\n" * 100 + b"%%EOF\n")
    assert reason


def test_pdf_declared_as_json_is_named() -> None:
    with pytest.raises(InvalidContentError) as info:
        inspect("application/json", io.BytesIO(_pdf()))
    assert info.value.reason == "declared application/json but the bytes are a PDF document"


def test_no_header() -> None:
    assert _refused(b"Hello") == "declared application/pdf but the bytes are not a PDF document"


def test_large_pdf_is_parsed_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    path.write_bytes(_pdf(pages=2, title="big", attachment=os.urandom(40 * 1024 * 1024)))
    assert path.stat().st_size > 40 * 1024 * 1024
    with path.open("rb") as file:
        tracemalloc.start()
        try:
            result = inspect("application/pdf", file)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result["pages"] == 2
    assert result["title"] == "big"
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a 40 MiB file"
