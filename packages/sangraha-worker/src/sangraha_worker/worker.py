"""The worker: consume ``ProcessObject`` jobs, settle each one, keep the stores tidy.

Each consumer thread processes one delivery at a time and settles it by the rules in
``_settling`` (``DeliverySettling``, which also say when the reconciler pauses). The
reconciler, the heartbeat and the collector run in threads of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from sangraha_core import Backends, process_objects, utcnow
from sangraha_core.kinds import InspectorPool
from sangraha_core.queue import Consumer, Delivery

from . import metrics
from ._jobs import FailedJobs, JobContext, JobHook, JobResult, WorkerHook, call_hook
from ._settling import DeliverySettling
from ._signals import stop_on_signals
from .collector import Collector
from .reconciler import Reconciler

__all__ = ["FailedJobs", "JobContext", "JobResult", "Worker"]

logger = logging.getLogger("sangraha_worker")

#: How long a consumer that cannot reach the broker waits before trying again, at most.
_MAX_RECONNECT_DELAY = 30.0
#: Failed job results kept for ``run_check`` (bounded: a worker may run for months).
_KEPT_RESULTS = 1000
#: While ``stop`` waits for jobs in progress, how often it says again which still run.
_WAIT_REPORT_INTERVAL = 15.0


class Worker(DeliverySettling):
    """Process uploads from the queue with ``concurrency`` threads.

    ``run()`` blocks until ``stop()``, SIGTERM or SIGINT and lets the jobs in progress
    finish; ``start()``/``stop()`` run it in background threads of another process (the
    embedded server). Each thread has its own consumer with ``prefetch=batch``, so at most
    ``concurrency * batch`` jobs are unsettled at once. A thread takes the jobs waiting for
    it together, up to ``batch``, and makes their records ready in one transaction; a
    quiet queue is still served one job at a time, with no waiting.

    :param backends: the blob store, metadata store and queue to work on.
    :param concurrency: consumer threads; defaults to ``settings.worker_concurrency``.
    :param batch: most jobs one thread takes at once; defaults to ``settings.worker_batch``.
    :param max_tries: attempts of one job that end in an unexpected error (not a backend
        fault) before it is dead-lettered and its record marked failed; defaults to
        ``settings.max_attempts``.
    :param max_deliveries: unsettled deliveries of one job (the worker died during each)
        after which the next one fails its record instead of processing it; defaults to
        ``settings.max_deliveries``, which is also the queue's own limit.
    :param burst: process until the queue stays empty (and no retry is due), then return.
        The reconciler and collector do not run periodically in burst mode.
    :param recover_on_start: publish every pending record once at start, for a queue that
        starts empty (the in-memory queue of the embedded server).
    :param reconcile_interval: seconds between reconciler passes; ``0`` disables them.
    :param pending_timeout: seconds a record may stay pending before the reconciler
        publishes it again; defaults to ``settings.pending_timeout``.
    :param gc_interval: seconds between garbage collections; ``0`` disables them.
    :param staging_grace: seconds before an orphaned staging blob may be swept.
    :param poll_interval: seconds one ``receive`` waits; bounds how fast ``stop`` is seen.
    :param retry_backoff: the base of the retry delays ``retry_backoff * 2**n``.
    :param max_retry_delay: the cap of the retry delays, in seconds; defaults to
        ``settings.max_retry_delay``.
    :param burst_idle: seconds the queue must stay quiet before a burst ends.
    :param handle_signals: in ``run()`` from the main thread, stop gracefully on SIGTERM
        and SIGINT.
    :param on_startup: called with the worker before the threads start.
    :param on_shutdown: called with the worker after they stopped.
    :param on_job_start: called with a ``JobContext`` before each job.
    :param after_job_end: called with the ``JobContext`` after each job was settled.
    """

    def __init__(
        self,
        backends: Backends,
        *,
        concurrency: int | None = None,
        batch: int | None = None,
        max_tries: int | None = None,
        max_deliveries: int | None = None,
        burst: bool = False,
        recover_on_start: bool = False,
        reconcile_interval: float = 30.0,
        pending_timeout: float | None = None,
        gc_interval: float = 300.0,
        staging_grace: float = 3600.0,
        poll_interval: float = 0.5,
        retry_backoff: float = 0.5,
        max_retry_delay: float | None = None,
        burst_idle: float | None = None,
        handle_signals: bool = True,
        on_startup: WorkerHook | None = None,
        on_shutdown: WorkerHook | None = None,
        on_job_start: JobHook | None = None,
        after_job_end: JobHook | None = None,
    ) -> None:
        settings = backends.settings
        self.backends = backends
        self.concurrency = concurrency if concurrency is not None else settings.worker_concurrency
        self.max_tries = max_tries if max_tries is not None else settings.max_attempts
        self.max_deliveries = (
            max_deliveries if max_deliveries is not None else settings.max_deliveries
        )
        self.batch = batch if batch is not None else settings.worker_batch
        if min(self.concurrency, self.batch, self.max_tries, self.max_deliveries) < 1:
            raise ValueError("concurrency, batch, max_tries and max_deliveries must be at least 1")
        self.burst = burst
        self.recover_on_start = recover_on_start
        self.reconcile_interval = reconcile_interval
        self.gc_interval = gc_interval
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff
        self.max_retry_delay = (
            max_retry_delay if max_retry_delay is not None else settings.max_retry_delay
        )
        # At least two receive rounds, so every consumer has looked once more.
        self.burst_idle = burst_idle if burst_idle is not None else max(1.0, 2 * poll_interval)
        self.handle_signals = handle_signals
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown
        self.on_job_start = on_job_start
        self.after_job_end = after_job_end
        self.reconciler = Reconciler(
            backends,
            pending_timeout=(
                pending_timeout if pending_timeout is not None else settings.pending_timeout
            ),
        )
        self.collector = Collector(backends, staging_grace=staging_grace)
        #: Where the bytes are parsed: one validator process per consumer thread, so that
        #: no upload can crash this process.
        self.validators = InspectorPool.from_settings(settings, size=self.concurrency)

        self._pending_timeout = self.reconciler.pending_timeout
        # Objects being processed now (a duplicate delivery may run one twice), for the
        # heartbeat.
        self._running: Counter[str] = Counter()
        # Every job between its delivery and its settling, for what ``stop`` says it waits on.
        self._jobs: dict[int, JobContext] = {}
        self.jobs_complete = 0
        self.jobs_failed = 0
        self.jobs_retried = 0
        self._failed_results: deque[JobResult] = deque(maxlen=_KEPT_RESULTS)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._consumer_threads: list[threading.Thread] = []
        self._started = False
        self._shut_down = False
        self._wait_logged = False
        self._in_flight = 0
        self._open_consumers = 0
        self._last_activity = time.monotonic()
        self._retry_due = 0.0
        self._fault_streak = 0
        self._last_fault = float("-inf")

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the threads and return; ``stop()`` ends them."""
        if self._started:
            raise RuntimeError("this worker was started already")
        self._started = True
        call_hook(self.on_startup, self)
        if self.recover_on_start:
            try:
                self.reconciler.recover_all()
            except Exception:
                # The periodic reconciler catches the rest once they are pending_timeout old.
                logger.exception("could not publish the pending records at start")
        self._last_activity = time.monotonic()
        for n in range(self.concurrency):
            thread = self._spawn(f"sangraha-worker-{n}", self._consume)
            self._consumer_threads.append(thread)
        if not self.burst:
            if self.reconcile_interval > 0:
                self._spawn(
                    "sangraha-reconciler",
                    lambda: self._every(self.reconcile_interval, self._reconcile),
                )
            self._spawn(
                "sangraha-heartbeat",
                lambda: self._every(self._pending_timeout / 3, self._heartbeat),
            )
            if self.gc_interval > 0:
                self._spawn(
                    "sangraha-collector",
                    lambda: self._every(self.gc_interval, self.collector.run_once),
                )
        logger.info(
            "worker started: %d thread(s), max_tries=%d%s",
            self.concurrency,
            self.max_tries,
            ", burst" if self.burst else "",
        )

    def stop(self, timeout: float | None = None) -> bool:
        """Ask every thread to stop after its current job and wait up to ``timeout`` seconds
        (``None``: as long as it takes). Return whether they all ended.

        Jobs still running are logged (how many, the longest) when the wait begins, again
        every so often while it lasts, and when ``timeout`` ends it with jobs unfinished.
        """
        # Said once, by the first call: run() calls stop() again after a signal set _stopping.
        first = not self._wait_logged
        self._wait_logged = True
        self._stopping.set()
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        if first and not self._shut_down:
            limit = "" if timeout is None else f" (for up to {timeout:g}s)"
            self._log_running(f"stopping: waiting{limit} for")
        next_report = start + _WAIT_REPORT_INTERVAL
        for thread in self._threads:
            if thread is threading.current_thread():
                continue
            while thread.is_alive():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                wait = next_report - now if deadline is None else min(next_report, deadline) - now
                thread.join(max(0.0, wait))
                if thread.is_alive() and time.monotonic() >= next_report:
                    waited = time.monotonic() - start
                    self._log_running(f"stopping: still waiting after {waited:.0f}s for")
                    next_report = time.monotonic() + _WAIT_REPORT_INTERVAL
        stopped = not any(t.is_alive() for t in self._threads)
        if not stopped and timeout is not None:
            self._log_running(
                f"stopped waiting after {timeout:g}s for",
                "; their records stay pending and are processed again later",
                level=logging.WARNING,
            )
        if stopped and self._started and not self._shut_down:
            self._shut_down = True
            self.validators.close()
            call_hook(self.on_shutdown, self)
            logger.info(
                "worker stopped: %d complete, %d failed, %d retried",
                self.jobs_complete,
                self.jobs_failed,
                self.jobs_retried,
            )
        return stopped

    def running_jobs(self) -> list[tuple[str, float]]:
        """The jobs in progress as ``(object id, seconds running)``, the longest first."""
        now = time.monotonic()
        with self._lock:
            jobs = [(ctx.message.object_id, now - ctx.started) for ctx in self._jobs.values()]
        return sorted(jobs, key=lambda job: job[1], reverse=True)

    def _log_running(self, what: str, then: str = "", *, level: int = logging.INFO) -> None:
        """``what``, the running jobs (how many, the one running longest), ``then``."""
        jobs = self.running_jobs()
        if not jobs:
            return
        object_id, seconds = jobs[0]
        logger.log(
            level,
            "%s %d running job(s); the longest, object %s, has run %.1fs%s",
            what,
            len(jobs),
            object_id,
            seconds,
            then,
        )

    def run(self) -> None:
        """Run until ``stop()``, SIGTERM or SIGINT (or, with ``burst``, an empty queue);
        jobs in progress finish first."""
        restore = self._install_signal_handlers()
        try:
            self.start()
            while not self._stopping.wait(0.1):
                if self.burst and self._drained():
                    break
                if not any(t.is_alive() for t in self._consumer_threads):
                    logger.error("every consumer thread ended; stopping")
                    break
        finally:
            self.stop()
            restore()

    def run_check(self) -> int:
        """``run()``, then return the number of completed jobs, or raise ``FailedJobs`` if
        any job ended failed or dead-lettered. Meant for ``burst`` mode and tests."""
        self.run()
        if self.jobs_failed:
            raise FailedJobs(self.jobs_failed, list(self._failed_results))
        return self.jobs_complete

    def is_healthy(self) -> bool:
        """Started, not stopping, and every consumer thread alive."""
        return (
            self._started
            and not self._stopping.is_set()
            and all(t.is_alive() for t in self._consumer_threads)
        )

    # -- consuming ----------------------------------------------------------------------

    def _consume(self) -> None:
        consumer: Consumer | None = None
        failures = 0
        try:
            while not self._stopping.is_set():
                if consumer is None:
                    try:
                        consumer = self.backends.queue.consumer(prefetch=self.batch)
                    except Exception as exc:
                        failures += 1
                        self._pause_after_failure("open a consumer", exc, failures)
                        continue
                    with self._lock:
                        self._open_consumers += 1
                try:
                    deliveries = self._receive(consumer)
                    failures = 0
                    healthy = self._handle(deliveries) if deliveries else True
                except Exception as exc:
                    failures += 1
                    healthy = False
                    self._pause_after_failure("receive", exc, failures)
                if not healthy:
                    # Dropping the consumer hands any unsettled delivery back to the broker.
                    self._close_consumer(consumer)
                    consumer = None
        finally:
            if consumer is not None:
                self._close_consumer(consumer)

    def _receive(self, consumer: Consumer) -> list[Delivery]:
        """The next delivery, and with it up to ``batch - 1`` more that are there already:
        a busy queue is taken several jobs at a time, and a quiet one costs no waiting."""
        first = consumer.receive(timeout=self.poll_interval)
        if first is None:
            return []
        deliveries = [first]
        while len(deliveries) < self.batch:
            more = consumer.receive(timeout=0)
            if more is None:
                break
            deliveries.append(more)
        return deliveries

    def _handle(self, deliveries: list[Delivery]) -> bool:
        """Process and settle deliveries; ``False`` if the consumer should be reopened."""
        contexts = [
            JobContext(
                worker=self,
                message=delivery.message,
                redelivered=delivery.redelivered,
                delivery_count=delivery.delivery_count,
            )
            for delivery in deliveries
        ]
        with self._lock:
            self._in_flight += len(contexts)
            for ctx in contexts:
                self._jobs[id(ctx)] = ctx
            self._last_activity = time.monotonic()
        metrics.JOBS_IN_PROGRESS.inc(len(contexts))
        healthy = True
        try:
            for ctx in contexts:
                call_hook(self.on_job_start, ctx)
            # Not processed on the last delivery: whatever killed the worker the times
            # before would most likely kill it again, and the record would stay pending.
            self._process([ctx for ctx in contexts if ctx.delivery_count < self.max_deliveries])
            for delivery, ctx in zip(deliveries, contexts, strict=True):
                try:
                    self._settle(delivery, ctx)
                except Exception:
                    logger.exception(
                        "could not settle job %s; it will be delivered again", ctx.message
                    )
                    healthy = False
        finally:
            for ctx in contexts:
                ctx.duration = time.monotonic() - ctx.started
                metrics.JOB_DURATION.observe(ctx.duration)
                metrics.JOBS_IN_PROGRESS.dec()
                self._record(ctx)
                call_hook(self.after_job_end, ctx)
            with self._lock:
                self._in_flight -= len(contexts)
                for ctx in contexts:
                    del self._jobs[id(ctx)]
                self._last_activity = time.monotonic()
        return healthy

    def _process(self, contexts: list[JobContext]) -> None:
        """Run ``process_objects``; what came of each job goes on its context, never
        further: a delivery left unsettled counts as one the worker died on."""
        if not contexts:
            return
        ids = [ctx.message.object_id for ctx in contexts]
        with self._lock:
            # Each is running from now on, for the heartbeat, though it waits for those
            # before it in the batch.
            self._running.update(ids)
        try:
            now = utcnow()
            for ctx in contexts:
                waited = (now - ctx.message.enqueued_at).total_seconds()
                if waited > self._pending_timeout / 3:
                    # It queued long enough that the heartbeat's first beat could come too
                    # late.
                    self.backends.metadata.touch(ctx.message.object_id)
            results = process_objects(
                self.backends,
                [ctx.message for ctx in contexts],
                inspect=self.validators.inspect,
                inspect_many=self.validators.inspect_many,
            )
            for ctx, result in zip(contexts, results, strict=True):
                if isinstance(result, Exception):
                    ctx.error = result
                else:
                    ctx.outcome = result
        except Exception as exc:
            for ctx in contexts:
                if ctx.outcome is None:
                    ctx.error = exc
        finally:
            with self._lock:
                self._running.subtract(ids)
                for object_id in set(ids):
                    if self._running[object_id] <= 0:
                        del self._running[object_id]

    # -- plumbing -----------------------------------------------------------------------

    def _drained(self) -> bool:
        now = time.monotonic()
        with self._lock:
            return (
                self._in_flight == 0
                and self._open_consumers == self.concurrency
                and now - self._last_activity >= self.burst_idle
                and now >= self._retry_due
            )

    def _spawn(self, name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def _reconcile(self) -> int:
        if self.in_outage:
            logger.info("a backend is unreachable: the reconciler waits for it")
            return 0
        with self._lock:
            since_fault = time.monotonic() - self._last_fault
        if since_fault < self.max_retry_delay:
            # Retries scheduled during the outage may still wait in the queue, touched last
            # when they were scheduled; they come back within max_retry_delay.
            return 0
        return self.reconciler.run_once()

    def _heartbeat(self) -> int:
        """Touch the records of the jobs running now, so the reconciler does not publish a
        large object again merely because processing it outlasts ``pending_timeout``."""
        with self._lock:
            running = list(self._running)
        for object_id in running:
            self.backends.metadata.touch(object_id)
        return len(running)

    def _every(self, interval: float, action: Callable[[], int]) -> None:
        while not self._stopping.wait(interval):
            try:
                action()
            except Exception:
                logger.exception("periodic %s failed; trying again in %.0fs", action, interval)

    def _pause_after_failure(self, what: str, exc: Exception, failures: int) -> None:
        delay = min(self.retry_backoff * 2**failures, _MAX_RECONNECT_DELAY)
        logger.warning("could not %s (%r); trying again in %.1fs", what, exc, delay)
        self._stopping.wait(delay)

    def _close_consumer(self, consumer: Consumer) -> None:
        with self._lock:
            self._open_consumers -= 1
        try:
            consumer.close()
        except Exception as exc:
            logger.warning("closing a consumer failed: %r", exc)

    def _install_signal_handlers(self) -> Callable[[], None]:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return lambda: None
        return stop_on_signals(self._stopping)
