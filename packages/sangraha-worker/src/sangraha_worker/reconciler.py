"""Publish again the records left ``pending`` too long, so no accepted upload is forgotten.

A record stays pending without a message in the queue when the receiver's publish was lost
after the record was written (an in-memory queue across a restart, an undo that failed), or
when a message was dead-lettered while the record could not be marked failed. Publishing
twice is harmless: processing is idempotent.

A job waiting for a retry touched its record when the retry was scheduled, and a running
one is touched by the worker's heartbeat, so neither looks stale. While a backend is down,
and for ``max_retry_delay`` after its last fault, the worker does not run the reconciler:
every pending record is then still in the queue or waiting for its retry, and a backlog
that cannot drain would otherwise be published once more every ``pending_timeout``, for as
long as the outage lasts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sangraha_core import Backends, ProcessObject, utcnow

from . import metrics

__all__ = ["Reconciler"]

logger = logging.getLogger("sangraha_worker.reconciler")

_BATCH = 100


class Reconciler:
    """Re-publishes stale pending records.

    :param backends: the metadata store to scan and the queue to publish to.
    :param pending_timeout: seconds a record may stay pending, untouched, before it is
        published again.
    """

    def __init__(self, backends: Backends, *, pending_timeout: float) -> None:
        self.backends = backends
        self.pending_timeout = pending_timeout

    def run_once(self) -> int:
        """Publish every record pending for longer than ``pending_timeout``; return how many."""
        return self._republish(utcnow() - timedelta(seconds=self.pending_timeout))

    def recover_all(self) -> int:
        """Publish every pending record once, whatever its age (a queue that starts empty)."""
        return self._republish(utcnow())

    def _republish(self, cutoff: datetime) -> int:
        metadata, queue = self.backends.metadata, self.backends.queue
        seen: set[str] = set()
        while True:
            batch = [r for r in metadata.pending_before(cutoff, limit=_BATCH) if r.id not in seen]
            for record in batch:
                # Publish first: a touched record that was never published would wait a
                # whole timeout more; a published one that was not touched is only sent twice.
                queue.publish(ProcessObject.for_object(record.id))
                metadata.touch(record.id)
                seen.add(record.id)
                metrics.REPUBLISHED.inc()
            # Touching moves each record past the cutoff, so the scan advances; ``seen``
            # stops it should a clock make ``touch`` land before the cutoff.
            if len(batch) < _BATCH:
                break
        if seen:
            logger.info("published %d stale pending record(s) again", len(seen))
        return len(seen)
