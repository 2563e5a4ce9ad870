"""What every delivery shares, whatever the broker: its message, and settling it once."""

from __future__ import annotations

from .._exceptions import MessageStateError
from .._messages import ProcessObject

__all__ = ["SettleOnce"]


class SettleOnce:
    """A received message that must be acknowledged, retried or dead-lettered exactly once."""

    def __init__(self, message: ProcessObject, redelivered: bool, delivery_count: int = 0) -> None:
        self._message = message
        self._redelivered = redelivered
        self._delivery_count = delivery_count
        self._settled = False

    @property
    def message(self) -> ProcessObject:
        return self._message

    @property
    def redelivered(self) -> bool:
        return self._redelivered

    @property
    def delivery_count(self) -> int:
        return self._delivery_count

    def _ensure_unsettled(self) -> None:
        if self._settled:
            raise MessageStateError(f"delivery of job {self._message.job_id} is already settled")

    def _claim(self) -> None:
        """Mark settled; a second settle raises ``MessageStateError``."""
        self._ensure_unsettled()
        self._settled = True
