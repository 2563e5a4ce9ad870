"""The S3 checksum algorithms against their published check values and botocore's own, and
what a request's checksum headers make the gateway expect and refuse."""

from __future__ import annotations

import base64
import hashlib
import itertools

import pytest
from botocore import httpchecksum
from hypothesis import given
from hypothesis import strategies as st

from sangraha_core import ChecksumMismatchError, Digest
from sangraha_gateway._checksums import ALGORITHMS, BodyChecksums, new_hasher
from sangraha_gateway._errors import S3Error

# The check value of each CRC (the digest of b"123456789"), as the CRC catalogues list them.
CHECK_VALUES = {
    "crc32": "cbf43926",
    "crc32c": "e3069283",
    "crc64nvme": "ae8b14860a799888",
    "sha1": "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
    "sha256": "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
}
# botocore's implementation of each, which S3 clients compute the values they send with.
BOTOCORE = {
    "crc32": httpchecksum.Crc32Checksum,
    "crc32c": httpchecksum.CrtCrc32cChecksum,
    "crc64nvme": httpchecksum.CrtCrc64NvmeChecksum,
    "sha1": httpchecksum.Sha1Checksum,
    "sha256": httpchecksum.Sha256Checksum,
}
DATA = b"the quick brown fox jumps over the lazy dog\n" * 100


def b64(algorithm: str, data: bytes) -> str:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return base64.b64encode(hasher.digest()).decode()


def code_of(
    headers: dict[str, str], data: bytes = DATA, trailers: dict[str, str] | None = None
) -> str:
    with pytest.raises(S3Error) as caught:
        checks = BodyChecksums(headers)
        checks.update(data)
        checks.verify(trailers)
    return caught.value.code


@pytest.mark.parametrize("algorithm", sorted(CHECK_VALUES))
def test_each_algorithm_gives_its_check_value(algorithm: str) -> None:
    hasher = new_hasher(algorithm)
    hasher.update(b"123456789")
    assert hasher.digest().hex() == CHECK_VALUES[algorithm]


def test_every_algorithm_has_a_check_value() -> None:
    assert set(ALGORITHMS) == set(CHECK_VALUES)


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_hashing_in_pieces_is_hashing_at_once_and_agrees_with_botocore(
    data: bytes, cuts: list[int]
) -> None:
    bounds = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    for algorithm, botocore_class in BOTOCORE.items():
        hasher = new_hasher(algorithm)
        for start, end in itertools.pairwise(bounds):
            hasher.update(data[start:end])
        theirs = botocore_class()
        theirs.update(data)
        assert hasher.digest() == theirs.digest(), algorithm


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_checksum_header_is_verified_and_echoed(algorithm: str) -> None:
    name = f"x-amz-checksum-{algorithm}"
    checks = BodyChecksums({name: b64(algorithm, DATA)})
    checks.update(DATA[:10])
    checks.update(DATA[10:])
    checks.verify()
    assert checks.response_headers == {name: b64(algorithm, DATA)}
    assert checks.md5_hex == hashlib.md5(DATA).hexdigest()
    assert code_of({name: b64(algorithm, DATA + b"!")}) == "BadDigest"


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_checksum_trailer_is_verified_and_echoed(algorithm: str) -> None:
    name = f"x-amz-checksum-{algorithm}"
    checks = BodyChecksums({"x-amz-trailer": name, "x-amz-sdk-checksum-algorithm": algorithm})
    assert checks.trailer == name and checks.algorithm == algorithm
    checks.update(DATA)
    checks.verify({name: b64(algorithm, DATA)})
    assert checks.response_headers == {name: b64(algorithm, DATA)}
    trailer = {name: b64(algorithm, DATA[1:])}
    assert code_of({"x-amz-trailer": name}, trailers=trailer) == "BadDigest"
    assert code_of({"x-amz-trailer": name}) == "IncompleteBody"


def test_content_md5_is_verified() -> None:
    good = base64.b64encode(hashlib.md5(DATA).digest()).decode()
    checks = BodyChecksums({"content-md5": good})
    checks.update(DATA)
    checks.verify()
    assert checks.md5_hex == hashlib.md5(DATA).hexdigest()
    assert checks.response_headers == {}
    assert code_of({"content-md5": good}, DATA + b"x") == "BadDigest"


@pytest.mark.parametrize(
    "headers",
    [
        {"content-md5": "not base64!"},
        {"content-md5": base64.b64encode(b"short").decode()},
        {"x-amz-checksum-crc32": "AAAA"},
        {"x-amz-checksum-crc32": "%%%%%%%%"},
        {"x-amz-checksum-sha256": base64.b64encode(b"x" * 31).decode()},
        {"x-amz-checksum-crc64nvme": base64.b64encode(b"x" * 4).decode()},
    ],
)
def test_a_value_that_is_no_digest_is_an_invalid_digest(headers: dict[str, str]) -> None:
    assert code_of(headers) == "InvalidDigest"


def test_a_malformed_trailer_value_is_an_invalid_digest() -> None:
    assert code_of(
        {"x-amz-trailer": "x-amz-checksum-crc32"}, trailers={"x-amz-checksum-crc32": "?"}
    ) == ("InvalidDigest")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-checksum-md4": "AAAAAA=="},
        {"x-amz-checksum-crc32": b64("crc32", DATA), "x-amz-checksum-sha1": b64("sha1", DATA)},
        {"x-amz-checksum-crc32": b64("crc32", DATA), "x-amz-trailer": "x-amz-checksum-crc32"},
        {"x-amz-trailer": "x-amz-checksum-crc32,x-amz-checksum-sha1"},
        {"x-amz-trailer": "x-amz-meta-late"},
        {"x-amz-trailer": "x-amz-checksum-whirlpool"},
        {"x-amz-sdk-checksum-algorithm": "MD4"},
        {"x-amz-sdk-checksum-algorithm": "SHA1", "x-amz-checksum-crc32": b64("crc32", DATA)},
    ],
)
def test_an_unknown_algorithm_or_a_second_checksum_is_an_invalid_request(
    headers: dict[str, str],
) -> None:
    assert code_of(headers) == "InvalidRequest"


def test_headers_about_checksums_that_are_none_are_left_alone() -> None:
    checks = BodyChecksums(
        {
            "x-amz-checksum-type": "FULL_OBJECT",
            "x-amz-checksum-algorithm": "CRC32",
            "x-amz-checksum-mode": "ENABLED",
        }
    )
    checks.update(DATA)
    checks.verify()
    assert checks.algorithm is None and checks.response_headers == {}


def test_the_sdk_algorithm_alone_computes_and_echoes_it() -> None:
    checks = BodyChecksums({"x-amz-sdk-checksum-algorithm": "CRC32C"})
    checks.update(DATA)
    checks.verify()
    assert checks.response_headers == {"x-amz-checksum-crc32c": b64("crc32c", DATA)}


def test_the_signed_sha256_is_verified() -> None:
    digest = hashlib.sha256(DATA).hexdigest()
    checks = BodyChecksums({"x-amz-content-sha256": digest})
    checks.update(DATA)
    checks.verify()
    assert code_of({"x-amz-content-sha256": digest}, DATA[:-1]) == "XAmzContentSHA256Mismatch"
    both = {"x-amz-content-sha256": digest, "x-amz-checksum-sha256": b64("sha256", DATA)}
    checks = BodyChecksums(both)
    checks.update(DATA)
    checks.verify()
    assert code_of(both, DATA[:-1]) == "XAmzContentSHA256Mismatch"


@pytest.mark.parametrize("value", ["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"])
def test_no_body_hash_is_checked_when_none_is_signed(value: str) -> None:
    checks = BodyChecksums({"x-amz-content-sha256": value})
    checks.update(DATA)
    checks.verify()


@pytest.mark.parametrize(
    "value", ["not-a-hash", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"]
)
def test_an_x_amz_content_sha256_of_no_known_form_is_an_invalid_argument(value: str) -> None:
    assert code_of({"x-amz-content-sha256": value}) == "InvalidArgument"


def test_results_are_there_only_after_verification() -> None:
    checks = BodyChecksums({})
    checks.update(DATA)
    with pytest.raises(RuntimeError):
        _ = checks.md5_hex
    with pytest.raises(RuntimeError):
        _ = checks.response_headers
    checks.verify()
    assert checks.md5_hex == hashlib.md5(DATA).hexdigest()


# -- store_checks: the MD5 and SHA-256 left to the store ------------------------------------


def stored(headers: dict[str, str], data: bytes = DATA) -> BodyChecksums:
    checks = BodyChecksums(headers, store_checks=True)
    checks.update(data)
    checks.verify()
    return checks


def refusal(checks: BodyChecksums, expected: str, actual: str) -> str:
    """The code the gateway answers when the store finds ``actual`` for ``expected``."""
    error = ChecksumMismatchError("unlike what was declared", expected=expected, actual=actual)
    return checks.mismatch(error).code


def test_with_store_checks_wrong_md5_and_sha256_pass_here_and_are_declared() -> None:
    md5 = hashlib.md5(b"other").digest()
    sha256 = hashlib.sha256(b"other").hexdigest()
    checks = stored({"content-md5": base64.b64encode(md5).decode(), "x-amz-content-sha256": sha256})
    assert checks.declared_md5 == md5.hex()
    assert checks.declared_digest == Digest.from_hex(sha256)
    assert checks.response_headers == {}
    with pytest.raises(RuntimeError):
        _ = checks.md5_hex


def test_without_store_checks_nothing_is_declared() -> None:
    sha256 = hashlib.sha256(DATA).hexdigest()
    md5 = base64.b64encode(hashlib.md5(DATA).digest()).decode()
    checks = BodyChecksums({"content-md5": md5, "x-amz-content-sha256": sha256})
    assert checks.declared_md5 is None and checks.declared_digest is None


def test_an_x_amz_checksum_sha256_header_becomes_the_declared_digest() -> None:
    value = b64("sha256", b"other")
    checks = stored({"x-amz-checksum-sha256": value})
    assert checks.declared_digest == Digest.from_base64(value)
    # Echoed as S3 does, once the store has found the bytes match it.
    assert checks.response_headers == {"x-amz-checksum-sha256": value}


def test_a_sha256_trailer_is_still_checked_here() -> None:
    name = "x-amz-checksum-sha256"
    checks = BodyChecksums({"x-amz-trailer": name}, store_checks=True)
    checks.update(DATA)
    with pytest.raises(S3Error) as caught:
        checks.verify({name: b64("sha256", b"other")})
    assert caught.value.code == "BadDigest"
    assert checks.declared_digest is None


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "crc64nvme", "sha1"])
def test_other_checksums_are_still_checked_here(algorithm: str) -> None:
    name = f"x-amz-checksum-{algorithm}"
    with pytest.raises(S3Error) as caught:
        stored({name: b64(algorithm, b"other")})
    assert caught.value.code == "BadDigest"
    assert stored({name: b64(algorithm, DATA)}).response_headers == {name: b64(algorithm, DATA)}


def test_a_sha256_header_unlike_the_signed_one_is_checked_here() -> None:
    signed = hashlib.sha256(DATA).hexdigest()
    checks = stored({"x-amz-content-sha256": signed, "x-amz-checksum-sha256": b64("sha256", DATA)})
    assert checks.declared_digest == Digest.from_hex(signed)
    headers = {"x-amz-content-sha256": signed, "x-amz-checksum-sha256": b64("sha256", b"other")}
    with pytest.raises(S3Error) as caught:
        stored(headers)
    assert caught.value.code == "BadDigest"


def test_the_stores_refusal_gets_the_code_of_what_was_declared() -> None:
    md5 = hashlib.md5(b"other").digest()
    content_md5 = {"content-md5": base64.b64encode(md5).decode()}
    assert refusal(stored(content_md5), md5.hex(), hashlib.md5(DATA).hexdigest()) == "BadDigest"
    signed = {"x-amz-content-sha256": hashlib.sha256(b"other").hexdigest()}
    expected = str(Digest.of(b"other"))
    actual = str(Digest.of(DATA))
    assert refusal(stored(signed), expected, actual) == "XAmzContentSHA256Mismatch"
    both = {**content_md5, **signed}
    assert refusal(stored(both), expected, actual) == "XAmzContentSHA256Mismatch"
    assert refusal(stored(both), md5.hex(), hashlib.md5(DATA).hexdigest()) == "BadDigest"
    header = {"x-amz-checksum-sha256": b64("sha256", b"other")}
    assert refusal(stored(header), expected, actual) == "BadDigest"
    same = {**signed, "x-amz-checksum-sha256": b64("sha256", b"other")}
    assert refusal(stored(same), expected, actual) == "XAmzContentSHA256Mismatch"
