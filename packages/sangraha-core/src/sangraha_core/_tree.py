"""Listings rolled up at a delimiter, as S3's ListObjects gives them: keys and common prefixes.

Every key under a common prefix counts as that one prefix, so a walk that read each of those
keys would cost the size of the folder for one entry. :func:`list_tree` reads a key under a
prefix once, then seeks past everything that starts with it in one query.

The seek rests on the order listings use (UTF-8 byte-wise, which for text that encodes is
code point order) and on the key rules: ``validate_key`` refuses unassigned code points, so
no key holds U+10FFFF, a noncharacter. Every key starting with a prefix ``p`` is therefore
smaller than ``p + "\\U0010ffff"``, and every key after that string no longer starts with
``p``: one strict ``start_after`` skips exactly the prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ._exceptions import InvalidRequestError
from ._models import ListQuery, ObjectRecord, ObjectStatus
from .metadata import ObjectIndex

__all__ = ["TreePage", "list_tree"]

#: Greater than every character a key may hold (see the module's docstring).
_PAST_EVERY_KEY_CHAR = "\U0010ffff"
#: Records read per query at most: a listing's own page bound.
_BATCH = 1000
#: Records read by the first query after a seek, when a delimiter may end the page early;
#: each page read through without one doubles it.
_FIRST_BATCH = 32


class TreePage(BaseModel):
    """One page of a delimiter listing: keys and common prefixes, each in key order."""

    model_config = ConfigDict(frozen=True)

    entries: list[ObjectRecord] = Field(default_factory=list)
    """The newest ready version of each key listed (no delimiter after the prefix)."""
    common_prefixes: list[str] = Field(default_factory=list)
    """``prefix`` + up to and including the first ``delimiter`` after it, once each."""
    is_truncated: bool = False
    """More entries or common prefixes follow ``next_marker``."""
    next_marker: str | None = None
    """The last key or common prefix of this page, whichever sorts last; pass it back as
    ``start_after`` for the next page. ``None`` when the page is empty."""


def list_tree(
    index: ObjectIndex,
    bucket: str,
    *,
    prefix: str = "",
    delimiter: str | None = None,
    start_after: str | None = None,
    limit: int = 1000,
    status: ObjectStatus | None = ObjectStatus.READY,
) -> TreePage:
    """Up to ``limit`` keys and common prefixes of ``bucket`` under ``prefix``, strictly
    after ``start_after``, in key order: S3's ListObjects (v1 and v2).

    Each key is listed by its newest ready version (a newer pending or failed version hides
    nothing; a key with no ready version is not listed). With ``status=None`` (the v1
    folder view) it is listed by its newest version, whatever that version's status. With
    ``delimiter`` (an empty one is none), a key holding it after ``prefix`` is rolled up
    into its common prefix, which counts as one against ``limit``. Every entry, key or
    common prefix, is greater than ``start_after``: a ``start_after`` inside a common
    prefix (or equal to it, as a ``next_marker`` is) does not list that prefix again.
    ``limit`` 0 lists nothing, and says whether anything would have been listed.
    """
    if limit < 0:
        raise InvalidRequestError(f"a listing's limit is 0 or more, not {limit}")
    entries: list[ObjectRecord] = []
    prefixes: list[str] = []
    count = 0
    seek = start_after
    last: str | None = None
    batch = _FIRST_BATCH if delimiter else _BATCH
    while True:
        query = ListQuery(
            bucket=bucket,
            prefix=prefix or None,
            status=status,
            latest_only=True,
            start_after=seek,
            limit=min(batch, limit - count + 1),
        )
        page = index.list_objects(query)
        jumped = False
        for record in page.items:
            rolled = _common_prefix(record.key, prefix, delimiter)
            if rolled is not None and start_after is not None and rolled <= start_after:
                # start_after lies inside this prefix: what is under it was listed before.
                seek, jumped = rolled + _PAST_EVERY_KEY_CHAR, True
                break
            if count == limit:
                return TreePage(
                    entries=entries, common_prefixes=prefixes, is_truncated=True, next_marker=last
                )
            count += 1
            if rolled is None:
                entries.append(record)
                last = seek = record.key
                continue
            prefixes.append(rolled)
            last = rolled
            seek, jumped = rolled + _PAST_EVERY_KEY_CHAR, True
            break
        if not jumped and page.next_cursor is None:
            return TreePage(entries=entries, common_prefixes=prefixes, next_marker=last)
        # After a seek the rest of a page is not read, so pages start small there.
        batch = _FIRST_BATCH if jumped else min(batch * 2, _BATCH)


def _common_prefix(key: str, prefix: str, delimiter: str | None) -> str | None:
    """The common prefix ``key`` rolls up into, or ``None`` if it is listed itself."""
    if not delimiter:
        return None
    found = key.find(delimiter, len(prefix))
    if found < 0:
        return None
    return key[: found + len(delimiter)]
