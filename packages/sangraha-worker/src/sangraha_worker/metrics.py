"""The worker's Prometheus metrics, on the default registry (``main --metrics-port`` serves it)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BLOBS_COLLECTED",
    "DEAD_LETTERS",
    "JOBS",
    "JOBS_IN_PROGRESS",
    "JOB_DURATION",
    "REPUBLISHED",
    "RETRIES",
    "RETRIES_BY_CAUSE",
    "STAGING_SWEPT",
]

JOBS = Counter(
    "sangraha_worker_jobs_total",
    "Jobs acknowledged, by outcome (done, failed, skipped)",
    ["outcome"],
)
JOB_DURATION = Histogram(
    "sangraha_worker_job_duration_seconds",
    "Time to process one job, from delivery to settlement",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOBS_IN_PROGRESS = Gauge("sangraha_worker_jobs_in_progress", "Jobs being processed right now")
RETRIES = Counter("sangraha_worker_retries_total", "Jobs sent back for a later attempt")
RETRIES_BY_CAUSE = Counter(
    "sangraha_worker_retries_by_cause_total",
    "Jobs sent back for a later try, by cause: backend (an outage, not counted against "
    "max_attempts) or error (counted)",
    ["cause"],
)
DEAD_LETTERS = Counter(
    "sangraha_worker_dead_letters_total", "Jobs given up on after their last attempt"
)
REPUBLISHED = Counter(
    "sangraha_worker_republished_total", "Pending records published again by the reconciler"
)
BLOBS_COLLECTED = Counter(
    "sangraha_worker_blobs_collected_total", "Unreferenced content blobs deleted"
)
STAGING_SWEPT = Counter("sangraha_worker_staging_swept_total", "Orphaned staging blobs deleted")
