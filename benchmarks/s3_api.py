"""The S3 API: Sangraha's S3 endpoint against its v1 API and against direct boto3 to RGW.

``python -m benchmarks.s3_api [--quick] [--auth keys|off]`` starts a single-node Ceph RGW
(``tests/_rgw.py``) and then each topology in turn (``tests/_topology.py``: ``sangraha
serve --s3-port``, and the distributed services with the ``sangraha-gateway`` process on
that RGW), and prints one JSON line per case, all from this one run:

* ``put_4k`` / ``get_4k``: 4 KiB JSON objects, each different, from ``CONCURRENCY``
  threads with a client each (boto3 with its default configuration, flexible checksums
  on; the project's SDK for the v1 API), in a driver process of its own so the client
  never shares a GIL with this one; every phase stops at its count or its time. A S3
  PutObject answers once the version is ready, so the v1 write it is compared with asks
  for the same (``wait``); the v1 write answered at 202 (``put_4k_202``) is shown too;
* ``upload_file`` (boto3's managed transfer: multipart, 8 MiB parts, 10 threads; the SDK's
  chunked upload: 8 MiB parts, 4 in parallel), ``put_object`` (one request) and
  ``get_object`` (one streamed GET) of a 100 MiB PDF (``--quick``: 10 MiB), each upload of
  different bytes so no case is helped by deduplication;
* ``direct-rgw``: the same with boto3 straight to the RGW the distributed topology keeps
  its blobs in: the baseline.

Each S3 endpoint figure is printed with its ratios to the same case through the v1 API
(``vs_v1``) and to direct RGW (``vs_rgw``): rates for small objects, MB/s for large ones,
so above 1 is faster. Every case also carries the CPU seconds of the client and of each
server process, and the run's load average at its start and end (the machine is shared).

Access control is on (``auth=keys``): each topology makes an access key with every grant,
and boto3 signs with its id and secret while the SDK sends its bearer token;
``--auth off`` runs without. The last step rewrites the generated part of the "S3 API"
section at the top of ``benchmarks/RESULTS.md``.
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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from benchmarks._driver import _run_threads, json_body
from benchmarks._measure import MIB, Sampler
from benchmarks._results import fmt, write_section
from benchmarks.large_objects import write_pdf
from tests._rgw import ACCESS_KEY, SECRET_KEY, CephRgw
from tests._services import PG_HOST, PG_PORT, PG_USER
from tests._topology import Topology, distributed, embedded

__all__ = ["Credentials", "Plan", "main"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN = "<!-- s3-api:begin -->"
END = "<!-- s3-api:end -->"
SECTION = "## S3 API"

CONCURRENCY = 8
SMALL = 4096
PART_SIZE = 8 * MIB
OPERATOR_TOKEN = "operator-token-for-the-s3-benchmark"
#: Every service of the distributed topology seals key secrets under this one.
MASTER_KEY = "B" * 43 + "="
_POSTGRES_ADMIN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/test"
_READY_WAIT = 60.0


@dataclass(frozen=True)
class Plan:
    """Bounds of each small-object phase (count or time, whichever first) and the large size."""

    count: int
    seconds: float
    large: int


FULL = Plan(count=3000, seconds=6.0, large=100 * MIB)
QUICK = Plan(count=300, seconds=2.0, large=10 * MIB)


@dataclass(frozen=True)
class Credentials:
    """An access key's id and secret (SigV4) and its bearer token; ``None`` with auth off."""

    access_key: str
    secret_key: str
    bearer: str | None


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def find(self, topology: str, path: str, case: str) -> dict[str, Any] | None:
        for row in self.rows:
            if (row["topology"], row["path"], row["case"]) == (topology, path, case):
                return row
        return None


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# -- the driver: small objects from threads, in a process of its own ------------------------


def _s3_client(endpoint: str, credentials: Credentials) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
    )


def _make_ops(spec: dict[str, Any]) -> list[Callable[[int], None]]:
    """One operation per thread, each with a client of its own, made before timing starts."""
    credentials = Credentials(**spec["credentials"])
    bucket: str = spec["bucket"]
    keys = int(spec.get("keys", 1 << 62))
    prefix: str = spec.get("prefix", "small")
    mode: str = spec["mode"]
    ops: list[Callable[[int], None]] = []
    for _ in range(int(spec["concurrency"])):
        if mode.startswith("s3-"):
            s3 = _s3_client(spec["endpoint"], credentials)

            def s3_op(i: int, s3: Any = s3) -> None:
                key = f"{prefix}/{i % keys}"
                if mode == "s3-put":
                    s3.put_object(
                        Bucket=bucket,
                        Key=key,
                        Body=json_body(i, SMALL),
                        ContentType="application/json",
                    )
                else:
                    s3.get_object(Bucket=bucket, Key=key)["Body"].read()

            ops.append(s3_op)
        else:
            from sangraha_client import Client

            client = Client(
                base_url=spec["read_url"],
                write_url=spec["write_url"],
                api_key=credentials.bearer,
                timeout=120,
            )
            wait: float | None = spec.get("wait")

            def v1_op(i: int, client: Client = client, wait: float | None = wait) -> None:
                key = f"{prefix}/{i % keys}"
                if mode == "v1-put":
                    client.put_object(
                        bucket,
                        key,
                        json_body(i, SMALL),
                        content_type="application/json",
                        wait=wait,
                    )
                else:
                    client.get_object(bucket, key)

            ops.append(v1_op)
    return ops


def run_driver(spec: dict[str, Any]) -> dict[str, Any]:
    ops = iter(_make_ops(spec))
    before = os.times()
    figures = _run_threads(spec, lambda: next(ops))
    after = os.times()
    figures["client_cpu_s"] = round((after.user - before.user) + (after.system - before.system), 2)
    return figures


def drive(pids: dict[str, int], **spec: Any) -> dict[str, Any]:
    """Run one bounded phase in a driver process; its figures and the servers' CPU."""
    with Sampler(pids) as sampler:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.s3_api", "--drive", json.dumps(spec)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=float(spec["duration"]) + 180,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"driver failed ({done.returncode}): {done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["server_cpu_s"] = {name: u.cpu_seconds for name, u in sampler.usage.items()}
    return figures


# -- one target: an S3 endpoint, the v1 API, or RGW itself ----------------------------------


@dataclass
class Target:
    """Where one row's figures come from."""

    topology: str
    path: str  # "s3", "v1" or "direct-rgw"
    credentials: Credentials
    pids: dict[str, int]
    endpoint: str = ""
    write_url: str = ""
    read_url: str = ""

    def spec(self, mode: str, bucket: str) -> dict[str, Any]:
        return {
            "mode": mode,
            "bucket": bucket,
            "endpoint": self.endpoint,
            "write_url": self.write_url,
            "read_url": self.read_url,
            "credentials": self.credentials.__dict__,
            "concurrency": CONCURRENCY,
        }


def warm_up(target: Target, bucket: str) -> float:
    """One write, then a short burst from every thread, untimed, before the phases; the
    seconds of the first write.

    A service's first write probes what the blob store honours (seconds on RGW), and the
    first concurrent ones fill pools of threads and connections: that would otherwise land
    in whichever phase comes first."""
    started = time.perf_counter()
    body = json_body(-1, SMALL)
    if target.path == "v1":
        from sangraha_client import Client

        with Client(
            base_url=target.read_url, write_url=target.write_url, api_key=target.credentials.bearer
        ) as client:
            client.put_object(
                bucket, "warm-up", body, content_type="application/json", wait=_READY_WAIT
            )
    else:
        s3 = _s3_client(target.endpoint, target.credentials)
        s3.put_object(Bucket=bucket, Key="warm-up", Body=body, ContentType="application/json")
    first = round(time.perf_counter() - started, 2)
    kind = "v1" if target.path == "v1" else "s3"
    wait = {"wait": _READY_WAIT} if kind == "v1" else {}
    spec = target.spec(f"{kind}-put", bucket)
    drive(target.pids, **spec, **wait, prefix="warm-up", count=4 * CONCURRENCY, duration=10)
    return first


def small_cases(report: Report, plan: Plan, target: Target) -> None:
    kind = "s3" if target.path != "v1" else "v1"
    bucket = f"{target.path}-small-{uuid.uuid4().hex[:6]}"
    if kind == "s3":
        _s3_client(target.endpoint, target.credentials).create_bucket(Bucket=bucket)
    first_put_s = warm_up(target, bucket)
    limits = {"count": plan.count, "duration": plan.seconds}
    common = {"topology": target.topology, "path": target.path}
    # A v1 write that waits for ready is the like of a S3 PutObject, which always does.
    wait = {"wait": _READY_WAIT} if kind == "v1" else {}
    put = drive(target.pids, **target.spec(f"{kind}-put", bucket), **limits, **wait)
    report.add({**common, "case": "put_4k", **put, "first_put_s": first_put_s})
    if kind == "v1" and target.topology != "direct":
        answered = drive(target.pids, **target.spec("v1-put", f"{bucket}-202"), **limits)
        report.add({**common, "case": "put_4k_202", **answered})
    if not put["ok"]:
        return
    get = drive(
        target.pids, **target.spec(f"{kind}-get", bucket), **limits, keys=min(put["ok"], 2000)
    )
    report.add({**common, "case": "get_4k", **get})


def _measure(target: Target, run: Callable[[], object]) -> dict[str, Any]:
    """One timed run after an ``os.sync()``: its seconds and the CPU of client and servers."""
    os.sync()  # what an earlier case left to write back lands in none of these
    before = os.times()
    with Sampler(target.pids) as sampler:
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
    after = os.times()
    return {
        "seconds": seconds,
        "client_cpu_s": round((after.user - before.user) + (after.system - before.system), 2),
        "server_cpu_s": {name: u.cpu_seconds for name, u in sampler.usage.items()},
    }


def large_case(
    report: Report,
    target: Target,
    case: str,
    size: int,
    repeat: int,
    run: Callable[[int], object],
    settle: Callable[[], object] | None = None,
    **extra: Any,
) -> None:
    """``run(n)`` ``repeat`` times, ``settle()`` untimed after each; the fastest counts
    (neighbours on a shared machine only ever slow a run down)."""
    runs: list[dict[str, Any]] = []
    for n in range(repeat):
        runs.append(_measure(target, partial(run, n)))
        if settle is not None:
            settle()
    best = min(runs, key=lambda r: r["seconds"])
    row = {
        "topology": target.topology,
        "path": target.path,
        "case": case,
        "size_mib": round(size / MIB),
        "seconds": round(best["seconds"], 2),
        "mb_s": round(size / best["seconds"] / 1e6, 1),
        "client_cpu_s": best["client_cpu_s"],
        "server_cpu_s": best["server_cpu_s"],
        **extra,
    }
    if repeat > 1:
        row["runs_s"] = [round(r["seconds"], 2) for r in runs]
    report.add(row)


def _drain(chunks: Iterator[bytes]) -> int:
    return sum(len(chunk) for chunk in chunks)


def large_cases(report: Report, plan: Plan, target: Target, tmp: Path, repeat: int) -> None:
    size = plan.large
    bucket = f"{target.path}-large-{uuid.uuid4().hex[:6]}"
    made = iter(range(1, 1000))
    files: dict[str, Path] = {}

    def fresh(case: str) -> None:
        # Different bytes for every upload: deduplication would otherwise help the later ones.
        for old in tmp.glob(f"large-{case}-*.pdf"):
            old.unlink()
        number = next(made)
        files[case] = write_pdf(tmp / f"large-{case}-{number}.pdf", size + number)

    def upload(case: str, send: Callable[[Path, str], object]) -> dict[str, Any]:
        """``run`` and ``settle`` for ``large_case``: a new file before each run, untimed."""
        fresh(case)
        return {
            "run": lambda n: send(files[case], f"{case}-{n}.pdf"),
            "settle": partial(fresh, case),
        }

    single_size = 0

    def check(got: int) -> None:
        if got != single_size:
            raise RuntimeError(f"GET through {target.path} gave {got} bytes, not {single_size}")

    if target.path in ("s3", "direct-rgw"):
        from boto3.s3.transfer import TransferConfig

        s3 = _s3_client(target.endpoint, target.credentials)
        s3.create_bucket(Bucket=bucket)
        pdf = {"ContentType": "application/pdf"}

        def multipart(path: Path, key: str) -> None:
            s3.upload_file(str(path), bucket, key, ExtraArgs=pdf, Config=TransferConfig())

        def single(path: Path, key: str) -> None:
            nonlocal single_size
            single_size = path.stat().st_size
            with path.open("rb") as body:
                s3.put_object(Bucket=bucket, Key=key, Body=body, **pdf)

        def get(_n: int) -> None:
            body = s3.get_object(Bucket=bucket, Key="put_object-0.pdf")["Body"]
            check(_drain(body.iter_chunks(MIB)))

        extra: dict[str, Any] = {"parts_mib": 8, "threads": 10}
        multi = upload("upload_file", multipart)
        large_case(report, target, "upload_file", size, repeat, **multi, **extra)
        large_case(report, target, "put_object", size, repeat, **upload("put_object", single))
        large_case(report, target, "get_object", size, repeat, get)
        for path in tmp.glob("large-*.pdf"):
            path.unlink()
        return

    from sangraha_client import Client

    client = Client(
        base_url=target.read_url,
        write_url=target.write_url,
        api_key=target.credentials.bearer,
        timeout=600,
    )

    def v1_multipart(path: Path, key: str) -> None:
        client.upload_file(bucket, key, path, threshold=0, part_size=PART_SIZE, wait=_READY_WAIT)

    def v1_single(path: Path, key: str) -> None:
        nonlocal single_size
        single_size = path.stat().st_size
        client.put_object(bucket, key, path, content_type="application/pdf", wait=_READY_WAIT)

    def v1_get(_n: int) -> None:
        with client.stream_object(bucket, "put_object-0.pdf", chunk_size=MIB) as stream:
            check(_drain(iter(stream)))

    try:
        extra = {"parts_mib": 8, "threads": 4}
        multi = upload("upload_file", v1_multipart)
        large_case(report, target, "upload_file", size, repeat, **multi, **extra)
        large_case(report, target, "put_object", size, repeat, **upload("put_object", v1_single))
        large_case(report, target, "get_object", size, repeat, v1_get)
    finally:
        client.close()
    for path in tmp.glob("large-*.pdf"):
        path.unlink()


# -- topologies --------------------------------------------------------------------------------


def make_credentials(topology: Topology, auth: str) -> Credentials:
    """An access key with every grant on every bucket, or none with auth off."""
    if auth == "off":
        return Credentials(ACCESS_KEY, SECRET_KEY, None)
    answer = httpx.post(
        f"{topology.write_url}/v1/keys",
        json={
            "grants": [{"buckets": "*", "actions": ["read", "list", "write", "delete", "admin"]}],
            "name": "s3-benchmark",
        },
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=30,
    )
    answer.raise_for_status()
    key = answer.json()
    return Credentials(key["key_id"], key["secret"], key["bearer"])


def _settings(auth: str, name: str) -> dict[str, str]:
    if auth == "off":
        return {}
    settings = {"auth": "keys", "api_key": OPERATOR_TOKEN, "auth_failure_limit": "100000"}
    if name == "distributed":
        settings["master_key"] = MASTER_KEY
    return settings


def bench_topology(
    report: Report,
    plan: Plan,
    topology: Topology,
    auth: str,
    tmp: Path,
    extra_pids: dict[str, int],
    repeat: int,
) -> None:
    credentials = make_credentials(topology, auth)
    pids = {service.name: service.pid for service in topology.services} | extra_pids
    s3 = Target(topology.name, "s3", credentials, pids, endpoint=topology.s3_url)
    v1 = Target(
        topology.name,
        "v1",
        credentials,
        pids,
        write_url=topology.write_url,
        read_url=topology.read_url,
    )
    for target in (s3, v1):
        small_cases(report, plan, target)
    for target in (s3, v1):
        large_cases(report, plan, target, tmp, repeat)


def add_ratios(report: Report) -> None:
    """``vs_v1`` and ``vs_rgw`` on every S3 endpoint row: rate or MB/s over the other's."""
    for row in report.rows:
        if row["path"] != "s3":
            continue
        figure = "per_s" if "per_s" in row else "mb_s"
        for name, (topology, path) in (
            ("vs_v1", (row["topology"], "v1")),
            ("vs_rgw", ("direct", "direct-rgw")),
        ):
            other = report.find(topology, path, row["case"])
            if other and other.get(figure) and row.get(figure):
                row[name] = round(row[figure] / other[figure], 3)
        ratios = {name: row.get(name) for name in ("vs_v1", "vs_rgw")}
        print(json.dumps({"ratios": row["topology"], "case": row["case"], **ratios}), flush=True)


# -- RESULTS.md ------------------------------------------------------------------------------


def _seconds(row: dict[str, Any]) -> str:
    runs = row.get("runs_s")
    return f"{row['seconds']} (runs: {', '.join(map(str, runs))})" if runs else str(row["seconds"])


def _cpu(row: dict[str, Any]) -> str:
    servers = ", ".join(
        f"{name} {round(cpu, 1)}" for name, cpu in row["server_cpu_s"].items() if cpu >= 0.05
    )
    return f"client {row['client_cpu_s']}; {servers or '-'}"


def markdown(
    report: Report, args: argparse.Namespace, loads: tuple[list[float], list[float]]
) -> str:
    commit = (
        args.commit
        or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    command = f"python -m benchmarks.s3_api{' --quick' if args.quick else ''}"
    if args.auth != "keys":
        command += f" --auth {args.auth}"
    auth = (
        "access control on (`auth=keys`, a real access key: SigV4 for boto3, bearer for the SDK)"
        if args.auth == "keys"
        else "access control off"
    )
    lines = [
        BEGIN,
        f"Run of `{command}` at commit `{commit or 'unknown'}` on {dt.date.today().isoformat()}, "
        f"{os.cpu_count()} cores, load average {' / '.join(map(str, loads[0]))} at the start "
        f"and {' / '.join(map(str, loads[1]))} at the end (1 / 5 / 15 min); {auth}; boto3's "
        f"default configuration; small objects from {CONCURRENCY} threads with a client each; "
        "large cases the fastest of the runs shown; every figure from this one run.",
        "",
        "| topology | path | case | ops/s or s | MB/s | p50 ms | p99 ms | errors | "
        "S3 / v1 | S3 / direct RGW | CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        small = "per_s" in row
        lines.append(
            f"| {row['topology']} | {row['path']} | {row['case']} | "
            f"{row['per_s'] if small else _seconds(row)} | {fmt(row.get('mb_s'))} | "
            f"{fmt(row.get('p50_ms'))} | {fmt(row.get('p99_ms'))} | {row.get('errors', 0)} | "
            f"{fmt(row.get('vs_v1'))} | {fmt(row.get('vs_rgw'))} | {_cpu(row)} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write_results(table: str) -> None:
    """Replace the generated table of the "S3 API" section, or add the section at the top."""
    write_section(RESULTS, section=SECTION, begin=BEGIN, end=END, table=table, on_top=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks.s3_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, 10 MiB objects")
    parser.add_argument("--auth", choices=("keys", "off"), default="keys")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each large case; the fastest counts"
    )
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    parser.add_argument(
        "--commit", default="", help="the code's commit, for a copy of a tree (default: git HEAD)"
    )
    args = parser.parse_args(argv)
    if args.drive:
        print(json.dumps(run_driver(json.loads(args.drive))), flush=True)
        return
    plan = QUICK if args.quick else FULL
    report = Report()
    started_load = load()
    print(json.dumps({"load_average": started_load, "auth": args.auth, "plan": plan.__dict__}))
    with tempfile.TemporaryDirectory(prefix="sangraha-s3-bench-") as name:
        tmp = Path(name)
        rgw = CephRgw()
        rgw.start()
        try:
            rgw_pids = {"radosgw": rgw.pid}
            direct = Target(
                "direct", "direct-rgw", Credentials(ACCESS_KEY, SECRET_KEY, None), rgw_pids,
                endpoint=rgw.url,
            )  # fmt: skip
            small_cases(report, plan, direct)
            large_cases(report, plan, direct, tmp, args.repeat)
            for kind in ("embedded", "distributed"):
                folder = tmp / kind
                folder.mkdir()
                settings = _settings(args.auth, kind)
                topology = (
                    embedded(folder, **settings)
                    if kind == "embedded"
                    else distributed(folder, _POSTGRES_ADMIN, rgw.url, concurrency=2, **settings)
                )
                try:
                    extra = rgw_pids if kind == "distributed" else {}
                    bench_topology(report, plan, topology, args.auth, tmp, extra, args.repeat)
                finally:
                    topology.stop()
        finally:
            rgw.stop()
    add_ratios(report)
    ended_load = load()
    print(json.dumps({"load_average": ended_load}), flush=True)
    if not args.no_write:
        write_results(markdown(report, args, (started_load, ended_load)))


if __name__ == "__main__":
    main()
