"""Small shared types: the "not given" sentinel, callbacks and typed request parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal, TypedDict, final

import httpx

from sangraha_core import ObjectKind, ObjectStatus

__all__ = [
    "NOT_GIVEN",
    "ListObjectsParams",
    "NotGiven",
    "ProgressCallback",
    "Timeout",
]


@final
class NotGiven:
    """Stands for "use the default", so that ``None`` can keep its own meaning.

    ``Client(api_key=None)`` sends no key even when ``SANGRAHA_API_KEY`` is set;
    leaving ``api_key`` out reads the variable.
    """

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()

#: Seconds, an :class:`httpx.Timeout`, or ``None`` for no limit at all.
Timeout = float | httpx.Timeout | None

#: Called with the bytes moved so far and the total (``None`` when it is not known).
ProgressCallback = Callable[[int, "int | None"], None]


class ListObjectsParams(TypedDict, total=False):
    """Filters of :meth:`Client.list_objects`; every one is optional."""

    prefix: str
    """Only keys that start with this text."""
    kind: ObjectKind | Literal["json", "image", "pdf", "opaque"]
    """Only objects of this kind."""
    status: ObjectStatus | Literal["pending", "ready", "failed"]
    """Only objects in this processing state."""
    metadata: Mapping[str, str]
    """Only objects whose user metadata holds every one of these name/value pairs."""
    limit: int
    """How many records each page holds (the service caps it)."""
