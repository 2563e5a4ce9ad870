"""Abuse limits: requests a second per key, and failed sign-ins per client address.

Both are kept in each process's memory: cheap, with nothing to reach on the request path,
and bounded in size. With several receivers or getters, each one counts for itself, so a
key's limit is per process (docs/access.md).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["FailureThrottle", "RateLimiter"]

#: Keys or addresses tracked at most; the least recently seen are forgotten first.
MAX_TRACKED = 100_000


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second, bursts of up to ``burst``."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def burst_of(rate: float) -> float:
        # A second's worth, and never less than a few requests, so a client that opens a
        # page of parallel reads is not refused for its first second.
        return max(rate, 5.0)

    def take(self, key: str, rate: float) -> float | None:
        """Spend one request of ``key``'s; ``None`` if allowed, else seconds to wait."""
        if rate <= 0:
            return None
        burst = self.burst_of(rate)
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = None
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / rate
            while len(self._buckets) > MAX_TRACKED:
                self._buckets.popitem(last=False)
        return wait


class FailureThrottle:
    """Refuse an address that failed to sign in ``limit`` times within ``window`` seconds,
    until that window has passed: guessing secrets is slow, honest clients are unhurt."""

    def __init__(
        self, *, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        # address -> (failures in the window, when the window began)
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, address: str) -> float | None:
        """Seconds ``address`` must wait, or ``None`` if it may try."""
        now = self._clock()
        with self._lock:
            count, since = self._failures.get(address, (0, now))
            if now - since >= self._window:
                self._failures.pop(address, None)
                return None
            return since + self._window - now if count >= self._limit else None

    def failed(self, address: str) -> None:
        now = self._clock()
        with self._lock:
            count, since = self._failures.pop(address, (0, now))
            if now - since >= self._window:
                count, since = 0, now
            self._failures[address] = (count + 1, since)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)
