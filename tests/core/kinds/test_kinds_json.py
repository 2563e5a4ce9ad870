"""JSON: the JSON test suite decides, file by file; each implementation-defined case is ours."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sangraha_core import InvalidContentError, UnsupportedContentTypeError
from sangraha_core.kinds import MAX_JSON_DEPTH, MAX_JSON_TOKEN, _json, inspect
from sangraha_core.kinds._json_surrogates import Surrogates

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "json-test-suite"
NAMES = sorted(p.name for p in CORPUS.glob("*.json")) if CORPUS.is_dir() else []

# Decisions on the implementation-defined cases; docs/kinds.md gives the reasons.
I_DECISIONS = {
    "i_number_double_huge_neg_exp.json": True,
    "i_number_huge_exp.json": False,  # exponent beyond 10**18: no number type holds it
    "i_number_neg_int_huge_exp.json": True,
    "i_number_pos_double_huge_exp.json": True,
    "i_number_real_neg_overflow.json": True,
    "i_number_real_pos_overflow.json": True,
    "i_number_real_underflow.json": True,
    "i_number_too_big_neg_int.json": True,
    "i_number_too_big_pos_int.json": True,
    "i_number_very_big_negative_int.json": True,
    "i_object_key_lone_2nd_surrogate.json": False,
    "i_string_1st_surrogate_but_2nd_missing.json": False,
    "i_string_1st_valid_surrogate_2nd_invalid.json": False,
    "i_string_UTF-16LE_with_BOM.json": False,
    "i_string_UTF-8_invalid_sequence.json": False,
    "i_string_UTF8_surrogate_U+D800.json": False,
    "i_string_incomplete_surrogate_and_escape_valid.json": False,
    "i_string_incomplete_surrogate_pair.json": False,
    "i_string_incomplete_surrogates_escape_valid.json": False,
    "i_string_invalid_lonely_surrogate.json": False,
    "i_string_invalid_surrogate.json": False,
    "i_string_invalid_utf-8.json": False,
    "i_string_inverted_surrogates_U+1D11E.json": False,
    "i_string_iso_latin_1.json": False,
    "i_string_lone_second_surrogate.json": False,
    "i_string_lone_utf8_continuation_byte.json": False,
    "i_string_not_in_unicode_range.json": False,
    "i_string_overlong_sequence_2_bytes.json": False,
    "i_string_overlong_sequence_6_bytes.json": False,
    "i_string_overlong_sequence_6_bytes_null.json": False,
    "i_string_truncated-utf-8.json": False,
    "i_string_utf16BE_no_BOM.json": False,
    "i_string_utf16LE_no_BOM.json": False,
    "i_structure_500_nested_arrays.json": True,
    "i_structure_UTF-8_BOM_empty_object.json": False,
}


def _accepts(data: bytes) -> bool:
    try:
        inspect("application/json", io.BytesIO(data))
    except InvalidContentError:
        return False
    return True


def _refused(data: bytes) -> str:
    with pytest.raises(InvalidContentError) as info:
        inspect("application/json", io.BytesIO(data))
    return info.value.reason


def test_the_corpus_is_complete(corpus_dir: Path) -> None:
    names = {p.name for p in corpus_dir.glob("*.json")}
    assert sum(n.startswith("y_") for n in names) >= 90
    assert sum(n.startswith("n_") for n in names) >= 180
    assert {n for n in names if n.startswith("i_")} == set(I_DECISIONS)


@pytest.fixture(params=["direct", "events"])
def json_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both validation paths: yajl called directly, and ijson's events
    (the path taken when yajl cannot be loaded, and for extreme numbers)."""
    if request.param == "direct":
        assert _json._YAJL is not None, "the direct yajl path did not load here"
    else:
        monkeypatch.setattr(_json, "_YAJL", None)
    return str(request.param)


@pytest.mark.parametrize("name", NAMES)
def test_corpus_file(corpus_dir: Path, name: str, json_path: str) -> None:
    data = (corpus_dir / name).read_bytes()
    if name.startswith("y_"):
        expected = True
    elif name.startswith("n_"):
        expected = False
    else:
        expected = I_DECISIONS[name]
    assert _accepts(data) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'{"a": 1, "b": [1, 2], "a": 3}',
            {
                "json_type": "object",
                "top_level_keys": ["a", "b", "a"],
                "key_count": 3,
                "max_depth": 2,
            },
        ),
        (b"[1, [2, [3]], {}, null]", {"json_type": "array", "length": 4, "max_depth": 3}),
        (b' "text" ', {"json_type": "string", "max_depth": 0}),
        (b"-1.5e3", {"json_type": "number", "max_depth": 0}),
        (b"true", {"json_type": "boolean", "max_depth": 0}),
        (b"null", {"json_type": "null", "max_depth": 0}),
        (b"[]", {"json_type": "array", "length": 0, "max_depth": 1}),
    ],
)
def test_extracted_shape(data: bytes, expected: dict[str, object]) -> None:
    assert inspect("application/json", io.BytesIO(data)) == expected


def test_only_the_first_keys_are_listed() -> None:
    doc = b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(250)) + b"}"
    result = inspect("application/json", io.BytesIO(doc))
    assert result["key_count"] == 250
    assert result["top_level_keys"] == [f"k{i}" for i in range(100)]


def test_charset_parameter_is_ignored() -> None:
    assert inspect("application/json; charset=utf-8", io.BytesIO(b"{}"))["json_type"] == "object"


def test_unsupported_content_type() -> None:
    with pytest.raises(UnsupportedContentTypeError):
        inspect("text/plain", io.BytesIO(b"{}"))


@pytest.mark.parametrize(
    "data", [b"[NaN]", b"[Infinity]", b"[-Infinity]", b"{}x", b"", b"   ", b"[1,]", b"\x0c[]"]
)
def test_what_python_json_would_accept_or_worse(data: bytes) -> None:
    assert not _accepts(data)


def test_nesting_at_the_limit_is_accepted_and_beyond_it_refused() -> None:
    assert _accepts(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert "nesting deeper" in _refused(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))


def test_hostile_nesting_does_not_crash() -> None:
    assert "nesting deeper" in _refused(b'{"a":' * 200_000 + b"1" + b"}" * 200_000)
    assert not _accepts(b"[" * 1_000_000)


def test_a_token_longer_than_the_limit_is_refused() -> None:
    doc = b'["' + b"a" * (MAX_JSON_TOKEN + 2 * 1024 * 1024) + b'"]'
    assert "single token" in _refused(doc)


def test_escaped_backslash_before_u_is_not_a_surrogate() -> None:
    assert _accepts(b'["\\\\uD800"]')
    assert not _accepts(b'["\\\\\\uD800"]')
    assert _accepts(b'["\\uD834\\uDD1E", "\\ud834\\udd1e"]')


def _lone(data: bytes, split: int) -> bool:
    check = Surrogates()
    try:
        check.feed(data[:split], final=False)
        check.feed(data[split:], final=False)
        check.feed(b"", final=True)
    except InvalidContentError:
        return True
    return False


@pytest.mark.parametrize(
    ("text", "lone"),
    [
        (b'["xx\\uD834\\uDD1Eyy"]', False),
        (b'["xx\\\\\\\\\\uD834\\uDD1Eyy"]', False),
        (b'["xx\\uD834yy\\uDD1E"]', True),
        (b'["xx\\uDD1E\\uD834"]', True),
        (b'["xx\\\\\\uDD1Eyy"]', True),
        (b'["xx\\\\\\\\uDD1Eyy"]', False),
    ],
)
def test_surrogate_pairs_split_across_reads(text: bytes, lone: bool) -> None:
    for split in range(len(text) + 1):
        assert _lone(text, split) is lone, split


def _write_large(path: Path, size: int) -> int:
    record = b'{"id": 123456, "name": "caf\\u00e9 \xc3\xa9", "tags": ["a", "b"], "v": 1.5e3}'
    block = b",".join([record] * 4096)
    written = 0
    with path.open("wb") as out:
        out.write(b'{"items": [')
        while written < size:
            if written:
                out.write(b",")
            out.write(block)
            written += len(block) + 1
        out.write(b'], "count": 1}')
    return written


def test_large_document_streams_in_bounded_memory(tmp_path: Path) -> None:
    # Peak resident memory of a fresh interpreter, so yajl's own buffers count too
    # (tracemalloc sees only Python's allocations, and slows the parse tenfold).
    path = tmp_path / "large.json"
    size = _write_large(path, 50 * 1024 * 1024)
    script = textwrap.dedent(
        """
        import json, resource, sys
        from sangraha_core.kinds import inspect
        with open(sys.argv[1], "rb") as file:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            result = inspect("application/json", file)
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"result": result, "growth": (after - before) * 1024}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, check=True, timeout=120
    )
    report = json.loads(run.stdout)
    assert report["result"] == {
        "json_type": "object",
        "top_level_keys": ["items", "count"],
        "key_count": 2,
        "max_depth": 4,
    }
    assert report["growth"] < 24 * 1024 * 1024, f"grew {report['growth']} for {size} bytes"


def test_a_corrupt_byte_deep_in_a_large_document_is_found(tmp_path: Path) -> None:
    path = tmp_path / "large.json"
    _write_large(path, 3 * 1024 * 1024)
    with path.open("r+b") as file:
        file.seek(2 * 1024 * 1024 + 17)
        file.write(b"\x00")
    with path.open("rb") as file, pytest.raises(InvalidContentError):
        inspect("application/json", file)


def test_numbers_python_cannot_hold_are_refused_without_ijsons_c_backend() -> None:
    # ijson's C backend dies of a segmentation fault on the first of these; a fresh
    # interpreter keeps such a crash from taking the test run with it.
    script = textwrap.dedent(
        """
        import io, json
        from sangraha_core.kinds import inspect
        from sangraha_core import InvalidContentError
        reasons = []
        for doc in (b"[" + b"1" * 4301 + b"~]", b"[" + b"1" * 4301 + b"]",
                    b'{"a": [' + b"9" * 5000 + b', 1]}', b"[1e" + b"9" * 30 + b"]",
                    b'["' + b"1" * 5000 + b'", 1]'):
            try:
                reasons.append(inspect("application/json", io.BytesIO(doc)))
            except InvalidContentError as exc:
                reasons.append(exc.reason)
        print(json.dumps(reasons))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    long_int, long_int_ok, nested, huge_exponent, digits_in_a_string = json.loads(run.stdout)
    assert "4300 digits" in long_int
    assert "4300 digits" in long_int_ok
    assert "4300 digits" in nested
    assert "unrepresentable number" in huge_exponent
    assert digits_in_a_string == {"json_type": "array", "length": 2, "max_depth": 1}
