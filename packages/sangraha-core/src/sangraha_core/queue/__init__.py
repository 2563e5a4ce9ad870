"""Job queues: the protocol, and the backends behind it (``memory``, ``amqp``)."""

from ._protocol import Consumer, Delivery, Queue

__all__ = ["Consumer", "Delivery", "Queue"]
