"""Chunked upload sessions: parts in any order, resent parts, resume, complete, abort."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from sangraha_core import Backends, Digest, ObjectStatus, QueueUnavailableError, staging_key
from tests.receiver._support import assert_problem, content_digest, drain, staged_bytes

pytestmark = pytest.mark.anyio

PART = 5 * 1024 * 1024  # the S3 minimum for every part but the last


def _body(size: int) -> bytes:
    # JSON so the worker could accept it; random digits so parts differ.
    digits = os.urandom(size // 2).hex()[: size - 2]
    return b"[" + digits.encode() + b"]"


async def _open(
    client: httpx.AsyncClient, bucket: str, key: str, data: bytes, **extra: object
) -> dict[str, object]:
    response = await client.post(
        f"/v1/buckets/{bucket}/uploads",
        json={
            "key": key,
            "content_type": "application/json",
            "size": len(data),
            "digest": str(Digest.of(data)),
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    session: dict[str, object] = response.json()
    assert response.headers["location"] == f"/v1/uploads/{session['id']}"
    return session


async def test_parts_in_any_order_assemble_the_exact_object(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    data = _body(2 * PART + 1234)
    session = await _open(client, bucket, "big/file.json", data, metadata={"team": "red"})
    assert session["min_part_size"] == PART and session["status"] == "open"
    assert "multipart_id" not in session
    pieces = [data[i : i + PART] for i in range(0, len(data), PART)]
    for number in (3, 1, 2):
        response = await client.put(
            f"/v1/uploads/{session['id']}/parts/{number}", content=pieces[number - 1]
        )
        assert response.status_code == 200, response.text
        part = response.json()
        assert part["number"] == number
        assert part["digest"] == str(Digest.of(pieces[number - 1]))
    # A resent part with the same bytes changes nothing.
    again = await client.put(f"/v1/uploads/{session['id']}/parts/2", content=pieces[1])
    assert again.json()["digest"] == str(Digest.of(pieces[1]))

    listed = (await client.get(f"/v1/uploads/{session['id']}")).json()
    assert [p["number"] for p in listed["parts"]] == [1, 2, 3]

    done = await client.post(f"/v1/uploads/{session['id']}/complete")
    assert done.status_code == 202, done.text
    record = done.json()
    assert record["id"] == session["id"] and record["key"] == "big/file.json"
    assert record["size"] == len(data) and record["status"] == ObjectStatus.PENDING
    assert record["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert record["metadata"] == {"team": "red"}
    assert staged_bytes(backends, record["id"]) == data
    assert [m.object_id for m in drain(backends)] == [record["id"]]
    # Completing again answers the same record and queues nothing new.
    repeat = await client.post(f"/v1/uploads/{session['id']}/complete")
    assert repeat.status_code == 202 and repeat.json()["id"] == record["id"]
    assert drain(backends, timeout=0.3) == []


async def test_a_resent_part_with_other_bytes_replaces_it(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    data = _body(PART + 10)
    session = await _open(client, bucket, "r.json", data)
    sid = session["id"]
    await client.put(f"/v1/uploads/{sid}/parts/1", content=b"x" * PART)  # wrong bytes first
    await client.put(f"/v1/uploads/{sid}/parts/1", content=data[:PART])
    await client.put(f"/v1/uploads/{sid}/parts/2", content=data[PART:])
    done = await client.post(f"/v1/uploads/{sid}/complete")
    assert done.status_code == 202, done.text
    assert staged_bytes(backends, sid) == data  # type: ignore[arg-type]


async def test_complete_refuses_gaps_small_parts_and_wrong_digests(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    data = _body(2 * PART + 5)
    session = await _open(client, bucket, "g.json", data)
    sid = session["id"]
    await client.put(f"/v1/uploads/{sid}/parts/1", content=data[:PART])
    await client.put(f"/v1/uploads/{sid}/parts/3", content=data[2 * PART :])
    assert_problem(await client.post(f"/v1/uploads/{sid}/complete"), 409, "upload-state")

    small = await _open(client, bucket, "s.json", b"[1]" * 10, size=None, digest=None)
    await client.put(f"/v1/uploads/{small['id']}/parts/1", content=b"[1")
    await client.put(f"/v1/uploads/{small['id']}/parts/2", content=b"]")
    assert_problem(await client.post(f"/v1/uploads/{small['id']}/complete"), 400, "invalid-part")

    liar = await _open(client, bucket, "d.json", data, digest=str(Digest.of(b"other")))
    for n, start in ((1, 0), (2, PART), (3, 2 * PART)):
        await client.put(f"/v1/uploads/{liar['id']}/parts/{n}", content=data[start : start + PART])
    assert_problem(
        await client.post(f"/v1/uploads/{liar['id']}/complete"), 400, "checksum-mismatch"
    )
    assert not backends.blobs.exists(staging_key(str(liar["id"])))
    assert drain(backends, timeout=0.3) == []


async def test_a_digest_may_be_declared_at_complete_instead(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    data = _body(PART + 7)

    async def upload(key: str, **declared: object) -> str:
        session = await _open(client, bucket, key, data, **declared)
        sid = str(session["id"])
        await client.put(f"/v1/uploads/{sid}/parts/1", content=data[:PART])
        await client.put(f"/v1/uploads/{sid}/parts/2", content=data[PART:])
        return sid

    sid = await upload("late.json", digest=None)
    wrong = {"digest": str(Digest.of(b"other"))}
    response = await client.post(f"/v1/uploads/{sid}/complete", json=wrong)
    assert_problem(response, 400, "checksum-mismatch")
    assert not backends.blobs.exists(staging_key(sid))

    # Declared at both ends, the two must agree with each other and with the bytes.
    sid = await upload("both.json")
    response = await client.post(f"/v1/uploads/{sid}/complete", json=wrong)
    assert_problem(response, 400, "checksum-mismatch")

    sid = await upload("right.json", digest=None)
    right = {"digest": str(Digest.of(data))}
    response = await client.post(f"/v1/uploads/{sid}/complete", json=right)
    assert response.status_code == 202, response.text
    assert response.json()["digest"] == right["digest"]
    assert staged_bytes(backends, sid) == data

    sid = await upload("typo.json", digest=None)
    response = await client.post(f"/v1/uploads/{sid}/complete", json={"digest": "sha256:zz"})
    assert "digest" in str(assert_problem(response, 400, "invalid-request")["detail"])


async def test_part_checksum_and_bounds(client: httpx.AsyncClient, bucket: str) -> None:
    session = await _open(client, bucket, "c.json", b"[]", size=2)
    sid = session["id"]
    bad = await client.put(
        f"/v1/uploads/{sid}/parts/1",
        content=b"[]",
        headers={"Content-Digest": content_digest(b"other")},
    )
    assert_problem(bad, 400, "checksum-mismatch")
    assert (await client.get(f"/v1/uploads/{sid}")).json()["parts"] == []
    assert (await client.put(f"/v1/uploads/{sid}/parts/0", content=b"x")).status_code == 400
    assert (await client.put(f"/v1/uploads/{sid}/parts/10001", content=b"x")).status_code == 400
    assert_problem(
        await client.put("/v1/uploads/nope/parts/1", content=b"x"), 404, "upload-not-found"
    )


async def test_a_resent_part_with_the_wrong_bytes_leaves_the_part_before(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    data = _body(PART + 10)
    sid = (await _open(client, bucket, "resent.json", data))["id"]
    first, second = data[:PART], data[PART:]
    for number, piece in ((1, first), (2, second)):
        response = await client.put(f"/v1/uploads/{sid}/parts/{number}", content=piece)
        assert response.status_code == 200
    # Damaged on the way: the declared digest is the part's, the bytes are not.
    damaged = await client.put(
        f"/v1/uploads/{sid}/parts/1",
        content=b"x" * PART,
        headers={"Content-Digest": content_digest(first)},
    )
    assert_problem(damaged, 400, "checksum-mismatch")
    done = await client.post(f"/v1/uploads/{sid}/complete")
    assert done.status_code == 202, done.text
    assert done.json()["digest"] == str(Digest.of(data))
    assert staged_bytes(backends, str(sid)) == data


async def test_abort_drops_the_session(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    session = await _open(client, bucket, "a.json", b"[]", size=2)
    sid = session["id"]
    await client.put(f"/v1/uploads/{sid}/parts/1", content=b"[]")
    assert (await client.delete(f"/v1/uploads/{sid}")).status_code == 204
    assert_problem(await client.get(f"/v1/uploads/{sid}"), 404, "upload-not-found")
    assert_problem(await client.post(f"/v1/uploads/{sid}/complete"), 404, "upload-not-found")


async def test_open_validates_like_a_put(client: httpx.AsyncClient, bucket: str) -> None:
    bad_key = await client.post(
        f"/v1/buckets/{bucket}/uploads", json={"key": "../x", "content_type": "application/json"}
    )
    assert_problem(bad_key, 400, "invalid-name")
    bad_type = await client.post(
        f"/v1/buckets/{bucket}/uploads", json={"key": "x", "content_type": "text/plain"}
    )
    assert_problem(bad_type, 415, "unsupported-content-type")
    bad_body = await client.post(f"/v1/buckets/{bucket}/uploads", json={"content_type": 3})
    assert_problem(bad_body, 400, "invalid-request")


async def test_complete_after_a_broker_outage_can_be_repeated(
    client: httpx.AsyncClient, backends: Backends, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 from ``complete`` (parts joined, job not queued) is answered by repeating it."""
    data = _body(PART + 100)
    session = await _open(client, bucket, "again.json", data)
    sid = session["id"]
    await client.put(f"/v1/uploads/{sid}/parts/1", content=data[:PART])
    await client.put(f"/v1/uploads/{sid}/parts/2", content=data[PART:])

    publish = backends.queue.publish

    def down(message: object) -> None:
        raise QueueUnavailableError("the broker is down")

    monkeypatch.setattr(backends.queue, "publish", down)
    assert_problem(await client.post(f"/v1/uploads/{sid}/complete"), 503, "unavailable")
    monkeypatch.setattr(backends.queue, "publish", publish)

    done = await client.post(f"/v1/uploads/{sid}/complete")
    assert done.status_code == 202, done.text
    assert done.json()["digest"] == str(Digest.of(data))
    assert staged_bytes(backends, str(sid)) == data
    assert [m.object_id for m in drain(backends)] == [sid]
