"""User metadata in headers: one encoding (RFC 8187 ``UTF-8''...``) both ways."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sangraha_client import Client
from sangraha_core import InvalidMetadataError, decode_header_value, encode_header_value

TITLE = "Grüße 文件"
ENCODED = "UTF-8''Gr%C3%BC%C3%9Fe%20%E6%96%87%E4%BB%B6"


@given(st.text())
def test_decode_inverts_encode(value: str) -> None:
    assert decode_header_value(encode_header_value(value)) == value


def test_plain_values_pass_unchanged_both_ways() -> None:
    assert encode_header_value("ascii text") == "ascii text"
    assert decode_header_value("ascii text") == "ascii text"
    assert encode_header_value(TITLE) == ENCODED
    assert decode_header_value(ENCODED) == TITLE
    # Raw UTF-8 sent by hand is taken as it is.
    assert decode_header_value(TITLE) == TITLE


@pytest.mark.parametrize(
    "value",
    ["UTF-8''%zz", "UTF-8''%4", "UTF-8''a b", "UTF-8''%E6%96", "UTF-8''caf\u00e9", "UTF-8''%FF"],
)
def test_malformed_encoded_values_are_refused(value: str) -> None:
    with pytest.raises(InvalidMetadataError):
        decode_header_value(value)


def test_client_sends_encoded_values_and_decodes_them_on_head() -> None:
    sent: list[httpx.Request] = []
    record = {
        "id": "0" * 32,
        "bucket": "docs",
        "key": "a.json",
        "status": "pending",
        "kind": "json",
        "content_type": "application/json",
        "size": 2,
        "digest": "sha256:" + "a" * 64,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "metadata": {"title": TITLE},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "HEAD":
            return httpx.Response(
                200,
                headers={
                    "ETag": f'"sha256:{"a" * 64}"',
                    "Content-Length": "2",
                    "X-Sangraha-Meta-Title": ENCODED,
                    "X-Sangraha-Meta-Team": "ops",
                    "X-Sangraha-Meta-Odd": "UTF-8''%zz",
                },
            )
        return httpx.Response(202, json=record)

    with Client(base_url="http://x.test", transport=httpx.MockTransport(handler)) as client:
        client.put_object("docs", "a.json", b"[]", metadata={"title": TITLE, "team": "ops"})
        head = client.head_object("docs", "a.json")
    assert sent[0].headers["x-sangraha-meta-title"] == ENCODED
    assert sent[0].headers["x-sangraha-meta-team"] == "ops"
    assert head.metadata == {"title": TITLE, "team": "ops", "odd": "UTF-8''%zz"}
