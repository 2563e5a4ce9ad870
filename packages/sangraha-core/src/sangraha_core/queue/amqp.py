"""``AmqpQueue``: the job queue on RabbitMQ, through pika (``pip install "sangraha-core[amqp]"``).

Guarantees, beyond the protocol's:

- Publishing uses publisher confirms and ``mandatory``: ``publish`` returns only after the
  broker confirmed a persistent message routed to a durable quorum queue. A dropped
  connection is reopened and the publish retried a bounded number of times; an unroutable
  or refused message, or a broker still unreachable, raises ``QueueUnavailableError``.
  A retried publish whose first confirm was lost can deliver twice (at least once).
- Publishing connections form a small pool (``publishers``, default 4): a thread borrows
  one for the length of one publish. pika connections are not thread-safe, and a confirm
  costs a broker round trip plus a quorum commit, so a single locked connection would
  serialise every publishing thread behind that latency.
- ``Delivery.retry(delay)`` republishes the next attempt (with a confirm) to the retry
  queue of the smallest tier that waits at least ``delay`` (the largest tier when the
  delay exceeds them all), and only then acks the original. Should the republish fail,
  ``QueueUnavailableError`` is raised and the delivery stays unsettled.
- ``Delivery.dead_letter(reason)`` rejects without requeue; the broker moves the message
  to the dead-letter queue with its own ``x-death`` header. The reason is logged (at
  WARNING, with the job id), not stored on the message.
- A consumer whose connection broke reconnects on its next ``receive``; deliveries of the
  broken channel can no longer be settled (the broker redelivers them), so settling them
  logs and does nothing. Broker errors while settling are logged at CRITICAL, never raised.
- Bodies that are not a ``ProcessObject`` are dead-lettered as they arrive.
- ``Delivery.delivery_count`` is the quorum queue's ``x-delivery-count`` header: how many
  deliveries of the message ended unsettled, its consumers' deaths included. A delivery
  whose count exceeds ``delivery_limit`` is dead-lettered as it arrives. The limit is kept
  here rather than in an ``x-delivery-limit`` queue argument: RabbitMQ refuses to declare
  an existing queue with an argument it was not created with (406 PRECONDITION_FAILED), so
  the argument would break ``setup`` on every running deployment, and every process that
  declares the queue would have to agree on one value forever.
"""

from __future__ import annotations

import logging
import queue as stdlib_queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Self, TypeVar

import pika
import pika.exceptions
import tenacity
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from .._constants import DEFAULT_MAX_DELIVERIES
from .._exceptions import DeserializationError, QueueUnavailableError
from .._messages import ProcessObject, deserialize, serialize
from ._amqp_link import BROKER_ERRORS, Link, connection_parameters
from ._amqp_topology import DEFAULT_RETRY_TIERS, Topology
from ._delivery import SettleOnce

__all__ = ["CONSUMER_HEARTBEAT", "DEFAULT_RETRY_TIERS", "AmqpConsumer", "AmqpDelivery", "AmqpQueue"]

logger = logging.getLogger("sangraha_core.queue.amqp")

T = TypeVar("T")


def _tag(method: Basic.Deliver | Basic.GetOk) -> int:
    tag = method.delivery_tag
    if tag is None:  # pragma: no cover - the broker always sends one
        raise pika.exceptions.UnexpectedFrameError(method)
    return int(tag)


def _delivery_count(properties: BasicProperties) -> int:
    """``x-delivery-count``: set by quorum queues, absent on a first delivery elsewhere."""
    value = (properties.headers or {}).get("x-delivery-count", 0)
    return max(0, value) if isinstance(value, int) else 0


def _retryable(exc: BaseException) -> bool:
    # An unroutable message means the topology is missing: trying again will not help.
    return isinstance(exc, BROKER_ERRORS) and not isinstance(exc, pika.exceptions.UnroutableError)


class AmqpQueue:
    """Durable, confirmed job delivery through one RabbitMQ virtual host.

    :param url: ``amqp://user:pass@host:port/vhost`` (``amqps://`` for TLS).
    :param prefix: prepended to every exchange and queue name.
    :param retry_tiers: the delays (seconds) of the retry queues.
    :param connect_timeout: seconds to wait for a connection, a socket read or a handshake.
    :param publish_attempts: tries of one publish across reconnects before giving up.
    :param publishers: the number of pooled publishing connections.
    :param delivery_limit: unsettled deliveries of one message after which it is
        dead-lettered rather than handed out again.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        retry_tiers: Sequence[float] | None = None,
        connect_timeout: float = 5.0,
        publish_attempts: int = 3,
        publishers: int = 4,
        delivery_limit: int = DEFAULT_MAX_DELIVERIES,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.delivery_limit = max(0, delivery_limit)
        self.topology = Topology.of(prefix, retry_tiers)
        self._timeout = connect_timeout
        self._publish_attempts = max(1, publish_attempts)
        self._closed = False
        self._pool: stdlib_queue.LifoQueue[Link] = stdlib_queue.LifoQueue()
        for n in range(max(1, publishers)):
            self._pool.put(Link(self._params(f"publisher-{n}"), confirm=True))
        self._admin = Link(self._params("admin"))
        self._admin_lock = threading.Lock()
        self._consumers: set[AmqpConsumer] = set()
        self._consumers_lock = threading.Lock()

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "", delivery_limit: int = DEFAULT_MAX_DELIVERIES
    ) -> Self:
        return cls(url, prefix=prefix, delivery_limit=delivery_limit)

    def _params(self, role: str) -> pika.URLParameters:
        return connection_parameters(
            self.url, name=f"{self.prefix}sangraha {role}", timeout=self._timeout
        )

    # -- the protocol -------------------------------------------------------------------

    def setup(self) -> None:
        self._run_admin(self.topology.declare, "declare the queues")

    def publish(self, message: ProcessObject) -> None:
        self._publish(message, self.topology.process_queue)

    def consumer(self, *, prefetch: int = 1) -> AmqpConsumer:
        self._ensure_open()
        consumer = AmqpConsumer(self, prefetch=prefetch)
        with self._consumers_lock:
            self._consumers.add(consumer)
        return consumer

    def depth(self) -> int:
        def count(channel: BlockingChannel) -> int:
            frame = channel.queue_declare(self.topology.process_queue, passive=True)
            return int(frame.method.message_count)

        return self._run_admin(count, "count the queue")

    def dead_letters(self, *, limit: int = 100) -> list[ProcessObject]:
        def take(channel: BlockingChannel) -> list[ProcessObject]:
            taken: list[ProcessObject] = []
            unreadable: list[int] = []
            while len(taken) < limit:
                method, _props, body = channel.basic_get(self.topology.dead_letter_queue)
                if method is None:
                    break
                try:
                    taken.append(deserialize(body or b""))
                except DeserializationError as exc:
                    # Held unacked until the end, so basic_get moves past it; then it goes
                    # back, for a person with the broker's own tools.
                    logger.error("unreadable dead letter left in place: %s", exc)
                    unreadable.append(_tag(method))
                    continue
                channel.basic_ack(_tag(method))
            for tag in unreadable:
                channel.basic_nack(tag, requeue=True)
            return taken

        return self._run_admin(take, "read the dead-letter queue")

    def check(self) -> None:
        self._run_admin(lambda channel: channel.connection.process_data_events(0), "connect")

    def close(self) -> None:
        self._closed = True
        with self._consumers_lock:
            consumers, self._consumers = list(self._consumers), set()
        for consumer in consumers:
            consumer.close()
        while True:
            try:
                self._pool.get_nowait().close()
            except stdlib_queue.Empty:
                break
        with self._admin_lock:
            self._admin.close()

    # -- beyond the protocol ------------------------------------------------------------

    def delete_topology(self) -> None:
        """Delete every queue (with its messages) and the exchange: for tests and teardown."""
        self._run_admin(self.topology.delete, "delete the queues")

    teardown = delete_topology

    def retry_queue_for(self, delay: float) -> str:
        """The retry queue ``Delivery.retry(delay)`` publishes to."""
        return self.topology.retry_queue(self.topology.tier_for(delay))

    # -- internals ----------------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise QueueUnavailableError("the queue is closed")

    def _forget(self, consumer: AmqpConsumer) -> None:
        with self._consumers_lock:
            self._consumers.discard(consumer)

    def _publish(self, message: ProcessObject, routing_key: str) -> None:
        self._ensure_open()
        body = serialize(message)
        properties = BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message.job_id,
            type=message.type,
            timestamp=int(time.time()),
        )
        link = self._pool.get()
        try:
            for attempt in tenacity.Retrying(
                stop=tenacity.stop_after_attempt(self._publish_attempts),
                wait=tenacity.wait_exponential(multiplier=0.05, max=1.0),
                retry=tenacity.retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    try:
                        link.channel().basic_publish(
                            self.topology.exchange,
                            routing_key,
                            body,
                            properties=properties,
                            mandatory=True,
                        )
                    except BROKER_ERRORS as exc:
                        if not isinstance(exc, pika.exceptions.UnroutableError):
                            logger.warning("publish of %s failed: %r", message.job_id, exc)
                            link.reset()
                        raise
        except pika.exceptions.UnroutableError as exc:
            raise QueueUnavailableError(
                f"message {message.job_id} is unroutable to {routing_key!r}: "
                "is the topology declared (setup())?"
            ) from exc
        except BROKER_ERRORS as exc:
            raise QueueUnavailableError(
                f"the broker did not confirm message {message.job_id}: {exc!r}"
            ) from exc
        finally:
            if self._closed:
                link.close()
            self._pool.put(link)

    def _run_admin(self, action: Callable[[BlockingChannel], T], what: str) -> T:
        self._ensure_open()
        with self._admin_lock:
            error: BaseException | None = None
            # Twice: the first failure may only be a connection that went stale while idle.
            for _ in range(2):
                try:
                    return action(self._admin.channel())
                except BROKER_ERRORS as exc:
                    error = exc
                    self._admin.reset()
            raise QueueUnavailableError(f"could not {what} on the broker: {error!r}") from error


#: Seconds between heartbeats on consumer connections, unless the URL sets ``heartbeat``.
CONSUMER_HEARTBEAT = 600


class AmqpDelivery(SettleOnce):
    """One message from an ``AmqpConsumer``; settle it exactly once, from its thread."""

    def __init__(
        self,
        consumer: AmqpConsumer,
        channel: BlockingChannel,
        delivery_tag: int,
        message: ProcessObject,
        redelivered: bool,
        delivery_count: int = 0,
    ) -> None:
        super().__init__(message, redelivered, delivery_count)
        self._consumer = consumer
        self._channel = channel
        self._tag = delivery_tag

    def ack(self) -> None:
        self._claim()
        self._on_channel("ack", lambda ch: ch.basic_ack(self._tag))

    def retry(self, delay: float, *, counted: bool = True) -> None:
        self._ensure_unsettled()
        routing_key = self._consumer.queue.retry_queue_for(delay)
        self._consumer.queue._publish(self._message.next_attempt(counted=counted), routing_key)
        self._claim()
        self._on_channel("ack (after retry)", lambda ch: ch.basic_ack(self._tag))

    def dead_letter(self, reason: str) -> None:
        self._claim()
        logger.warning("dead-lettering job %s: %s", self._message.job_id, reason)
        self._on_channel("dead-letter", lambda ch: ch.basic_nack(self._tag, requeue=False))

    def _on_channel(self, what: str, action: Callable[[BlockingChannel], None]) -> None:
        if not self._channel.is_open:
            logger.warning(
                "cannot %s job %s: its channel is gone; the broker will deliver it again",
                what,
                self._message.job_id,
            )
            return
        try:
            action(self._channel)
        except BROKER_ERRORS as exc:
            logger.critical(
                "broker error during %s of job %s (it will be delivered again): %r",
                what,
                self._message.job_id,
                exc,
            )
            self._consumer._mark_broken()


class AmqpConsumer:
    """Manual-ack consumer on a connection of its own, with ``prefetch`` unsettled at most."""

    def __init__(self, queue: AmqpQueue, *, prefetch: int = 1) -> None:
        self.queue = queue
        self._prefetch = max(1, prefetch)
        params = queue._params("consumer")
        if "heartbeat" not in queue.url:
            # Heartbeats are only answered inside ``receive``; a long job (a multi-GB object)
            # must not look like a dead peer, so consumers ask for a long interval.
            params.heartbeat = CONSUMER_HEARTBEAT
        self._link = Link(params)
        self._buffer: deque[tuple[BlockingChannel, Basic.Deliver, BasicProperties, bytes]] = deque()
        self._closed = False
        self._connect()

    def _connect(self) -> None:
        self._buffer.clear()
        try:
            channel = self._link.channel()
            channel.basic_qos(prefetch_count=self._prefetch)
            channel.basic_consume(
                self.queue.topology.process_queue, self._on_message, auto_ack=False
            )
        except BROKER_ERRORS as exc:
            self._link.reset()
            raise QueueUnavailableError(f"could not start consuming: {exc!r}") from exc

    def _on_message(
        self,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        self._buffer.append((channel, method, properties, body))

    @staticmethod
    def _reject(channel: BlockingChannel, method: Basic.Deliver, what: str) -> None:
        logger.error("dead-lettering %s", what)
        try:
            channel.basic_nack(_tag(method), requeue=False)
        except BROKER_ERRORS as exc:
            logger.critical("could not dead-letter %s: %r", what, exc)

    def _mark_broken(self) -> None:
        self._link.reset()
        self._buffer.clear()

    def receive(self, timeout: float) -> AmqpDelivery | None:
        if self._closed:
            raise QueueUnavailableError("the consumer is closed")
        deadline = time.monotonic() + timeout
        while True:
            while self._buffer:
                channel, method, properties, body = self._buffer.popleft()
                count = _delivery_count(properties)
                try:
                    message = deserialize(body)
                except DeserializationError as exc:
                    self._reject(channel, method, f"an unreadable message: {exc}")
                    continue
                if count > self.queue.delivery_limit:
                    self._reject(
                        channel,
                        method,
                        f"job {message.job_id}: delivered {count + 1} times without being settled",
                    )
                    continue
                return AmqpDelivery(
                    self, channel, _tag(method), message, bool(method.redelivered), count
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self._link.is_open:
                logger.info("consumer reconnecting to the broker")
                self._connect()
            try:
                self._link.connection.process_data_events(time_limit=remaining)
            except BROKER_ERRORS as exc:
                logger.warning("consumer lost its broker connection: %r", exc)
                self._mark_broken()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        # Closing the channel hands every unacked delivery back to the broker.
        self._link.close()
        self.queue._forget(self)
