"""``MemoryQueue``: the job queue in one process, for the embedded server and unit tests.

The same contract as the broker, minus durability: whatever is queued lives only as long
as the process. ``publish`` never blocks (the queue is unbounded). Each ``from_url`` call
makes a new, independent queue, so the services of one process must share one instance.

Like a quorum queue, it counts the deliveries of each message that ended unsettled (the
consumer closed first): a message handed back when its count already reached
``delivery_limit`` goes to the dead-letter list instead of being delivered again.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Self

from .._constants import DEFAULT_MAX_DELIVERIES
from .._exceptions import QueueUnavailableError
from .._messages import ProcessObject
from ._delivery import SettleOnce

__all__ = ["MemoryConsumer", "MemoryDelivery", "MemoryQueue"]

logger = logging.getLogger("sangraha_core.queue.memory")


class MemoryQueue:
    """A thread-safe in-process queue with prefetch, delayed retry and a dead-letter list.

    :param delivery_limit: unsettled deliveries of one message after which it is
        dead-lettered rather than delivered again.
    """

    def __init__(self, *, delivery_limit: int = DEFAULT_MAX_DELIVERIES) -> None:
        self.delivery_limit = max(0, delivery_limit)
        self._cond = threading.Condition()
        # (message, how many of its deliveries ended unsettled)
        self._ready: deque[tuple[ProcessObject, int]] = deque()
        # (due on the monotonic clock, a tie-breaker, the message): a min-heap by due time.
        self._delayed: list[tuple[float, int, ProcessObject]] = []
        self._order = itertools.count()
        self._dead: deque[tuple[ProcessObject, str]] = deque()
        self._consumers: set[MemoryConsumer] = set()
        self._closed = False

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "", delivery_limit: int = DEFAULT_MAX_DELIVERIES
    ) -> Self:
        # Nothing to name apart: an in-process queue cannot collide with another.
        del url, prefix
        return cls(delivery_limit=delivery_limit)

    def setup(self) -> None:
        self._ensure_open()

    def publish(self, message: ProcessObject) -> None:
        with self._cond:
            self._ensure_open()
            self._ready.append((message, 0))
            self._cond.notify_all()

    def consumer(self, *, prefetch: int = 1) -> MemoryConsumer:
        with self._cond:
            self._ensure_open()
            consumer = MemoryConsumer(self, prefetch=prefetch)
            self._consumers.add(consumer)
            return consumer

    def depth(self) -> int:
        with self._cond:
            self._ensure_open()
            self._promote(time.monotonic())
            return len(self._ready)

    def dead_letters(self, *, limit: int = 100) -> list[ProcessObject]:
        with self._cond:
            self._ensure_open()
            taken: list[ProcessObject] = []
            while self._dead and len(taken) < limit:
                taken.append(self._dead.popleft()[0])
            return taken

    def check(self) -> None:
        self._ensure_open()

    def close(self) -> None:
        with self._cond:
            consumers = list(self._consumers)
        for consumer in consumers:
            consumer.close()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- used by consumers and deliveries, always under ``self._cond`` ------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise QueueUnavailableError("the queue is closed")

    def _promote(self, now: float) -> None:
        """Move retries whose delay has passed to the back of the ready queue."""
        while self._delayed and self._delayed[0][0] <= now:
            _due, _n, message = heapq.heappop(self._delayed)
            self._ready.append((message, 0))

    def _next_due(self) -> float | None:
        return self._delayed[0][0] if self._delayed else None

    def _delay(self, message: ProcessObject, delay: float) -> None:
        due = time.monotonic() + max(0.0, delay)
        heapq.heappush(self._delayed, (due, next(self._order), message))
        self._cond.notify_all()

    def _bury(self, message: ProcessObject, reason: str) -> None:
        self._dead.append((message, reason))

    def _hand_back(self, delivery: MemoryDelivery) -> None:
        """Requeue an unsettled delivery at the front, or bury it past the delivery limit."""
        count = delivery.delivery_count + 1
        if count > self.delivery_limit:
            reason = f"delivered {count} times without being settled"
            logger.warning("dead-lettering job %s: %s", delivery.message.job_id, reason)
            self._bury(delivery.message, reason)
        else:
            self._ready.appendleft((delivery.message, count))


class MemoryDelivery(SettleOnce):
    """One message from a ``MemoryConsumer``; settle it exactly once."""

    def __init__(
        self, consumer: MemoryConsumer, message: ProcessObject, delivery_count: int
    ) -> None:
        super().__init__(message, delivery_count > 0, delivery_count)
        self._consumer = consumer

    def ack(self) -> None:
        self._consumer._settle(self, "ack", None)

    def retry(self, delay: float, *, counted: bool = True) -> None:
        again = self._message.next_attempt(counted=counted)
        self._consumer._settle(self, "retry", lambda q: q._delay(again, delay))

    def dead_letter(self, reason: str) -> None:
        logger.warning("dead-lettering job %s: %s", self._message.job_id, reason)
        self._consumer._settle(self, "dead-letter", lambda q: q._bury(self._message, reason))


class MemoryConsumer:
    """At most ``prefetch`` unsettled deliveries; closing hands them back as redelivered."""

    def __init__(self, queue: MemoryQueue, *, prefetch: int = 1) -> None:
        self._queue = queue
        self._prefetch = max(1, prefetch)
        self._unsettled: dict[int, MemoryDelivery] = {}
        self._closed = False

    def receive(self, timeout: float) -> MemoryDelivery | None:
        queue = self._queue
        deadline = time.monotonic() + timeout
        with queue._cond:
            while True:
                if self._closed:
                    raise QueueUnavailableError("the consumer is closed")
                queue._ensure_open()
                now = time.monotonic()
                queue._promote(now)
                if queue._ready and len(self._unsettled) < self._prefetch:
                    message, count = queue._ready.popleft()
                    delivery = MemoryDelivery(self, message, count)
                    self._unsettled[id(delivery)] = delivery
                    return delivery
                if now >= deadline:
                    return None
                wake = deadline
                due = queue._next_due()
                if due is not None:
                    wake = min(wake, due)
                queue._cond.wait(max(0.0, wake - now))

    def close(self) -> None:
        queue = self._queue
        with queue._cond:
            if self._closed:
                return
            self._closed = True
            # Back to the front, oldest first, as a broker requeues them.
            for delivery in reversed(list(self._unsettled.values())):
                queue._hand_back(delivery)
            self._unsettled.clear()
            queue._consumers.discard(self)
            queue._cond.notify_all()

    def _settle(
        self,
        delivery: MemoryDelivery,
        what: str,
        effect: Callable[[MemoryQueue], None] | None,
    ) -> None:
        queue = self._queue
        with queue._cond:
            delivery._claim()
            if self._unsettled.pop(id(delivery), None) is None:
                # Its consumer closed first and the message went back to the queue.
                logger.warning(
                    "cannot %s job %s: its consumer is closed; it will be delivered again",
                    what,
                    delivery.message.job_id,
                )
                return
            if effect is not None:
                effect(queue)
            queue._cond.notify_all()
