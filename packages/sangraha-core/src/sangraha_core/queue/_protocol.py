"""The job queue contract: confirmed publishing, bounded consuming, explicit acknowledgement."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .._messages import ProcessObject

__all__ = ["Consumer", "Delivery", "Queue"]


@runtime_checkable
class Delivery(Protocol):
    """One received message. Exactly one of ``ack``, ``retry`` or ``dead_letter`` must be
    called, from the thread that received it; a second call raises ``MessageStateError``.
    An unsettled delivery whose consumer goes away is delivered again."""

    @property
    def message(self) -> ProcessObject: ...

    @property
    def redelivered(self) -> bool: ...

    @property
    def delivery_count(self) -> int:
        """How many earlier deliveries of this message ended unsettled (their consumer
        closed or died): 0 the first time. The queue never hands out a delivery whose count
        exceeds its ``delivery_limit``; it dead-letters the message instead."""
        ...

    def ack(self) -> None:
        """Done: the side effects are durable; forget the message."""
        ...

    def retry(self, delay: float, *, counted: bool = True) -> None:
        """Deliver ``message.next_attempt(counted=counted)`` again after about ``delay``
        seconds, and settle this one. The attempt count travels in the message (brokers do
        not count retries); ``counted=False`` sends the same attempt number again."""
        ...

    def dead_letter(self, reason: str) -> None:
        """Give up: move the message to the dead-letter queue, where it stays for a person."""
        ...


@runtime_checkable
class Consumer(Protocol):
    """A consumer belongs to one thread; open one per worker thread."""

    def receive(self, timeout: float) -> Delivery | None:
        """The next delivery, or ``None`` after ``timeout`` seconds with nothing to do."""
        ...

    def close(self) -> None:
        """Stop consuming; unsettled deliveries go back to the queue."""
        ...


@runtime_checkable
class Queue(Protocol):
    """Durable delivery of ``ProcessObject`` jobs, at least once.

    Every implementation passes one conformance suite. Handlers must be idempotent: a
    message may arrive twice (a worker dying after its side effects but before its ack).
    """

    def setup(self) -> None:
        """Declare exchanges and queues; idempotent, safe from many processes at once."""
        ...

    def publish(self, message: ProcessObject) -> None:
        """Return only once the broker holds the message durably (publisher confirm).

        Safe to call from many threads. Raise ``QueueUnavailableError`` when the broker
        cannot take it: never return for a message that could still be lost.
        """
        ...

    def consumer(self, *, prefetch: int = 1) -> Consumer:
        """A consumer with at most ``prefetch`` unsettled deliveries."""
        ...

    def depth(self) -> int:
        """Messages ready for delivery (not counting unsettled or delayed ones)."""
        ...

    def dead_letters(self, *, limit: int = 100) -> list[ProcessObject]:
        """Take up to ``limit`` messages off the dead-letter queue (for inspection or replay)."""
        ...

    def check(self) -> None:
        """Raise ``QueueUnavailableError`` if the broker cannot be reached (for /readyz)."""
        ...

    def close(self) -> None: ...
