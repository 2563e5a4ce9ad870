"""One lazily opened AMQP connection and channel, reopened after any failure.

pika's ``BlockingConnection`` is not thread-safe: a ``Link`` belongs to one thread at a
time, and its owner (a pool, a lock) guarantees that.
"""

from __future__ import annotations

import contextlib
import logging

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

__all__ = ["BROKER_ERRORS", "Link", "connection_parameters"]

logger = logging.getLogger("sangraha_core.queue.amqp")

#: What a lost, refused or broken connection or channel raises. pika lets a few socket
#: errors through unwrapped, hence ``OSError``.
BROKER_ERRORS: tuple[type[BaseException], ...] = (pika.exceptions.AMQPError, OSError)


def connection_parameters(url: str, *, name: str, timeout: float) -> pika.URLParameters:
    """Parameters that fail fast and name the connection, so operators (and tests) can
    tell which process owns it in ``rabbitmqctl list_connections``."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    # A broker under a memory or disk alarm blocks publishers; fail instead of hanging.
    params.blocked_connection_timeout = max(timeout, 30.0)
    params.client_properties = {"connection_name": name}
    return params


class Link:
    """A connection plus one channel, optionally in publisher-confirm mode."""

    def __init__(self, params: pika.URLParameters, *, confirm: bool = False) -> None:
        self._params = params
        self._confirm = confirm
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    @property
    def is_open(self) -> bool:
        return (
            self._connection is not None
            and self._connection.is_open
            and self._channel is not None
            and self._channel.is_open
        )

    @property
    def connection(self) -> BlockingConnection:
        self.channel()
        assert self._connection is not None
        return self._connection

    def channel(self) -> BlockingChannel:
        """The open channel, connecting first if needed; raises one of ``BROKER_ERRORS``."""
        if not self.is_open:
            self.reset()
            connection = BlockingConnection(self._params)
            try:
                channel = connection.channel()
                if self._confirm:
                    channel.confirm_delivery()
            except BaseException:
                with contextlib.suppress(*BROKER_ERRORS):
                    connection.close()
                raise
            self._connection, self._channel = connection, channel
        assert self._channel is not None
        return self._channel

    def reset(self) -> None:
        """Drop the connection (quietly: it is usually already broken)."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except BROKER_ERRORS as exc:
                logger.debug("closing a broken AMQP connection failed: %s", exc)

    close = reset
