"""The shipped queue suite on both backends: in this process, and on RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sangraha_core.queue import MemoryQueue, Queue
from sangraha_core.queue.amqp import AmqpQueue
from sangraha_core.testing import QueueConformance
from tests.core.queue.conftest import TEST_DELIVERY_LIMIT


class TestMemoryQueue(QueueConformance):
    delivery_limit = TEST_DELIVERY_LIMIT

    @pytest.fixture
    def queue(self, memory_queue: MemoryQueue) -> Iterator[Queue]:
        yield memory_queue


@pytest.mark.rabbitmq
class TestAmqpQueue(QueueConformance):
    delivery_limit = TEST_DELIVERY_LIMIT

    @pytest.fixture
    def queue(self, amqp_queue: AmqpQueue) -> Iterator[Queue]:
        yield amqp_queue
