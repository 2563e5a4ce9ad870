"""The broker layout behind ``AmqpQueue``: names, arguments, declaration and removal.

One durable direct exchange routes by queue name::

    publish ──► <p>sangraha ──► <p>sangraha.process            (quorum; consumers read here)
                    │  ▲              │ nack(requeue=False)
                    │  │              ▼
                    │  │        <p>sangraha.process.dead     (quorum; waits for a person)
                    │  │
                    │  └── TTL expiry ── <p>sangraha.process.retry.<ms>ms  (one per delay tier)
                    └────────────────────────────┘ retry(delay)

The exchange doubles as the dead-letter exchange: the process queue dead-letters with the
dead-letter queue's name as routing key, and every retry queue dead-letters (on expiry of
its fixed ``x-message-ttl``) with the process queue's name. Fixed tiers rather than
per-message TTLs because RabbitMQ only expires messages at the head of a queue: with one
TTL per queue the head is always the first to expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._constants import DEAD_LETTER_QUEUE, EXCHANGE, PROCESS_QUEUE
from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingChannel

__all__ = ["DEFAULT_RETRY_TIERS", "Topology"]

#: Seconds a retried message waits, one durable queue per tier. The largest is the default
#: ``max_retry_delay``: the spacing of tries while a backend is down.
DEFAULT_RETRY_TIERS: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 300.0)


@dataclass(frozen=True)
class Topology:
    """Every exchange and queue name for one ``prefix``, and how to declare them."""

    prefix: str = ""
    retry_tiers: tuple[float, ...] = DEFAULT_RETRY_TIERS

    def __post_init__(self) -> None:
        if not self.retry_tiers or any(t <= 0 for t in self.retry_tiers):
            raise ConfigurationError(f"retry tiers must be positive seconds: {self.retry_tiers}")
        object.__setattr__(self, "retry_tiers", tuple(sorted(set(self.retry_tiers))))

    @classmethod
    def of(cls, prefix: str, retry_tiers: Sequence[float] | None = None) -> Topology:
        return cls(prefix, tuple(retry_tiers) if retry_tiers is not None else DEFAULT_RETRY_TIERS)

    @property
    def exchange(self) -> str:
        return self.prefix + EXCHANGE

    @property
    def process_queue(self) -> str:
        return self.prefix + PROCESS_QUEUE

    @property
    def dead_letter_queue(self) -> str:
        return self.prefix + DEAD_LETTER_QUEUE

    def retry_queue(self, tier: float) -> str:
        return f"{self.process_queue}.retry.{round(tier * 1000)}ms"

    @property
    def retry_queues(self) -> list[str]:
        return [self.retry_queue(tier) for tier in self.retry_tiers]

    def tier_for(self, delay: float) -> float:
        """The smallest tier that waits at least ``delay``; the largest if none does."""
        for tier in self.retry_tiers:
            if tier >= delay:
                return tier
        return self.retry_tiers[-1]

    def declare(self, channel: BlockingChannel) -> None:
        """Create whatever is missing; a no-op when it all exists with the same arguments."""
        channel.exchange_declare(self.exchange, exchange_type="direct", durable=True)
        dead_args: dict[str, Any] = {"x-queue-type": "quorum"}
        channel.queue_declare(self.dead_letter_queue, durable=True, arguments=dead_args)
        channel.queue_bind(self.dead_letter_queue, self.exchange, self.dead_letter_queue)
        process_args: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.exchange,
            "x-dead-letter-routing-key": self.dead_letter_queue,
            # Quorum queues dead-letter at most once unless told otherwise; a message
            # given up on must reach a person, so pay for the at-least-once strategy
            # (which RabbitMQ only allows together with reject-publish overflow).
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        channel.queue_declare(self.process_queue, durable=True, arguments=process_args)
        channel.queue_bind(self.process_queue, self.exchange, self.process_queue)
        for tier in self.retry_tiers:
            name = self.retry_queue(tier)
            retry_args: dict[str, Any] = {
                "x-message-ttl": round(tier * 1000),
                "x-dead-letter-exchange": self.exchange,
                "x-dead-letter-routing-key": self.process_queue,
            }
            channel.queue_declare(name, durable=True, arguments=retry_args)
            channel.queue_bind(name, self.exchange, name)

    def delete(self, channel: BlockingChannel) -> None:
        """Remove every queue and the exchange, messages included (for tests)."""
        for name in [self.process_queue, self.dead_letter_queue, *self.retry_queues]:
            channel.queue_delete(name)
        channel.exchange_delete(self.exchange)
