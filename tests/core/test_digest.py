from __future__ import annotations

import hashlib

import pytest
from pydantic import BaseModel, ValidationError

from sangraha_core import (
    ChecksumMismatchError,
    Digest,
    DigestedStream,
    Hasher,
    ObjectTooLargeError,
    blob_key,
)

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_digest_of_bytes_matches_hashlib() -> None:
    assert Digest.of(b"") == EMPTY
    assert Digest.of(b"abc").hex == hashlib.sha256(b"abc").hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256:",
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,
        "sha512:" + "a" * 64,
        "a" * 64,
        "sha256:" + "g" * 64,
        "sha256:" + "a" * 64 + "\n",
    ],
)
def test_digest_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        Digest(bad)


def test_base64_round_trip() -> None:
    d = Digest.of(b"hello")
    assert Digest.from_base64(d.to_base64()) == d
    with pytest.raises(ValueError):
        Digest.from_base64("not base64!")
    with pytest.raises(ValueError):
        Digest.from_base64("AAAA")  # three bytes, not 32


def test_hasher_streams_and_counts() -> None:
    h = Hasher()
    for chunk in (b"ab", b"", b"c"):
        h.update(chunk)
    assert h.size == 3
    assert h.digest() == Digest.of(b"abc")


def test_a_digested_stream_passes_its_chunks_through_and_knows_their_digest() -> None:
    stream = DigestedStream(iter([b"ab", b"", b"c"]), expected=Digest.of(b"abc"))
    assert list(stream) == [b"ab", b"c"]
    assert (stream.digest(), stream.size) == (Digest.of(b"abc"), 3)


def test_a_digested_stream_refuses_itself_past_its_limit() -> None:
    stream = DigestedStream([b"ab", b"cd"], limit=3, what="part 2")
    assert next(stream) == b"ab"
    with pytest.raises(ObjectTooLargeError, match="part 2 may be at most 3 bytes"):
        next(stream)


def test_a_digested_stream_unlike_its_declared_digest_fails_only_at_its_end() -> None:
    stream = DigestedStream([b"ab", b"cd"], expected=Digest.of(b"abce"))
    # Every byte is handed on first: only the end can tell.
    assert [next(stream), next(stream)] == [b"ab", b"cd"]
    with pytest.raises(ChecksumMismatchError, match="the body's digest is") as caught:
        next(stream)
    assert (caught.value.expected, caught.value.actual) == (Digest.of(b"abce"), Digest.of(b"abcd"))


def test_blob_key_fans_out_by_prefix() -> None:
    d = Digest(EMPTY)
    assert blob_key(d) == "blobs/sha256/e3/b0/" + d.hex


def test_digest_in_a_model_validates_and_serialises_as_text() -> None:
    class M(BaseModel):
        digest: Digest

    m = M.model_validate({"digest": EMPTY})
    assert isinstance(m.digest, Digest)
    assert m.model_dump(mode="json") == {"digest": EMPTY}
    with pytest.raises(ValidationError):
        M.model_validate({"digest": "sha256:xyz"})
