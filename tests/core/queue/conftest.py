"""Queues for the queue tests: a fresh in-process one, or a broker topology of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sangraha_core.queue import MemoryQueue
from sangraha_core.queue.amqp import AmqpQueue
from sangraha_core.testing.queue import eventually as eventually_holds

#: Short retry tiers keep the suite fast; production uses the defaults (1 s .. 300 s).
TEST_RETRY_TIERS = (0.5, 2.0)
#: A small delivery limit, so a test reaches it in a few deliveries.
TEST_DELIVERY_LIMIT = 2


Poll = Callable[[Callable[[], bool]], bool]


@pytest.fixture
def eventually() -> Poll:
    """Poll a check until it holds (for 5 s): a broker settles some things asynchronously."""
    return eventually_holds


@pytest.fixture
def memory_queue() -> Iterator[MemoryQueue]:
    queue = MemoryQueue(delivery_limit=TEST_DELIVERY_LIMIT)
    queue.setup()
    yield queue
    queue.close()


@pytest.fixture
def amqp_queue(amqp_url: str, queue_prefix: str) -> Iterator[AmqpQueue]:
    """An ``AmqpQueue`` with its topology declared; deleted again afterwards."""
    queue = AmqpQueue(
        amqp_url,
        prefix=queue_prefix,
        retry_tiers=TEST_RETRY_TIERS,
        delivery_limit=TEST_DELIVERY_LIMIT,
    )
    queue.setup()
    try:
        yield queue
    finally:
        queue.close()
        cleaner = AmqpQueue(amqp_url, prefix=queue_prefix, retry_tiers=TEST_RETRY_TIERS)
        try:
            cleaner.delete_topology()
        finally:
            cleaner.close()
