"""Run again the jobs that ended for reasons outside their own bytes (``sangraha-worker replay``).

Two sources, both needed:

- the dead-letter queue: messages given up on. Each record they name that failed for a
  retriable reason is made pending again; one still pending (the worker could not mark it
  failed) is published as it is.
- the metadata store's retriable failures: their messages may be gone already (an
  in-memory queue, an earlier replay whose publish failed, a person who emptied the queue).

Every job goes out as a fresh message, attempt 1: the dead letter's own attempt count is
spent. A record failed for a final reason (invalid or corrupt bytes), ready or deleted is
left alone and its dead letter dropped. Should a publish fail, the record is already
pending again, so the reconciler publishes it later: nothing is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sangraha_core import (
    Backends,
    ObjectNotFoundError,
    ObjectStatus,
    ProcessObject,
)

__all__ = ["ReplayResult", "replay_failures"]

logger = logging.getLogger("sangraha_worker.replay")

_BATCH = 100


@dataclass(frozen=True)
class ReplayResult:
    """What one replay did."""

    dead_letters: int
    """Messages taken off the dead-letter queue."""
    requeued: int
    """Jobs published again, each record once."""
    dropped: int
    """Dead letters whose record needs nothing: ready, failed for good, or deleted."""


def replay_failures(backends: Backends) -> ReplayResult:
    """Publish again every dead-lettered job and every record failed for a retriable reason."""
    requeued: set[str] = set()
    taken = dropped = 0
    while True:
        batch = backends.queue.dead_letters(limit=_BATCH)
        taken += len(batch)
        for message in batch:
            if message.object_id in requeued:
                continue
            if _requeue(backends, message.object_id):
                requeued.add(message.object_id)
            else:
                dropped += 1
        if len(batch) < _BATCH:
            break
    while True:
        records = backends.metadata.retriable_failures(limit=_BATCH)
        # A record replayed here that fails again at once sorts last; ``requeued`` keeps
        # this pass from chasing it.
        fresh = [r.id for r in records if r.id not in requeued]
        for object_id in fresh:
            if _requeue(backends, object_id):
                requeued.add(object_id)
        if len(records) < _BATCH or not fresh:
            break
    result = ReplayResult(dead_letters=taken, requeued=len(requeued), dropped=dropped)
    logger.info(
        "replay: %d dead letter(s) taken, %d job(s) published again, %d dropped",
        result.dead_letters,
        result.requeued,
        result.dropped,
    )
    return result


def _requeue(backends: Backends, object_id: str) -> bool:
    """Make the record pending again if its failure was retriable, and publish its job."""
    metadata = backends.metadata
    try:
        record = metadata.get_object(object_id)
    except ObjectNotFoundError:
        return False
    if record.status is ObjectStatus.FAILED:
        reopened = metadata.reopen_failed(object_id)
        if reopened is None or reopened.status is not ObjectStatus.PENDING:
            logger.info("not replaying %s: %s", object_id, record.error)
            return False
    elif record.status is not ObjectStatus.PENDING:
        return False
    backends.queue.publish(ProcessObject.for_object(object_id))
    return True
