"""The versioned job contract that travels through the queue: references only, never bytes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ._exceptions import DeserializationError, SerializationError
from ._models import utcnow

__all__ = ["ProcessObject", "deserialize", "serialize"]


class ProcessObject(BaseModel):
    """Ask a worker to validate, extract and file one staged object version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    type: Literal["process_object"] = "process_object"
    job_id: str
    """Deduplication key for publishing; the object id for uploads."""
    object_id: str
    attempt: int = 1
    """Tries so far that counted against ``max_attempts``: backend outages do not count."""
    enqueued_at: datetime

    @classmethod
    def for_object(cls, object_id: str, *, attempt: int = 1) -> ProcessObject:
        return cls(job_id=object_id, object_id=object_id, attempt=attempt, enqueued_at=utcnow())

    def next_attempt(self, *, counted: bool = True) -> ProcessObject:
        """The message to send for the next try; ``counted=False`` keeps the attempt number
        (a try a backend outage stopped spends none of the attempt budget)."""
        attempt = self.attempt + 1 if counted else self.attempt
        return self.model_copy(update={"attempt": attempt, "enqueued_at": utcnow()})


def serialize(message: ProcessObject) -> bytes:
    try:
        return message.model_dump_json().encode("utf-8")
    except (ValueError, TypeError) as exc:  # pragma: no cover - models are always dumpable
        raise SerializationError(str(exc)) from exc


def deserialize(body: bytes) -> ProcessObject:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeserializationError(f"message body is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("schema_version") != 1:
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        raise DeserializationError(f"unsupported message schema_version: {version!r}")
    try:
        return ProcessObject.model_validate(raw)
    except ValidationError as exc:
        raise DeserializationError(f"malformed ProcessObject message: {exc}") from exc
