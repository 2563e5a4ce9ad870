"""The behaviour suite every ``Queue`` passes, as a class to subclass with a fixture.

::

    from sangraha_core.testing import QueueConformance

    class TestMyQueue(QueueConformance):
        delivery_limit = 2

        @pytest.fixture
        def queue(self) -> Iterator[Queue]:
            queue = MyQueue(delivery_limit=self.delivery_limit)  # empty, of its own
            queue.setup()
            yield queue
            queue.close()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from sangraha_core import MessageStateError, ProcessObject, QueueUnavailableError
from sangraha_core.queue import Consumer, Delivery, Queue

__all__ = ["QueueConformance", "eventually", "job", "receive", "take_dead_letters"]


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``check`` until it holds, for ``timeout`` seconds: a broker settles some
    things asynchronously. Whether it came to hold."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def job(n: int | str) -> ProcessObject:
    """The job of processing the object ``obj-<n>``."""
    return ProcessObject.for_object(f"obj-{n}")


def receive(consumer: Consumer, timeout: float = 5.0) -> Delivery:
    """The next delivery, which must come within ``timeout`` seconds."""
    delivery = consumer.receive(timeout)
    assert delivery is not None, f"nothing delivered within {timeout}s"
    return delivery


def take_dead_letters(queue: Queue, *, limit: int = 100) -> list[ProcessObject]:
    """Dead letters reach the queue asynchronously on a broker: wait for the first."""
    taken: list[ProcessObject] = []

    def got_some() -> bool:
        taken.extend(queue.dead_letters(limit=limit))
        return bool(taken)

    eventually(got_some)
    return taken


class QueueConformance:
    """Every guarantee of the ``Queue`` protocol, checked through the protocol alone.

    A subclass named ``Test…`` gives a ``queue`` fixture: a queue set up (``setup``) with
    nothing in it, of its own for each test, closed afterwards (a test may close it first).
    """

    #: The ``delivery_limit`` the ``queue`` fixture's queue was made with: how many
    #: deliveries of one message may end unsettled before it is dead-lettered. The protocol
    #: does not say how a queue is told its limit, so the subclass says what it chose; a
    #: small one (2) keeps the test short. ``None`` skips the test of the limit.
    delivery_limit: ClassVar[int | None] = None

    def test_backends_satisfy_the_protocols(self, queue: Queue) -> None:
        assert isinstance(queue, Queue)
        queue.publish(job(1))
        consumer = queue.consumer()
        assert isinstance(consumer, Consumer)
        delivery = receive(consumer)
        assert isinstance(delivery, Delivery)
        delivery.ack()

    def test_publish_receive_ack_round_trip(self, queue: Queue) -> None:
        sent = job("round-trip")
        queue.publish(sent)
        consumer = queue.consumer()
        delivery = receive(consumer)
        assert delivery.message == sent
        assert delivery.redelivered is False
        delivery.ack()
        assert consumer.receive(0.3) is None
        consumer.close()
        # Acked means gone: a new consumer sees nothing either.
        assert queue.consumer().receive(0.3) is None

    def test_every_message_field_survives(self, queue: Queue) -> None:
        sent = ProcessObject(
            job_id="job-7",
            object_id="object-9",
            attempt=4,
            enqueued_at=datetime(2024, 2, 29, 12, 30, 15, 123456, tzinfo=UTC),
        )
        queue.publish(sent)
        delivery = receive(queue.consumer())
        assert delivery.message == sent
        assert delivery.message.model_dump() == sent.model_dump()
        delivery.ack()

    def test_receive_times_out_with_none(self, queue: Queue) -> None:
        consumer = queue.consumer()
        started = time.monotonic()
        assert consumer.receive(0.4) is None
        assert 0.35 <= time.monotonic() - started < 2.0

    def test_messages_arrive_in_publish_order(self, queue: Queue) -> None:
        sent = [job(n) for n in range(5)]
        for message in sent:
            queue.publish(message)
        consumer = queue.consumer(prefetch=5)
        got = [receive(consumer) for _ in sent]
        assert [d.message.job_id for d in got] == [m.job_id for m in sent]
        for delivery in got:
            delivery.ack()

    def test_prefetch_bounds_unsettled_deliveries(self, queue: Queue) -> None:
        for n in range(3):
            queue.publish(job(n))
        consumer = queue.consumer(prefetch=2)
        first, second = receive(consumer), receive(consumer)
        assert consumer.receive(0.5) is None
        first.ack()
        third = receive(consumer)
        assert {first.message.job_id, second.message.job_id, third.message.job_id} == {
            "obj-0",
            "obj-1",
            "obj-2",
        }
        second.ack()
        third.ack()

    def test_unsettled_deliveries_come_back_when_the_consumer_closes(self, queue: Queue) -> None:
        queue.publish(job("a"))
        queue.publish(job("b"))
        first = queue.consumer(prefetch=2)
        taken = [receive(first), receive(first)]
        assert all(not d.redelivered for d in taken)
        first.close()

        second = queue.consumer(prefetch=2)
        again = [receive(second), receive(second)]
        assert sorted(d.message.job_id for d in again) == ["obj-a", "obj-b"]
        assert all(d.redelivered for d in again)
        for delivery in again:
            delivery.ack()
        assert second.receive(0.3) is None

    def test_settling_after_the_consumer_closed_does_not_lose_the_message(
        self, queue: Queue
    ) -> None:
        queue.publish(job("late"))
        first = queue.consumer()
        delivery = receive(first)
        first.close()
        delivery.ack()  # too late: logged, and the message is delivered again
        again = receive(queue.consumer())
        assert again.message.job_id == "obj-late"
        assert again.redelivered
        again.ack()

    def test_retry_delivers_the_next_attempt_after_the_delay(self, queue: Queue) -> None:
        sent = job("retry")
        queue.publish(sent)
        consumer = queue.consumer()
        delivery = receive(consumer)
        started = time.monotonic()
        delivery.retry(0.5)
        assert consumer.receive(0.2) is None, "a retry must wait for its delay"
        again = receive(consumer)
        waited = time.monotonic() - started
        assert 0.45 <= waited < 3.0
        assert again.message.attempt == sent.attempt + 1
        assert again.message.job_id == sent.job_id
        assert again.message.object_id == sent.object_id
        again.ack()
        assert consumer.receive(0.3) is None

    def test_retry_not_counted_sends_the_same_attempt_again(self, queue: Queue) -> None:
        sent = ProcessObject.for_object("obj-outage", attempt=3)
        queue.publish(sent)
        consumer = queue.consumer()
        receive(consumer).retry(0.5, counted=False)
        again = receive(consumer)
        assert again.message.attempt == 3
        assert again.message.enqueued_at >= sent.enqueued_at
        again.ack()

    def test_delivery_count_counts_deliveries_that_ended_unsettled(self, queue: Queue) -> None:
        queue.publish(job("counted"))
        first = queue.consumer()
        delivery = receive(first)
        assert (delivery.delivery_count, delivery.redelivered) == (0, False)
        first.close()  # as if the worker died
        second = queue.consumer()
        delivery = receive(second)
        assert (delivery.delivery_count, delivery.redelivered) == (1, True)
        delivery.retry(0.5)
        # A retry is a new message: its deliveries are counted afresh.
        retried = receive(second)
        assert (retried.delivery_count, retried.message.attempt) == (0, 2)
        retried.ack()

    def test_a_message_handed_back_past_the_delivery_limit_is_dead_lettered(
        self, queue: Queue
    ) -> None:
        """A consumer that dies on every delivery of a message (a poison message that crashes
        the worker) gets it ``limit + 1`` times; then the queue puts it aside by itself."""
        limit = self.delivery_limit
        if limit is None:
            pytest.skip("needs delivery_limit: the limit the queue fixture's queue has")
        sent = job("poison")
        queue.publish(sent)
        counts = []
        for _ in range(limit + 1):
            consumer = queue.consumer()
            counts.append(receive(consumer).delivery_count)
            consumer.close()
        assert counts == list(range(limit + 1))
        assert queue.consumer().receive(1.0) is None, "delivered past the delivery limit"
        assert take_dead_letters(queue) == [sent]

    def test_dead_letter_moves_the_message_aside(self, queue: Queue) -> None:
        sent = job("dead")
        queue.publish(sent)
        consumer = queue.consumer()
        receive(consumer).dead_letter("cannot be processed")
        assert consumer.receive(0.5) is None, "a dead letter is never redelivered"

        assert take_dead_letters(queue) == [sent]
        assert queue.dead_letters() == [], "dead_letters takes the messages off"

    def test_dead_letters_respects_the_limit(self, queue: Queue) -> None:
        consumer = queue.consumer(prefetch=3)
        for n in range(3):
            queue.publish(job(n))
        for _ in range(3):
            receive(consumer).dead_letter("no")
        batches: list[list[ProcessObject]] = []

        def all_taken() -> bool:
            batches.append(queue.dead_letters(limit=2))
            return sum(len(b) for b in batches) >= 3

        assert eventually(all_taken)
        assert max(len(b) for b in batches) == 2
        assert sorted(m.job_id for b in batches for m in b) == ["obj-0", "obj-1", "obj-2"]

    @pytest.mark.parametrize("first", ["ack", "retry", "dead_letter"])
    @pytest.mark.parametrize("second", ["ack", "retry", "dead_letter"])
    def test_settling_twice_raises(self, queue: Queue, first: str, second: str) -> None:
        queue.publish(job("twice"))
        delivery = receive(queue.consumer())
        settle: dict[str, Callable[[], None]] = {
            "ack": delivery.ack,
            "retry": lambda: delivery.retry(0.5),
            "dead_letter": lambda: delivery.dead_letter("first"),
        }
        settle[first]()
        with pytest.raises(MessageStateError):
            settle[second]()

    def test_concurrent_publishers_lose_and_duplicate_nothing(self, queue: Queue) -> None:
        threads, per_thread = 8, 40
        start = threading.Barrier(threads)
        errors: list[BaseException] = []

        def publish_many(t: int) -> None:
            start.wait()
            try:
                for n in range(per_thread):
                    queue.publish(job(f"{t}-{n}"))
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=publish_many, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert errors == []

        consumer = queue.consumer(prefetch=50)
        got: list[str] = []
        while (delivery := consumer.receive(1.0)) is not None:
            got.append(delivery.message.job_id)
            delivery.ack()
        expected = {f"obj-{t}-{n}" for t in range(threads) for n in range(per_thread)}
        assert len(got) == len(expected), "a message was lost or duplicated"
        assert set(got) == expected

    def test_depth_counts_ready_messages_only(self, queue: Queue) -> None:
        assert queue.depth() == 0
        for n in range(3):
            queue.publish(job(n))
        assert eventually(lambda: queue.depth() == 3)
        consumer = queue.consumer(prefetch=1)
        delivery = receive(consumer)
        assert eventually(lambda: queue.depth() == 2), "an unsettled delivery is not ready"
        delivery.retry(0.5)
        # Closing hands back what the consumer was given next; the retried attempt waits out
        # its delay before it counts as ready again.
        consumer.close()
        assert eventually(lambda: queue.depth() == 2)
        assert eventually(lambda: queue.depth() == 3)

    def test_setup_is_idempotent_and_check_passes(self, queue: Queue) -> None:
        queue.setup()
        queue.setup()
        queue.check()
        queue.publish(job("after-setup"))
        receive(queue.consumer()).ack()

    def test_a_closed_queue_refuses_work(self, queue: Queue) -> None:
        queue.close()
        with pytest.raises(QueueUnavailableError):
            queue.publish(job("closed"))
        with pytest.raises(QueueUnavailableError):
            queue.check()
