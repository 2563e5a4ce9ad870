"""How the worker settles a delivery, once ``process_object`` has returned or raised.

Settling follows one explicit rule per delivery:

==========================================  ===============================================
``delivery_count >= max_deliveries``        not processed: record failed (retriable),
                                            ``dead_letter`` (the worker died each time)
``DONE`` / ``SKIPPED`` / ``FAILED``         ``ack`` (invalid content is final, never retried)
``BackendUnavailableError``                 ``retry(min(backoff * 2**streak, cap),
                                            counted=False)``: attempt unchanged, no end
another exception, ``attempt < max_tries``  ``retry(min(backoff * 2**attempt, cap))``
another exception, last attempt             record failed (retriable), ``dead_letter``
==========================================  ===============================================

A backend that cannot be reached (blob store, metadata store, broker) says nothing about
the job: the try spends none of the attempt budget, and the job is tried again for as long
as the outage lasts, at most ``max_retry_delay`` apart. The delay grows with ``streak``,
the backend faults this worker met since a job last went through, so during an outage
every job waits the longest delay and after it the first success makes delays short again.
Any other exception may be a bug: ``max_tries`` attempts, counted in the message, then the
dead-letter queue. Failures of both give-up rows are retriable (``sangraha-worker replay``
runs them again once the cause is fixed); only what ``process_object`` found in the bytes
is final. While the streak lasts, and for ``max_retry_delay`` after the last fault, the
reconciler pauses: during an outage every pending record is still queued or waiting for
its retry, and publishing them again would only multiply them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from sangraha_core import Backends, BackendUnavailableError, FailureKind, Outcome, SangrahaError
from sangraha_core.queue import Delivery

from . import metrics
from ._jobs import JobContext, JobResult

__all__ = ["DeliverySettling", "gave_up_reason"]

logger = logging.getLogger("sangraha_worker")


class DeliverySettling:
    """The settlement rules of ``Worker``, and the outage state they keep.

    A mixin, so that the rules read and update the worker's own settings and counters;
    ``Worker.__init__`` sets every attribute declared here.
    """

    backends: Backends
    max_tries: int
    max_deliveries: int
    retry_backoff: float
    max_retry_delay: float
    _lock: threading.Lock
    _retry_due: float
    # Backend faults met since a job last went through; while above 0, an outage.
    _fault_streak: int
    _last_fault: float
    jobs_complete: int
    jobs_failed: int
    jobs_retried: int
    _failed_results: deque[JobResult]

    @property
    def in_outage(self) -> bool:
        """A backend fault stopped a job, and no job has gone through since."""
        with self._lock:
            return self._fault_streak > 0

    def retry_delay(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1`` after an unexpected error."""
        return float(min(self.retry_backoff * 2**attempt, self.max_retry_delay))

    def outage_delay(self, streak: int) -> float:
        """Seconds before the next try after the ``streak``-th backend fault in a row."""
        # The exponent is bounded so a months-long outage cannot overflow the float.
        return float(min(self.retry_backoff * 2 ** min(streak, 64), self.max_retry_delay))

    def _settle(self, delivery: Delivery, ctx: JobContext) -> None:
        message = ctx.message
        if ctx.delivery_count >= self.max_deliveries:
            reason = (
                f"processing was interrupted {ctx.delivery_count} times (the worker died each time)"
            )
            logger.error("job %s: %s", message.object_id, reason)
            self._give_up(delivery, ctx, reason)
            return
        if ctx.error is None:
            with self._lock:
                self._fault_streak = 0
            delivery.ack()
            ctx.settled = "ack"
            return
        error = ctx.error
        if isinstance(error, BackendUnavailableError):
            with self._lock:
                self._fault_streak += 1
                self._last_fault = time.monotonic()
                delay = self.outage_delay(self._fault_streak)
            _log_error(
                error,
                "job %s: a backend is unreachable, trying again in %.1fs: %r",
                message.object_id,
                delay,
                error,
            )
            self._touch_quietly(message.object_id)
            delivery.retry(delay, counted=False)
            self._retried(ctx, delay, "backend")
            return
        if message.attempt < self.max_tries:
            delay = self.retry_delay(message.attempt)
            _log_error(
                error,
                "job %s attempt %d failed, retrying in %.1fs: %r",
                message.object_id,
                message.attempt,
                delay,
                error,
            )
            self._touch_quietly(message.object_id)
            delivery.retry(delay)
            self._retried(ctx, delay, "error")
            return
        # The record's reason is read by API clients: the error's repr goes to the log only.
        _log_error(
            error,
            "job %s: gave up after %d attempts: %r",
            message.object_id,
            message.attempt,
            error,
        )
        self._give_up(delivery, ctx, gave_up_reason(message.attempt, error))

    def _give_up(self, delivery: Delivery, ctx: JobContext, reason: str) -> None:
        """Fail the record for a reason outside its bytes, then dead-letter the message."""
        object_id = ctx.message.object_id
        try:
            self.backends.metadata.mark_failed(object_id, reason, kind=FailureKind.RETRIABLE)
        except Exception as exc:
            # Still pending, so the reconciler publishes it again later: not lost.
            logger.error("could not mark %s failed: %r", object_id, exc)
        delivery.dead_letter(reason)
        ctx.settled = "dead_letter"

    def _retried(self, ctx: JobContext, delay: float, cause: str) -> None:
        ctx.settled = "retry"
        metrics.RETRIES_BY_CAUSE.labels(cause).inc()
        with self._lock:
            self._retry_due = max(self._retry_due, time.monotonic() + delay)

    def _touch_quietly(self, object_id: str) -> None:
        """Mark the record as looked after, so the reconciler does not publish it again while
        its retry waits; the metadata store may be the backend that is down."""
        try:
            self.backends.metadata.touch(object_id)
        except Exception as exc:
            logger.debug("could not touch %s: %r", object_id, exc)

    def _record(self, ctx: JobContext) -> None:
        result = JobResult(
            object_id=ctx.message.object_id,
            attempt=ctx.message.attempt,
            settled=ctx.settled or "none",
            outcome=ctx.outcome,
            error=None if ctx.error is None else repr(ctx.error),
        )
        with self._lock:
            if ctx.settled == "ack":
                assert ctx.outcome is not None
                metrics.JOBS.labels(ctx.outcome.value).inc()
                if ctx.outcome is Outcome.FAILED:
                    self.jobs_failed += 1
                    self._failed_results.append(result)
                else:
                    self.jobs_complete += 1
            elif ctx.settled == "retry":
                metrics.RETRIES.inc()
                self.jobs_retried += 1
            elif ctx.settled == "dead_letter":
                metrics.DEAD_LETTERS.inc()
                self.jobs_failed += 1
                self._failed_results.append(result)


def _log_error(error: BaseException, message: str, *args: object) -> None:
    if isinstance(error, BackendUnavailableError):
        logger.warning(message, *args)
    else:
        # Not a known transient fault: keep the traceback for whoever reads the logs.
        logger.error(message, *args, exc_info=error)


def gave_up_reason(attempts: int, error: BaseException) -> str:
    """The failure reason a record gets when every attempt ended in ``error``.

    Sangraha's own errors say what went wrong in words meant for a reader; anything else
    is a fault of the worker or a library, whose text names code, not the object.
    """
    if isinstance(error, SangrahaError) and str(error):
        return f"gave up after {attempts} attempts: {error}"
    return (
        f"gave up after {attempts} attempts: the worker failed unexpectedly "
        "(its log has the error); a replay may run it again"
    )
