"""SIGTERM and SIGINT as a request to stop: the jobs in progress finish first.

The worker's ``stop`` then logs what it waits for (how many jobs, the longest running).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["stop_on_signals"]

logger = logging.getLogger("sangraha_worker")


def stop_on_signals(stopping: threading.Event) -> Callable[[], None]:
    """Set ``stopping`` on SIGTERM or SIGINT; return what puts the previous handlers back.

    Only the main thread may install signal handlers.
    """

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only the log handler's lock is taken here, and it is reentrant: the handler runs
        # on the main thread, which may be holding it already.
        name = signal.Signals(signum).name
        if stopping.is_set():
            logger.warning(
                "%s received again: still finishing the jobs in progress; SIGKILL abandons "
                "them (their records stay pending and are processed again later)",
                name,
            )
        else:
            logger.info("%s received: finishing the jobs in progress", name)
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
