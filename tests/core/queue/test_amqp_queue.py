"""What only the RabbitMQ backend can get wrong: topology, properties, broken connections."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Callable

import pika
import pytest

from sangraha_core import ConfigurationError, ProcessObject, QueueUnavailableError, serialize
from sangraha_core.queue._amqp_topology import Topology
from sangraha_core.queue.amqp import CONSUMER_HEARTBEAT, DEFAULT_RETRY_TIERS, AmqpQueue

pytestmark = pytest.mark.rabbitmq

Poll = Callable[[Callable[[], bool]], bool]


def raw_channel(url: str) -> pika.adapters.blocking_connection.BlockingChannel:
    return pika.BlockingConnection(pika.URLParameters(url)).channel()


def queue_count(url: str, name: str) -> int:
    channel = raw_channel(url)
    try:
        return int(channel.queue_declare(name, passive=True).method.message_count)
    finally:
        channel.connection.close()


def rabbitmqctl(*args: str) -> str:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def our_connections(prefix: str) -> list[str]:
    """Broker-side ids (Erlang pids) of the connections whose given name starts with ``prefix``."""
    listed = rabbitmqctl("list_connections", "--no-table-headers", "pid", "client_properties")
    marker = f'{{"connection_name","{prefix}'
    return [line.split("\t", 1)[0] for line in listed.splitlines() if marker in line]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_tier_for_picks_the_smallest_tier_that_waits_long_enough() -> None:
    topology = Topology.of("p.")
    assert topology.retry_tiers == DEFAULT_RETRY_TIERS == (1.0, 5.0, 30.0, 120.0, 300.0)
    assert topology.tier_for(0) == 1.0
    assert topology.tier_for(1.0) == 1.0
    assert topology.tier_for(1.01) == 5.0
    assert topology.tier_for(31) == 120.0
    assert topology.tier_for(300) == 300.0, "the default max_retry_delay has a tier of its own"
    assert topology.tier_for(3600) == 300.0, "past the largest tier, the largest"
    assert topology.retry_queue(0.5) == "p.sangraha.process.retry.500ms"


def test_topology_names_carry_the_prefix() -> None:
    topology = Topology.of("x.", [2, 0.5])
    assert topology.exchange == "x.sangraha"
    assert topology.process_queue == "x.sangraha.process"
    assert topology.dead_letter_queue == "x.sangraha.process.dead"
    assert topology.retry_queues == [
        "x.sangraha.process.retry.500ms",
        "x.sangraha.process.retry.2000ms",
    ]
    with pytest.raises(ConfigurationError):
        Topology.of("x.", [0])


def test_from_url_uses_the_prefix(amqp_url: str) -> None:
    queue = AmqpQueue.from_url(amqp_url, prefix="abc.")
    try:
        assert queue.topology.process_queue == "abc.sangraha.process"
    finally:
        queue.close()


def test_queues_are_durable_quorum_and_messages_persistent(
    amqp_queue: AmqpQueue, amqp_url: str
) -> None:
    topology = amqp_queue.topology
    sent = ProcessObject.for_object("props")
    amqp_queue.publish(sent)
    channel = raw_channel(amqp_url)
    try:
        # Redeclaring with other arguments fails: proof of the arguments in place.
        channel.queue_declare(
            topology.process_queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": topology.exchange,
                "x-dead-letter-routing-key": topology.dead_letter_queue,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        method, props, body = channel.basic_get(topology.process_queue, auto_ack=True)
        assert method is not None and props is not None
        assert props.delivery_mode == 2
        assert props.content_type == "application/json"
        assert props.message_id == sent.job_id
        assert body == serialize(sent)
    finally:
        channel.connection.close()


def test_setup_is_safe_from_two_processes_at_once(amqp_url: str, queue_prefix: str) -> None:
    first = AmqpQueue(amqp_url, prefix=queue_prefix, retry_tiers=(0.5,))
    second = AmqpQueue(amqp_url, prefix=queue_prefix, retry_tiers=(0.5,))
    try:
        first.setup()
        second.setup()
        second.publish(ProcessObject.for_object("x"))
        assert first.depth() == 1
    finally:
        first.delete_topology()
        first.close()
        second.close()


def test_publish_without_topology_fails(amqp_url: str, queue_prefix: str) -> None:
    queue = AmqpQueue(amqp_url, prefix=queue_prefix)
    channel = raw_channel(amqp_url)
    try:
        with pytest.raises(QueueUnavailableError):
            queue.publish(ProcessObject.for_object("no-exchange"))
        with pytest.raises(QueueUnavailableError):
            queue.depth()
        # An exchange without the queues: the broker returns the mandatory message.
        channel.exchange_declare(queue.topology.exchange, exchange_type="direct", durable=True)
        with pytest.raises(QueueUnavailableError, match="unroutable"):
            queue.publish(ProcessObject.for_object("no-queue"))
    finally:
        channel.exchange_delete(queue.topology.exchange)
        channel.connection.close()
        queue.close()


def test_a_garbage_body_is_dead_lettered_and_consuming_goes_on(
    amqp_queue: AmqpQueue, amqp_url: str, eventually: Poll, caplog: pytest.LogCaptureFixture
) -> None:
    topology = amqp_queue.topology
    channel = raw_channel(amqp_url)
    try:
        channel.confirm_delivery()
        channel.basic_publish(topology.exchange, topology.process_queue, b"\x00not json")
    finally:
        channel.connection.close()
    sent = ProcessObject.for_object("after-garbage")
    amqp_queue.publish(sent)

    consumer = amqp_queue.consumer(prefetch=2)
    with caplog.at_level(logging.ERROR, logger="sangraha_core.queue.amqp"):
        delivery = consumer.receive(5)
    assert delivery is not None and delivery.message == sent
    delivery.ack()
    assert "unreadable" in caplog.text
    assert eventually(lambda: queue_count(amqp_url, topology.dead_letter_queue) == 1)
    # Not a ProcessObject, so not returned, but left in place for a person.
    assert amqp_queue.dead_letters() == []
    # Handed back with a nack, which the quorum queue applies asynchronously.
    assert eventually(lambda: queue_count(amqp_url, topology.dead_letter_queue) == 1)


def test_the_dead_letter_reason_is_logged(
    amqp_queue: AmqpQueue, caplog: pytest.LogCaptureFixture
) -> None:
    amqp_queue.publish(ProcessObject.for_object("why"))
    delivery = amqp_queue.consumer().receive(5)
    assert delivery is not None
    with caplog.at_level(logging.WARNING, logger="sangraha_core.queue.amqp"):
        delivery.dead_letter("the PDF has no pages")
    assert (
        "the PDF has no pages" in caplog.text and "obj" not in caplog.text
    ) or "why" in caplog.text


def test_connections_are_named_after_the_prefix(amqp_queue: AmqpQueue, queue_prefix: str) -> None:
    amqp_queue.publish(ProcessObject.for_object("named"))
    consumer = amqp_queue.consumer()
    names = our_connections(queue_prefix)
    # The admin link (from setup), one publisher and the consumer.
    assert len(names) == 3
    consumer.close()


def test_everything_reconnects_after_the_broker_closes_our_connections(
    amqp_queue: AmqpQueue, queue_prefix: str
) -> None:
    amqp_queue.publish(ProcessObject.for_object("before"))
    consumer = amqp_queue.consumer(prefetch=1)
    held = consumer.receive(5)
    assert held is not None

    pids = our_connections(queue_prefix)
    assert pids
    # rabbitmqctl takes a second or more per call: close them all at once.
    closers = [
        subprocess.Popen(["rabbitmqctl", "-q", "close_connection", pid, "closed by a test"])
        for pid in pids
    ]
    assert all(closer.wait(60) == 0 for closer in closers)
    # The broker now waits for each client to answer its close; give the frames a moment.
    time.sleep(0.5)

    held.ack()  # its channel is gone: logged, no crash, delivered again below
    amqp_queue.publish(ProcessObject.for_object("after"))
    got: dict[str, bool] = {}
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        delivery = consumer.receive(1)
        if delivery is not None:
            got[delivery.message.job_id] = delivery.redelivered
            delivery.ack()
    assert got == {"before": True, "after": False}
    assert amqp_queue.depth() == 0
    amqp_queue.check()


def test_an_unreachable_broker_fails_fast() -> None:
    url = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"
    queue = AmqpQueue(url, connect_timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(QueueUnavailableError):
            queue.publish(ProcessObject.for_object("lost"))
        assert time.monotonic() - started < 5.0
        with pytest.raises(QueueUnavailableError):
            queue.check()
        with pytest.raises(QueueUnavailableError):
            queue.consumer()
    finally:
        queue.close()


def test_consumers_ask_for_a_long_heartbeat(amqp_queue: AmqpQueue, queue_prefix: str) -> None:
    """A job may run for minutes between two ``receive`` calls; its consumer connection must
    not be taken for dead meanwhile, while the other connections keep the broker's."""
    consumer = amqp_queue.consumer()
    try:
        assert consumer.receive(0.1) is None
        listed = rabbitmqctl(
            "list_connections", "--no-table-headers", "timeout", "client_properties"
        )
        ours = [line for line in listed.splitlines() if f'"{queue_prefix}sangraha ' in line]
        timeouts = {line.split("\t", 1)[0] for line in ours if "sangraha consumer" in line}
        assert timeouts == {str(CONSUMER_HEARTBEAT)}
        others = {line.split("\t", 1)[0] for line in ours if "sangraha consumer" not in line}
        assert others and str(CONSUMER_HEARTBEAT) not in others
    finally:
        consumer.close()
