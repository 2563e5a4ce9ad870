from __future__ import annotations

import json

import pytest

from sangraha_core import DeserializationError, ProcessObject, deserialize, serialize


def test_round_trip_keeps_every_field() -> None:
    msg = ProcessObject.for_object("abc", attempt=3)
    back = deserialize(serialize(msg))
    assert back == msg
    assert back.attempt == 3 and back.job_id == "abc" and back.schema_version == 1


def test_next_attempt_counts_up() -> None:
    msg = ProcessObject.for_object("abc")
    assert msg.next_attempt().attempt == 2
    assert msg.attempt == 1  # frozen: the original is untouched


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"schema_version": 2, "object_id": "x"}).encode(),
        json.dumps({"schema_version": 1}).encode(),
        json.dumps(
            {
                "schema_version": 1,
                "type": "process_object",
                "job_id": "a",
                "object_id": "a",
                "attempt": 1,
                "enqueued_at": "2026-01-01T00:00:00Z",
                "surprise": True,
            }
        ).encode(),
        b"\xff\xfe",
    ],
)
def test_bad_bodies_raise_deserialization_error(body: bytes) -> None:
    with pytest.raises(DeserializationError):
        deserialize(body)
