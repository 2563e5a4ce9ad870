"""What the worker keeps and reports about each job: results, hook contexts, hooks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sangraha_core import Outcome, ProcessObject

if TYPE_CHECKING:
    from .worker import Worker

__all__ = ["FailedJobs", "JobContext", "JobHook", "JobResult", "WorkerHook", "call_hook"]

logger = logging.getLogger("sangraha_worker")


@dataclass(frozen=True)
class JobResult:
    """How one delivery was settled."""

    object_id: str
    attempt: int
    settled: str
    """``ack``, ``retry`` or ``dead_letter``."""
    outcome: Outcome | None
    """What ``process_object`` returned; ``None`` when it raised."""
    error: str | None = None


@dataclass
class JobContext:
    """What the job hooks see; ``after_job_end`` also gets the result."""

    worker: Worker
    message: ProcessObject
    redelivered: bool
    delivery_count: int = 0
    """Earlier deliveries of this message that ended unsettled (the worker died)."""
    started: float = field(default_factory=time.monotonic)
    outcome: Outcome | None = None
    error: BaseException | None = None
    settled: str | None = None
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    """Free for hooks to pass values from ``on_job_start`` to ``after_job_end``."""


JobHook = Callable[[JobContext], None]
WorkerHook = Callable[["Worker"], None]


class FailedJobs(RuntimeError):
    """``run_check`` found jobs that ended failed or dead-lettered."""

    def __init__(self, count: int, job_results: list[JobResult]) -> None:
        self.count = count
        self.job_results = job_results
        shown = "; ".join(
            f"{r.object_id} ({r.settled}): {r.error or r.outcome}" for r in job_results[:3]
        )
        more = f" and {len(job_results) - 3} more" if len(job_results) > 3 else ""
        super().__init__(f"{count} job(s) failed: {shown}{more}")


def call_hook(hook: Callable[[Any], None] | None, arg: Any) -> None:
    """Run a user hook; a hook that raises must not stop the job or the worker."""
    if hook is None:
        return
    try:
        hook(arg)
    except Exception:
        logger.exception("hook %r failed", hook)
