"""Small objects: write, process and read rates, listing latency, RSS and CPU per process.

``python -m benchmarks.small_objects [--quick] [--only embedded|distributed]`` starts the
embedded server and the distributed topology as real processes (``tests/_topology.py``),
drives bounded load from a separate process (``benchmarks/_driver.py``), prints one JSON
line per scenario, and rewrites the generated part of the "Small objects" section of
``benchmarks/RESULTS.md``.

Every product figure is printed next to a baseline measured in the same run and their
ratio: a bare ASGI app answering the same sizes from memory and from disk
(``benchmarks/_baseline.py``), direct boto3 against the same S3 endpoint (a Ceph RGW of
its own) and direct pika publishes with confirms to the same broker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._measure import MIB, cpu_seconds, peak_rss
from benchmarks._results import fmt, write_section
from sangraha_core import Digest, ObjectKind, ObjectRecord, ObjectStatus, new_id, utcnow
from sangraha_core.metadata.sql import SqlMetadataStore
from tests._rgw import CephRgw
from tests._services import AMQP_URL, PG_HOST, PG_PORT, PG_USER, free_port, wait_for_port
from tests._topology import Topology, distributed, embedded

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN = "<!-- small-objects:begin -->"
END = "<!-- small-objects:end -->"
SECTION = "## Small objects"

CONCURRENCY = 32
LISTING_RECORDS = 100_000
LISTING_GROUPS = 10


@dataclass
class Plan:
    """How long each phase may run: every phase stops at its count or its time."""

    seconds: float
    read_keys: int
    png_seconds: float
    listing_requests: int
    process_timeout: float


FULL = Plan(seconds=4.0, read_keys=2000, png_seconds=3.0, listing_requests=100, process_timeout=30)
QUICK = Plan(seconds=2.0, read_keys=500, png_seconds=1.5, listing_requests=30, process_timeout=15)


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)

    def add(self, topology: str, scenario: str, figures: dict[str, Any], **extra: Any) -> None:
        row = {"topology": topology, "scenario": scenario, **figures, **extra}
        self.rows.append(row)
        print(json.dumps(row), flush=True)


def drive(**spec: Any) -> dict[str, Any]:
    """Run one bounded scenario in a driver process of its own; its figures."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._driver", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=float(spec.get("duration", 10)) + 60,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def usage(pid: int) -> dict[str, Any]:
    """Peak resident memory (MiB) and CPU seconds (user + system) of a live process."""
    return {"peak_rss_mib": round(peak_rss(pid) / MIB, 1), "cpu_s": round(cpu_seconds(pid), 2)}


def ratio(value: float | None, base: float | None) -> float | None:
    if not value or not base:
        return None
    return round(value / base, 3)


# -- the baselines -------------------------------------------------------------------------


@contextmanager
def bare_app(tmp: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._baseline", "--port", str(port), "--dir", str(tmp)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def bare_baselines(report: Report, plan: Plan, tmp: Path) -> dict[str, dict[str, Any]]:
    base: dict[str, dict[str, Any]] = {}
    with bare_app(tmp / "bare") as (url, pid):
        common = {
            "url": url,
            "concurrency": CONCURRENCY,
            "duration": plan.seconds,
            "warmup": "/mem/1",
        }
        base["put_mem_4k"] = drive(
            **common, method="PUT", path="/mem/{i}", body="json", size=4096, expect=[201]
        )
        base["put_disk_4k"] = drive(
            **common, method="PUT", path="/disk/j{i}", body="json", size=4096, expect=[201]
        )
        base["put_disk_64k"] = drive(
            **{**common, "duration": plan.png_seconds},
            method="PUT",
            path="/disk/p{i}",
            body="png",
            size=65536,
            expect=[201],
        )
        base["get_mem_4k"] = drive(**common, path="/mem/4096")
        keys = min(plan.read_keys, base["put_disk_4k"]["ok"])
        base["get_disk_4k"] = drive(**common, path="/disk/j{i}", keys=keys)
        for name, figures in base.items():
            report.add("bare-asgi", name, figures)
        report.usage.append({"process": "bare ASGI app", **usage(pid)})
    return base


def s3_baselines(report: Report, plan: Plan, endpoint: str) -> dict[str, dict[str, Any]]:
    import boto3

    bucket = f"bench-{new_id()[:12]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    common = {"endpoint": endpoint, "bucket": bucket, "concurrency": 8, "size": 4096}
    base = {"boto3_put_4k": drive(**common, mode="boto3-put", duration=plan.seconds)}
    base["boto3_get_4k"] = drive(
        **common, mode="boto3-get", duration=plan.seconds, keys=base["boto3_put_4k"]["ok"]
    )
    base["pika_publish_confirmed"] = drive(
        mode="pika-publish", amqp_url=AMQP_URL, concurrency=8, duration=plan.seconds
    )
    for name, figures in base.items():
        report.add("direct", name, figures)
    return base


# -- the product -----------------------------------------------------------------------------


def seed_listing(metadata_url: str) -> float:
    """Write ``LISTING_RECORDS`` ready records straight into the metadata store; seconds."""
    started = time.perf_counter()
    store = SqlMetadataStore.from_url(metadata_url)
    try:
        store.migrate()
        now = utcnow()
        digest = Digest.of(b"listing")
        batch: list[ObjectRecord] = []
        for i in range(LISTING_RECORDS):
            # Unvalidated: every field is made right here, and validation would double the time.
            batch.append(
                ObjectRecord.model_construct(
                    id=new_id(),
                    bucket="listing",
                    key=f"k/{i:06d}",
                    status=ObjectStatus.READY,
                    kind=ObjectKind.JSON if i % 3 else ObjectKind.IMAGE,
                    content_type="application/json" if i % 3 else "image/png",
                    size=7,
                    digest=digest,
                    created_at=now,
                    updated_at=now,
                    metadata={"group": f"g{i % LISTING_GROUPS}"},
                )
            )
            if len(batch) == 5000:
                store.create_objects(batch)
                batch = []
        store.create_objects(batch)
    finally:
        store.close()
    return time.perf_counter() - started


def wait_processed(read_url: str, bucket: str, started: float, timeout: float) -> float | None:
    """Seconds from ``started`` (wall clock) until no version in ``bucket`` is pending."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=read_url, timeout=30) as client:
        while time.monotonic() < deadline:
            page = client.get(
                f"/v1/buckets/{bucket}/objects", params={"status": "pending", "limit": 1}
            ).json()
            if not page["items"]:
                return time.time() - started
            time.sleep(0.05)
    return None


def product(
    report: Report,
    plan: Plan,
    topology: Topology,
    base: dict[str, dict[str, Any]],
) -> None:
    name = topology.name
    common = {"concurrency": CONCURRENCY, "expect": [202]}
    for scenario, body, size, media, seconds, floor in (
        ("write_json_4k", "json", 4096, "application/json", plan.seconds, "put_disk_4k"),
        ("write_png_64k", "png", 65536, "image/png", plan.png_seconds, "put_disk_64k"),
    ):
        bucket = scenario.replace("_", "-")
        figures = drive(
            **common,
            url=topology.write_url,
            method="PUT",
            path=f"/v1/buckets/{bucket}/objects/o{{i}}",
            body=body,
            size=size,
            content_type=media,
            duration=seconds,
        )
        took = wait_processed(topology.read_url, bucket, figures["started"], plan.process_timeout)
        processed = round(figures["ok"] / took, 1) if took else None
        report.add(
            name,
            scenario,
            figures,
            processed_per_s=processed,
            baseline=floor,
            ratio=ratio(figures["per_s"], base[floor]["per_s"]),
        )

    keys = min(plan.read_keys, report.rows[-2]["ok"])
    read = {
        "url": topology.read_url,
        "concurrency": CONCURRENCY,
        "path": "/v1/buckets/write-json-4k/objects/o{i}",
        "keys": keys,
    }
    for scenario, spec in (
        ("read_4k_cold", {**read, "count": keys}),
        ("read_4k_warm", {**read, "duration": plan.seconds}),
    ):
        figures = drive(**spec)
        for floor in ("get_mem_4k", "get_disk_4k"):
            figures[f"ratio_{floor}"] = ratio(figures["per_s"], base[floor]["per_s"])
        report.add(name, scenario, figures)

    for scenario, query in (
        ("list_meta_filter", f"meta.group=g3&limit=100&cursor={_cursor_midway()}"),
        ("list_prefix_kind", "prefix=k/05&kind=json&limit=100"),
    ):
        figures = drive(
            url=topology.read_url,
            concurrency=1,
            path=f"/v1/buckets/listing/objects?{query}",
            count=plan.listing_requests,
            duration=10,
        )
        report.add(name, scenario, figures, records=LISTING_RECORDS)


def _cursor_midway() -> str:
    """A cursor into the middle of the listing, so the page is not just the index's start."""
    import base64

    raw = json.dumps([f"k/{LISTING_RECORDS // 2:06d}", ""], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def run_embedded(report: Report, plan: Plan, tmp: Path, base: dict[str, dict[str, Any]]) -> None:
    data = tmp / "embedded"
    (data / "data").mkdir(parents=True)
    seeded = seed_listing(f"sqlite:///{data / 'data' / 'metadata.db'}")
    print(json.dumps({"topology": "embedded", "seeded_s": round(seeded, 1)}), flush=True)
    topology = embedded(data)
    try:
        product(report, plan, topology, base)
        report.usage.append({"process": "sangraha serve", **usage(topology.worker.pid)})
    finally:
        topology.stop()


def run_distributed(report: Report, plan: Plan, tmp: Path, base: dict[str, dict[str, Any]]) -> None:
    # A real S3 server (not moto, a mock in Python that bounds every figure it serves):
    # direct boto3 against the same gateway is the baseline.
    rgw = CephRgw()
    rgw.start()
    try:
        base.update(s3_baselines(report, plan, rgw.url))
        admin = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/test"
        data = tmp / "distributed"
        data.mkdir()
        topology = distributed(data, admin, rgw.url)
        try:
            seeded = seed_listing(topology.services[0].env["SANGRAHA_METADATA_URL"])
            print(json.dumps({"topology": "distributed", "seeded_s": round(seeded, 1)}))
            product(report, plan, topology, base)
            for row in report.rows:
                if row["topology"] == "distributed" and row["scenario"] == "write_json_4k":
                    floor = min(
                        base["boto3_put_4k"]["per_s"], base["pika_publish_confirmed"]["per_s"]
                    )
                    row["ratio_direct_floor"] = ratio(row["per_s"], floor)
            for service in topology.services:
                report.usage.append({"process": service.name, **usage(service.pid)})
            report.usage.append({"process": "Ceph RGW (radosgw)", **usage(rgw.pid)})
        finally:
            topology.stop()
    finally:
        rgw.stop()


# -- RESULTS.md ------------------------------------------------------------------------------


def markdown(report: Report, quick: bool) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    lines = [
        BEGIN,
        f"Run of `python -m benchmarks.small_objects{' --quick' if quick else ''}` at commit "
        f"`{commit or 'unknown'}` on {dt.date.today().isoformat()}, {os.cpu_count()} cores; "
        f"{CONCURRENCY} connections unless said; every figure from this one run.",
        "",
        "| topology | scenario | ok/s | processed/s | p50 ms | p99 ms | errors | vs baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        ratios = [
            f"{k.removeprefix('ratio_') or 'ratio'} {v}"
            for k, v in row.items()
            if k.startswith("ratio") and v
        ]
        if "ratio" in row and row.get("baseline"):
            ratios = [f"{row['baseline']} {row['ratio']}"] + [
                r for r in ratios if not r.startswith("ratio ")
            ]
        lines.append(
            f"| {row['topology']} | {row['scenario']} | {fmt(row['per_s'])} | "
            f"{fmt(row.get('processed_per_s'))} | {fmt(row['p50_ms'])} | {fmt(row['p99_ms'])} | "
            f"{row['errors']} | {'; '.join(ratios) or '-'} |"
        )
    lines += ["", "| process | peak RSS MiB | CPU s |", "|---|---|---|"]
    lines += [f"| {u['process']} | {u['peak_rss_mib']} | {u['cpu_s']} |" for u in report.usage]
    lines.append(END)
    return "\n".join(lines)


def write_results(table: str) -> None:
    """Replace the generated table of the "Small objects" section; leave the rest alone."""
    write_section(RESULTS, section=SECTION, begin=BEGIN, end=END, table=table, on_top=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks.small_objects", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter phases, for a smoke run")
    parser.add_argument("--only", choices=["embedded", "distributed"], help="one topology")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    report = Report()
    with tempfile.TemporaryDirectory(prefix="sangraha-bench-") as name:
        tmp = Path(name)
        base = bare_baselines(report, plan, tmp)
        if args.only in (None, "embedded"):
            run_embedded(report, plan, tmp, base)
        if args.only in (None, "distributed"):
            run_distributed(report, plan, tmp, base)
    for entry in report.usage:
        print(json.dumps({"usage": entry}), flush=True)
    if not args.no_write:
        write_results(markdown(report, args.quick))


if __name__ == "__main__":
    main()
