"""Operations of the sync and async clients against an in-memory fake of the API.

Tests that take the ``client`` fixture run once per client; the last one uses the forms
only the async client has.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import pathlib
from collections.abc import AsyncIterator

import httpx
import pytest

from sangraha_client import (
    AsyncClient,
    Client,
    DigestMismatchError,
    NotFoundError,
    ProcessingFailedError,
    WaitTimeoutError,
)
from sangraha_client._headers import quote_key
from tests.client.clients import Clients
from tests.client.fake_sangraha import FakeSangraha

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def fake() -> FakeSangraha:
    return FakeSangraha()


@pytest.fixture
def client(fake: FakeSangraha, clients: Clients) -> Client:
    """Each test that takes it runs twice: with the sync and with the async client."""
    return clients(
        base_url="http://read.test", write_url="http://write.test", transport=fake.transport()
    )


HOSTILE_KEYS = [
    "a/b/c.json",
    "../../etc/passwd",
    "dir/./x",
    "sp ace/q?uery#frag",
    "percent%2Fslash",
    "ünïcødé/文件.json",
    "semi;colon&amp=1+plus",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_reach_the_service_intact(
    fake: FakeSangraha, client: Client, key: str
) -> None:
    client.put_object("docs", key, b"{}")
    sent = fake.requests[-1]
    raw = sent.url.raw_path.decode()
    assert raw.startswith("/v1/buckets/docs/objects/")
    assert "?" not in raw and "#" not in raw
    assert ("docs", key) in fake.objects
    assert client.get_record("docs", key).key == key


def test_quote_key_keeps_slashes_and_escapes_dot_segments() -> None:
    assert quote_key("a/b c/d") == "a/b%20c/d"
    assert quote_key("../x") == "%2E%2E/x"
    assert quote_key("a%2Fb") == "a%252Fb"


def test_put_sends_type_digest_metadata_and_wait(fake: FakeSangraha, client: Client) -> None:
    record = client.put_object("docs", "pic", PNG, metadata={"owner": "ana"}, wait=5)
    sent = fake.requests[-1]
    assert sent.method == "PUT" and sent.url.host == "write.test"
    assert sent.headers["content-type"] == "image/png"
    expected = base64.b64encode(hashlib.sha256(PNG).digest()).decode()
    assert sent.headers["content-digest"] == f"sha-256=:{expected}:"
    assert sent.headers["x-sangraha-meta-owner"] == "ana"
    assert sent.url.params["wait"] == "5"
    assert record.metadata == {"owner": "ana"}


def test_content_type_comes_from_the_file_name_first(
    fake: FakeSangraha, client: Client, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b'{"not": "a pdf"}')
    client.put_object("docs", "k", path)
    assert fake.requests[-1].headers["content-type"] == "application/pdf"
    client.put_object("docs", "k2", io.BytesIO(b'  {"a": 1}'))
    assert fake.requests[-1].headers["content-type"] == "application/json"


def test_a_stream_is_sent_whole_without_a_digest(fake: FakeSangraha, client: Client) -> None:
    client.put_object("docs", "s", iter([b'{"a":', b" 1}"]))
    assert fake.bodies[-1] == b'{"a": 1}'
    assert "content-digest" not in fake.requests[-1].headers
    assert fake.requests[-1].headers["content-type"] == "application/json"


def test_create_object_posts_to_the_bucket(fake: FakeSangraha, client: Client) -> None:
    record = client.create_object("docs", b"[]")
    assert fake.requests[-1].method == "POST"
    assert record.key.startswith("generated-")


def test_reads_go_to_the_read_service(fake: FakeSangraha, client: Client) -> None:
    fake.store("docs", "a.json", b'{"x": 1}')
    assert client.get_object("docs", "a.json") == b'{"x": 1}'
    assert fake.requests[-1].url.host == "read.test"
    head = client.head_object("docs", "a.json")
    assert head.size == 8 and head.digest == "sha256:" + hashlib.sha256(b'{"x": 1}').hexdigest()
    with client.stream_object("docs", "a.json", chunk_size=3) as stream:
        assert stream.content_type == "application/json"
        assert b"".join(stream) == b'{"x": 1}'
    client.delete_object("docs", "a.json")
    assert fake.requests[-1].url.host == "write.test"
    with pytest.raises(NotFoundError):
        client.get_object("docs", "a.json")


def test_api_key_is_sent_as_bearer(fake: FakeSangraha, clients: Clients) -> None:
    c = clients(base_url="http://x.test", api_key="k-123", transport=fake.transport())
    with c, pytest.raises(NotFoundError):
        c.get_record("docs", "nope")
    assert fake.requests[-1].headers["authorization"] == "Bearer k-123"


BOTH = pytest.mark.parametrize("cls", [Client, AsyncClient], ids=["sync", "async"])


@BOTH
def test_config_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, cls: type[Client | AsyncClient]
) -> None:
    monkeypatch.setenv("SANGRAHA_URL", "http://env-read.test/")
    monkeypatch.setenv("SANGRAHA_WRITE_URL", "http://env-write.test")
    monkeypatch.setenv("SANGRAHA_API_KEY", "env-key")
    c = cls()
    assert (c.base_url, c.write_url, c.api_key) == (
        "http://env-read.test",
        "http://env-write.test",
        "env-key",
    )
    assert cls(api_key=None).api_key is None
    explicit = cls(base_url="http://mine.test")
    assert explicit.write_url == "http://mine.test"


@BOTH
def test_config_defaults(monkeypatch: pytest.MonkeyPatch, cls: type[Client | AsyncClient]) -> None:
    for name in ("SANGRAHA_URL", "SANGRAHA_WRITE_URL", "SANGRAHA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    c = cls()
    assert c.base_url == c.write_url == "http://127.0.0.1:8000"
    assert c.api_key is None and c.max_retries == 2


def test_pagination_fetches_every_page(fake: FakeSangraha, client: Client) -> None:
    for i in range(7):
        fake.store("docs", f"k{i}", b"{}", metadata={"team": "a" if i % 2 else "b"})
    fake.store("other", "x", b"{}")
    page = client.list_objects("docs", limit=3)
    assert len(page.items) == 3 and page.has_next_page()
    assert [r.key for r in page] == [f"k{i}" for i in range(7)]
    assert len(list(page.iter_pages())) == 3
    filtered = client.list_objects("docs", metadata={"team": "a"}, prefix="k")
    assert [r.key for r in filtered] == ["k1", "k3", "k5"]
    assert fake.requests[-1].url.params["meta.team"] == "a"


def test_wait_until_ready(fake: FakeSangraha, client: Client) -> None:
    rec = fake.store("docs", "p", b"{}", status="pending")
    polls = 0

    def promote(request: httpx.Request) -> httpx.Response | None:
        nonlocal polls
        polls += 1
        if polls == 3:
            rec["status"] = "ready"
        return None

    fake.intercept = promote
    assert client.wait_until_ready("docs", "p").status == "ready"
    assert polls == 3


def test_wait_until_ready_on_failure_and_timeout(fake: FakeSangraha, client: Client) -> None:
    fake.store("docs", "bad", b"{", status="failed", error="not JSON")
    with pytest.raises(ProcessingFailedError, match="not JSON"):
        client.wait_until_ready("docs", "bad")
    fake.store("docs", "slow", b"{}", status="pending")
    with pytest.raises(WaitTimeoutError):
        client.wait_until_ready("docs", "slow", timeout=0)


def test_download_resumes_and_verifies(
    fake: FakeSangraha, client: Client, tmp_path: pathlib.Path
) -> None:
    data = bytes(range(256)) * 40
    fake.store("docs", "big", data, "application/pdf")
    target = tmp_path / "big.pdf"
    (tmp_path / "big.pdf.part").write_bytes(data[:1000])
    seen: list[tuple[int, int | None]] = []
    client.download_file("docs", "big", target, progress=lambda d, t: seen.append((d, t)))
    assert fake.requests[-1].headers["range"] == "bytes=1000-"
    assert target.read_bytes() == data
    assert not (tmp_path / "big.pdf.part").exists()
    assert seen[-1] == (len(data), len(data))


def test_download_with_a_foreign_partial_fails_and_drops_it(
    fake: FakeSangraha, client: Client, tmp_path: pathlib.Path
) -> None:
    data = b'{"value": "' + b"x" * 100 + b'"}'
    fake.store("docs", "d.json", data)
    target = tmp_path / "d.json"
    partial = tmp_path / "d.json.part"
    partial.write_bytes(b"garbage!")
    with pytest.raises(DigestMismatchError):
        client.download_file("docs", "d.json", target)
    assert not partial.exists() and not target.exists()
    client.download_file("docs", "d.json", target)
    assert target.read_bytes() == data


def test_download_restarts_when_the_partial_is_too_long(
    fake: FakeSangraha, client: Client, tmp_path: pathlib.Path
) -> None:
    fake.store("docs", "s.json", b"{}")
    (tmp_path / "s.json.part").write_bytes(b"{}{}{}")
    client.download_file("docs", "s.json", tmp_path / "s.json")
    assert (tmp_path / "s.json").read_bytes() == b"{}"


def test_async_for_async_with_and_async_chunks(fake: FakeSangraha, tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with AsyncClient(base_url="http://read.test", transport=fake.async_transport()) as c:
            rec = await c.put_object("docs", "a/b.json", b'{"a": 1}', metadata={"m": "1"})
            assert rec.metadata == {"m": "1"}

            async def chunks() -> AsyncIterator[bytes]:
                yield b"[1,"
                yield b"2]"

            await c.put_object("docs", "c.json", chunks())
            assert fake.bodies[-1] == b"[1,2]"
            assert await c.get_object("docs", "a/b.json") == b'{"a": 1}'
            async with c.stream_object("docs", "a/b.json") as stream:
                assert b"".join([chunk async for chunk in stream]) == b'{"a": 1}'
            page = await c.list_objects("docs", limit=1)
            assert [r.key async for r in page] == ["a/b.json", "c.json"]
            await c.download_file("docs", "a/b.json", tmp_path / "out.json")
            assert (tmp_path / "out.json").read_bytes() == b'{"a": 1}'
            assert (await c.wait_until_ready("docs", "a/b.json")).status == "ready"
            await c.delete_object("docs", "c.json")
            with pytest.raises(NotFoundError):
                await c.get_record("docs", "c.json")

    asyncio.run(scenario())
    assert json.loads(fake.bodies[0]) == {"a": 1}


def test_async_for_walks_a_listing_without_await(fake: FakeSangraha) -> None:
    for i in range(5):
        fake.store("docs", f"k{i}", b"{}")

    async def scenario() -> None:
        async with AsyncClient(base_url="http://read.test", transport=fake.async_transport()) as c:
            assert [r.key async for r in c.list_objects("docs", limit=2)] == [
                f"k{i}" for i in range(5)
            ]
            pages = [p async for p in c.list_objects("docs", limit=2).iter_pages()]
            assert [len(p.items) for p in pages] == [2, 2, 1]
            first = await c.list_objects("docs", limit=2)
            assert first.has_next_page() and [r.key for r in first.items] == ["k0", "k1"]

    sent = len(fake.requests)
    listing = AsyncClient(base_url="http://read.test", transport=fake.async_transport())
    listing.list_objects("docs")
    assert len(fake.requests) == sent, "a paginator sends nothing until it is used"
    asyncio.run(scenario())
    assert len(fake.requests) == sent + 3 + 3 + 1


def test_a_failure_within_wait_raises(fake: FakeSangraha, client: Client) -> None:
    fake.failing["bad.json"] = "truncated JSON at byte 9"
    with pytest.raises(ProcessingFailedError) as info:
        client.put_object("docs", "bad.json", b'{"open": ', wait=10)
    assert info.value.reason == "truncated JSON at byte 9"
    assert info.value.record.status == "failed" and info.value.record.key == "bad.json"
    assert "truncated JSON at byte 9" in str(info.value)
    assert fake.requests[-1].url.params["wait"] == "10"
    with pytest.raises(ProcessingFailedError):
        client.put_object("docs", "bad.json", b'{"open": ', wait=0)
    # Without wait the service gives no verdict yet, and none is raised.
    assert client.put_object("docs", "bad.json", b'{"open": ').status == "pending"


def test_a_failure_within_a_completes_wait_raises(fake: FakeSangraha, client: Client) -> None:
    fake.failing["big.json"] = "not JSON"
    session = client.create_upload("docs", "big.json", content_type="application/json")
    client.upload_part(session.id, 1, b'{"open": ')
    with pytest.raises(ProcessingFailedError, match="not JSON") as info:
        client.complete_upload(session.id, wait=5)
    assert info.value.record.status == "failed"
    assert fake.requests[-1].url.params["wait"] == "5"
    other = client.create_upload("docs", "fine.json", content_type="application/json")
    client.upload_part(other.id, 1, b"{}")
    assert client.complete_upload(other.id, wait=5).status == "pending"
