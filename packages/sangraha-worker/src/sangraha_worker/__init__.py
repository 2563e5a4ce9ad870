"""Sangraha's background worker: validates, extracts metadata, deduplicates and files uploads."""

from .cli import main
from .worker import FailedJobs, JobContext, JobResult, Worker

__all__ = ["FailedJobs", "JobContext", "JobResult", "Worker", "main"]
