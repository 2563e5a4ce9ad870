"""``sangraha-worker``: run the worker against the backends named by ``SANGRAHA_*`` settings.

``sangraha-worker replay`` instead publishes again the jobs that failed for reasons outside
their own bytes (see ``replay.py``) and prints what it did as one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import time
from collections.abc import Sequence

from pydantic import ValidationError

from sangraha_core import (
    Backends,
    BackendUnavailableError,
    SangrahaError,
    Settings,
    configure_logging,
)

from .replay import replay_failures
from .worker import Worker

__all__ = ["main"]

logger = logging.getLogger("sangraha_worker")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sangraha-worker",
        description="Validate, extract, deduplicate and file uploads from the job queue. "
        "Backends come from the SANGRAHA_* environment variables.",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="consumer threads (SANGRAHA_WORKER_CONCURRENCY)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="most jobs a thread takes at once (SANGRAHA_WORKER_BATCH)",
    )
    parser.add_argument("--burst", action="store_true", help="exit once the queue stays empty")
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics server (127.0.0.1)"
    )
    parser.add_argument(
        "--reconcile-interval",
        type=float,
        default=30.0,
        help="seconds between re-publishing stale pending records (0: never)",
    )
    parser.add_argument(
        "--gc-interval",
        type=float,
        default=300.0,
        help="seconds between garbage collections (0: never)",
    )
    parser.add_argument(
        "--recover-on-start",
        action="store_true",
        help="publish every pending record once at start (for a queue that starts empty)",
    )
    parser.add_argument(
        "--log-level", default=os.environ.get("SANGRAHA_LOG_LEVEL", "INFO"), help="INFO, DEBUG..."
    )
    commands = parser.add_subparsers(dest="command", metavar="{replay}")
    commands.add_parser(
        "replay",
        help="publish again the dead letters and the records failed for a retriable reason",
        description="Take every message off the dead-letter queue and publish again each job "
        "whose record failed for a reason outside its bytes (gave up after N attempts, "
        "interrupted N times) or is still pending; records failed for good are left alone.",
    )
    return parser


def _open_waiting_out_outages(settings: Settings) -> Backends:
    """Open the backends; while one cannot be reached, try again, at most
    ``max_retry_delay`` apart. A worker (re)started during an outage then starts once the
    outage is over, instead of exiting. Any other error (a bad URL, a missing extra) raises."""
    delay = 1.0
    while True:
        try:
            return Backends.from_settings(settings, setup=True)
        except BackendUnavailableError as exc:
            logger.warning("a backend is unreachable (%s); trying again in %.0fs", exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, settings.max_retry_delay)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker until SIGTERM or SIGINT (or, with ``--burst``, an empty queue), or
    with ``replay``, publish the retriable failures again and exit."""
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        settings = Settings()
    except ValidationError as exc:
        logger.error("invalid SANGRAHA_* settings: %s", exc)
        return 2
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)
        logger.info("metrics on http://%s:%d/metrics", args.metrics_host, args.metrics_port)
    try:
        if args.command == "replay":
            # A person is waiting for the answer: say at once that a backend is down.
            backends = Backends.from_settings(settings, setup=True)
        else:
            backends = _open_waiting_out_outages(settings)
    except SangrahaError as exc:
        logger.error("could not open the backends: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.command == "replay":
        try:
            result = replay_failures(backends)
        except SangrahaError as exc:
            logger.error("replay stopped: %s", exc)
            return 1
        finally:
            backends.close()
        print(json.dumps(dataclasses.asdict(result)))
        return 0
    try:
        worker = Worker(
            backends,
            concurrency=args.concurrency,
            batch=args.batch,
            burst=args.burst,
            recover_on_start=args.recover_on_start,
            reconcile_interval=args.reconcile_interval,
            gc_interval=args.gc_interval,
        )
        worker.run()
    finally:
        backends.close()
    return 0
