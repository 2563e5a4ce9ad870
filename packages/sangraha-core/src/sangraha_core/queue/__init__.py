"""Job queues: the protocol, and the backends behind it (``memory``, ``amqp``).

``AmqpQueue`` lives in ``sangraha_core.queue.amqp`` and is not imported here, so that
this package works without pika (``pip install "sangraha-core[amqp]"`` brings it).
"""

from ._protocol import Consumer, Delivery, Queue
from .memory import MemoryConsumer, MemoryDelivery, MemoryQueue

__all__ = ["Consumer", "Delivery", "MemoryConsumer", "MemoryDelivery", "MemoryQueue", "Queue"]
