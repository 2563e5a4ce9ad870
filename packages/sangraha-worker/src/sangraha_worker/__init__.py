"""Sangraha's background worker: validates, extracts metadata, deduplicates and files uploads."""

from .cli import main
from .replay import ReplayResult, replay_failures
from .worker import FailedJobs, JobContext, JobResult, Worker

__all__ = [
    "FailedJobs",
    "JobContext",
    "JobResult",
    "ReplayResult",
    "Worker",
    "main",
    "replay_failures",
]
