"""Small objects driven by wrk, a load generator in C, with access control on.

``python -m benchmarks.wrk [--quick] [--only embedded|distributed] [--seconds S]
[--threads T] [--connections C] [--profile DIR] [--no-write]`` runs wrk
(``benchmarks/wrk.lua``) against the bare ASGI app (``benchmarks/_baseline.py``), the
embedded server and the distributed topology on a Ceph RGW (``tests/_topology.py``,
``tests/_rgw.py``), all in one run, and prints one JSON line per case: ops/s, latency p50
and p99 (wrk's own histogram), errors and status codes, the CPU seconds the serving
processes spent, and the ratio to the case's baseline. After each PUT phase it polls the
listing by ``status=pending`` until nothing is pending: processed/s is the accepted count
over the time from the start of the phase until then.

The Python driver (``benchmarks/_driver.py``) costs some tens of microseconds of CPU a
request on the same two cores as the server; wrk costs a few, so the figures here say
more about the service and less about its client. The distributed baselines stay in
Python (boto3 PUTs and confirmed pika publishes through ``_driver.py``), since wrk can
neither sign SigV4 nor speak AMQP.

Access control is on: each topology runs with ``auth=keys``, an access key is made through
``POST /v1/keys`` with the operator token, and every request wrk sends carries that key's
bearer token. The PUT body is one fixed 4 KiB JSON document, so every upload after the
first is filed as a duplicate of the same blob.

With ``--profile DIR`` each product phase is also recorded by ``py-spy record`` (raw
collapsed stacks, ``DIR/<topology>-<case>-<process>.txt``) and the hottest frames are
printed; profiling slows the service, so take figures from a run without it.

The last step rewrites the generated part of the "Small objects with wrk" section of
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._measure import cpu_seconds
from benchmarks._results import fmt, write_section
from benchmarks.small_objects import bare_app, drive
from sangraha_core import new_id
from tests._rgw import ACCESS_KEY, SECRET_KEY, CephRgw
from tests._services import AMQP_URL, PG_HOST, PG_PORT, PG_USER
from tests._topology import Topology, distributed, embedded

__all__ = ["Plan", "main", "run_wrk"]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "wrk.lua"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN = "<!-- small-objects-wrk:begin -->"
END = "<!-- small-objects-wrk:end -->"
SECTION = "## Small objects with wrk"

SIZE = 4096
OPERATOR_TOKEN = "operator-token-for-the-wrk-benchmark"
#: Every service of the distributed topology seals key secrets under this one.
MASTER_KEY = "W" * 43 + "="
_POSTGRES_ADMIN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/test"
#: Files the bare app serves in the cold GET: more than it reads in a phase at this size.
BARE_COLD_FILES = 30_000


@dataclass(frozen=True)
class Plan:
    """Every wrk phase runs ``seconds``; processing is awaited at most ``process_timeout``."""

    seconds: float
    threads: int
    connections: int
    process_timeout: float
    profile: Path | None = None


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        return row

    def find(self, topology: str, case: str) -> dict[str, Any] | None:
        for row in self.rows:
            if (row["topology"], row["case"]) == (topology, case):
                return row
        return None


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def ratio(value: float | None, base: float | None) -> float | None:
    if not value or not base:
        return None
    return round(value / base, 3)


# -- wrk -------------------------------------------------------------------------------------


def run_wrk(
    url: str,
    mode: str,
    plan: Plan,
    *,
    target: str = "-",
    auth: str | None = None,
    keyfile: Path | None = None,
) -> dict[str, Any]:
    """One wrk phase (``mode`` put, hot or cold; see ``wrk.lua``); its figures.

    A cold phase stops once every key of ``keyfile`` is answered, so its rate is taken over
    the time the requests were in flight, not wrk's whole ``-d``.
    """
    argv = [
        *("wrk", f"-t{plan.threads}", f"-c{plan.connections}", f"-d{plan.seconds:g}s"),
        *("--latency", "--timeout", "10s", "-s", str(SCRIPT), url, "--"),
        *(mode, target, auth or "-", str(SIZE), str(keyfile or "-"), str(plan.threads)),
    ]
    started = time.time()
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=plan.seconds + 60, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"wrk"')]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    raw: dict[str, Any] = json.loads(lines[-1])["wrk"]
    statuses: dict[str, int] = raw["statuses"]
    ok = sum(n for status, n in statuses.items() if status.startswith("2"))
    socket_errors = sum(v for k, v in raw["errors"].items() if k != "status")
    seconds = (raw["active_us"] if raw["stopped_early"] else raw["duration_us"]) / 1e6
    return {
        "started": started,
        "ok": ok,
        "errors": raw["requests"] - ok + socket_errors,
        "statuses": statuses,
        "socket_errors": {k: v for k, v in raw["errors"].items() if k != "status" and v},
        "elapsed_s": round(seconds, 3),
        "per_s": round(ok / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
    }


@contextmanager
def profiled(plan: Plan, name: str, pids: dict[str, int]) -> Iterator[None]:
    """With ``plan.profile``, ``py-spy record`` of each of ``pids`` over the phase."""
    if plan.profile is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    seconds = max(1, int(min(8.0, plan.seconds - 1)))
    procs = {
        process: subprocess.Popen(
            [
                *(spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "100"),
                *("-f", "raw", "-o", str(plan.profile / f"{name}-{process}.txt"), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for process, pid in pids.items()
    }
    try:
        yield
    finally:
        for process, proc in procs.items():
            proc.wait(seconds + 30)
            print(json.dumps({"profile": f"{name}-{process}", **hottest(plan, name, process)}))


def hottest(plan: Plan, name: str, process: str, top: int = 12) -> dict[str, Any]:
    """The frames most often on a sampled stack (inclusive), as shares of the samples."""
    assert plan.profile is not None
    path = plan.profile / f"{name}-{process}.txt"
    if not path.exists():
        return {"samples": 0}
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for frame in set(frames[1:]):
            inclusive[frame] += n
        leaf[frames[-1]] += n
    share = {f: round(n / total, 3) for f, n in inclusive.most_common(top)} if total else {}
    leaves = {f: round(n / total, 3) for f, n in leaf.most_common(top)} if total else {}
    return {"samples": total, "inclusive": share, "leaf": leaves}


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def phase(
    report: Report,
    plan: Plan,
    topology: str,
    case: str,
    url: str,
    mode: str,
    pids: dict[str, int],
    *,
    record: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """One wrk phase with the CPU the serving processes spent in it; the row, printed
    unless ``record`` is false (the caller adds figures first)."""
    before = cpu_of(pids)
    with profiled(plan, f"{topology}-{case}", pids):
        figures = run_wrk(url, mode, plan, **kwargs)
    after = cpu_of(pids)
    cpu = {name: round(after[name] - before[name], 2) for name in pids}
    row = {"topology": topology, "case": case, **figures, "server_cpu_s": cpu}
    if topology in ("embedded", "distributed"):
        row["auth"] = "keys"
        row["baseline"], base = baseline(report, topology, case)
        row["ratio"] = ratio(row["per_s"], base)
    return report.add(row) if record else row


def baseline(report: Report, topology: str, case: str) -> tuple[str, float | None]:
    """What a product case is compared with, and that figure (ops/s) from this run."""

    def per_s(where: str, name: str) -> float | None:
        row = report.find(where, name)
        return None if row is None else row["per_s"]

    if case == "put_json_4k" and topology == "distributed":
        boto3_put = per_s("direct", "boto3_put_4k")
        pika = per_s("direct", "pika_publish_confirmed")
        known = [x for x in (boto3_put, pika) if x]
        return "min(direct boto3_put_4k, pika_publish_confirmed)", min(known) if known else None
    name = {"put_json_4k": "put_mem_4k", "get_4k_warm": "get_mem_4k"}.get(case, "get_disk_4k_cold")
    return f"bare-asgi {name}", per_s("bare-asgi", name)


# -- the bare baseline -----------------------------------------------------------------------


def bare_baselines(report: Report, plan: Plan, tmp: Path) -> None:
    folder = tmp / "bare"
    folder.mkdir()
    keyfile = tmp / "bare-keys.txt"
    body = b"x" * SIZE
    names = [f"c{i}" for i in range(BARE_COLD_FILES)]
    for name in names:
        (folder / name).write_bytes(body)
    keyfile.write_text("".join(f"/disk/{name}\n" for name in names))
    with bare_app(folder) as (url, pid):
        pids = {"bare ASGI app": pid}
        phase(report, plan, "bare-asgi", "put_mem_4k", url, "put", pids, target="/mem/p")
        phase(report, plan, "bare-asgi", "get_mem_4k", url, "hot", pids, target="/mem/4096")
        phase(report, plan, "bare-asgi", "get_disk_4k_hot", url, "hot", pids, target="/disk/c0")
        phase(report, plan, "bare-asgi", "get_disk_4k_cold", url, "cold", pids, keyfile=keyfile)


def direct_baselines(report: Report, plan: Plan, endpoint: str) -> None:
    """Direct boto3 PUTs to the RGW and confirmed pika publishes (Python, ``_driver.py``)."""
    import boto3

    bucket = f"wrk-{new_id()[:12]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket=bucket)
    for case, spec in (
        ("boto3_put_4k", {"mode": "boto3-put", "endpoint": endpoint, "bucket": bucket}),
        ("pika_publish_confirmed", {"mode": "pika-publish", "amqp_url": AMQP_URL}),
    ):
        figures = drive(**spec, concurrency=8, size=SIZE, duration=plan.seconds)
        report.add({"topology": "direct", "case": case, "driver": "python, 8 threads", **figures})


# -- the product -----------------------------------------------------------------------------


def make_bearer(topology: Topology) -> str:
    """The bearer token of a new access key with every grant on every bucket."""
    answer = httpx.post(
        f"{topology.write_url}/v1/keys",
        json={
            "grants": [{"buckets": "*", "actions": ["read", "list", "write", "delete"]}],
            "name": "wrk-benchmark",
        },
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=30,
    )
    answer.raise_for_status()
    bearer: str = answer.json()["bearer"]
    return bearer


def settings(name: str) -> dict[str, str]:
    # The failure limit is raised so that a burst of refused requests under load, if any,
    # shows as 4xx in the figures instead of locking the key out for the rest of the run.
    values = {"auth": "keys", "api_key": OPERATOR_TOKEN, "auth_failure_limit": "100000"}
    # The default, not the tests' 3 s: with a short one every job that queued a second
    # is touched before it is processed, a write transaction no deployment pays.
    values["pending_timeout"] = "300"
    if name == "distributed":
        values["master_key"] = MASTER_KEY
    return values


def wait_processed(
    client: httpx.Client, bucket: str, started: float, timeout: float
) -> float | None:
    """Seconds from ``started`` (wall clock) until no version in ``bucket`` is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(
            f"/v1/buckets/{bucket}/objects", params={"status": "pending", "limit": 1}
        ).json()
        if not page["items"]:
            return time.time() - started
        time.sleep(0.05)
    return None


def ready_keys(client: httpx.Client, bucket: str) -> list[str]:
    keys: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": "ready", "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = client.get(f"/v1/buckets/{bucket}/objects", params=params).json()
        keys += [item["key"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return keys


def product(
    report: Report,
    plan: Plan,
    topology: Topology,
    tmp: Path,
    write_pids: dict[str, int],
    read_pids: dict[str, int],
) -> None:
    name = topology.name
    bearer = make_bearer(topology)
    auth = f"Bearer {bearer}"
    bucket = "wrk-json-4k"
    prefix = f"/v1/buckets/{bucket}/objects/t"
    row = phase(
        report,
        plan,
        name,
        "put_json_4k",
        topology.write_url,
        "put",
        write_pids,
        target=prefix,
        auth=auth,
        record=False,
    )
    with httpx.Client(
        base_url=topology.read_url, headers={"Authorization": auth}, timeout=60
    ) as client:
        took = wait_processed(client, bucket, row["started"], plan.process_timeout)
        row["processed_s"] = round(took, 2) if took else None
        row["processed_per_s"] = round(row["ok"] / took, 1) if took else None
        row["processed_ratio_to_accepted"] = ratio(row["processed_per_s"], row["per_s"])
        report.add(row)
        keys = ready_keys(client, bucket)
    if not keys:
        raise RuntimeError(f"{name}: no ready object to read")
    keyfile = tmp / f"{name}-keys.txt"
    keyfile.write_text("".join(f"/v1/buckets/{bucket}/objects/{key}\n" for key in keys))
    hot = f"/v1/buckets/{bucket}/objects/{keys[0]}"
    phase(
        report,
        plan,
        name,
        "get_4k_warm",
        topology.read_url,
        "hot",
        read_pids,
        target=hot,
        auth=auth,
    )
    phase(
        report,
        plan,
        name,
        "get_4k_cold",
        topology.read_url,
        "cold",
        read_pids,
        keyfile=keyfile,
        auth=auth,
    )


def run_embedded(report: Report, plan: Plan, tmp: Path) -> None:
    folder = tmp / "embedded"
    folder.mkdir()
    topology = embedded(folder, **settings("embedded"))
    try:
        pids = {"sangraha serve": topology.worker.pid}
        product(report, plan, topology, tmp, pids, pids)
    finally:
        topology.stop()


def run_distributed(report: Report, plan: Plan, tmp: Path) -> None:
    rgw = CephRgw()
    rgw.start()
    try:
        direct_baselines(report, plan, rgw.url)
        folder = tmp / "distributed"
        folder.mkdir()
        topology = distributed(
            folder, _POSTGRES_ADMIN, rgw.url, concurrency=2, **settings("distributed")
        )
        try:
            by_name = {service.name: service.pid for service in topology.services}
            write = {k: by_name[k] for k in ("receiver", "worker")} | {"radosgw": rgw.pid}
            read = {"getter": by_name["getter"], "radosgw": rgw.pid}
            product(report, plan, topology, tmp, write, read)
        finally:
            topology.stop()
    finally:
        rgw.stop()


# -- goals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    topology: str
    what: str
    figure: float | None
    unit: str
    baseline: str
    ratio: float | None
    threshold: float
    by_ratio: bool
    """Met when ``ratio`` (else ``figure``) reaches ``threshold``; p99 goals are below it."""
    below: bool = False

    @property
    def met(self) -> bool | None:
        value = self.ratio if self.by_ratio else self.figure
        if value is None:
            return None
        return value < self.threshold if self.below else value >= self.threshold


def goals(report: Report) -> list[Goal]:
    def get(topology: str, case: str, key: str = "per_s") -> float | None:
        row = report.find(topology, case)
        return None if row is None else row.get(key)

    out: list[Goal] = []
    put_mem = get("bare-asgi", "put_mem_4k")
    get_mem = get("bare-asgi", "get_mem_4k")
    get_disk = get("bare-asgi", "get_disk_4k_cold")
    if report.find("embedded", "put_json_4k"):
        put = get("embedded", "put_json_4k")
        processed = get("embedded", "put_json_4k", "processed_per_s")
        warm = get("embedded", "get_4k_warm")
        cold = get("embedded", "get_4k_cold")
        out += [
            Goal("embedded", "4 KiB JSON accepted", put, "/s", "-", None, 2000, False),
            Goal(
                "embedded",
                "4 KiB JSON accepted vs bare PUT",
                put,
                "/s",
                f"bare non-durable PUT {put_mem}/s",
                ratio(put, put_mem),
                0.5,
                True,
            ),
            Goal("embedded", "4 KiB JSON processed", processed, "/s", "-", None, 1000, False),
            Goal(
                "embedded",
                "warm GET vs bare GET from memory",
                warm,
                "/s",
                f"bare GET from memory {get_mem}/s",
                ratio(warm, get_mem),
                0.8,
                True,
            ),
            Goal(
                "embedded",
                "cold GET vs bare GET from disk",
                cold,
                "/s",
                f"bare GET from disk {get_disk}/s",
                ratio(cold, get_disk),
                0.5,
                True,
            ),
        ]
        for case in ("get_4k_warm", "get_4k_cold"):
            out.append(
                Goal(
                    "embedded",
                    f"p99 {case}",
                    get("embedded", case, "p99_ms"),
                    " ms",
                    "-",
                    None,
                    20,
                    False,
                    below=True,
                )
            )
    if report.find("distributed", "put_json_4k"):
        put = get("distributed", "put_json_4k")
        processed = get("distributed", "put_json_4k", "processed_per_s")
        boto3_put = get("direct", "boto3_put_4k")
        pika = get("direct", "pika_publish_confirmed")
        floor = min(x for x in (boto3_put, pika) if x) if (boto3_put or pika) else None
        out += [
            Goal(
                "distributed",
                "4 KiB JSON accepted vs the slower direct path",
                put,
                "/s",
                f"min(boto3 PUT {boto3_put}/s, pika confirmed {pika}/s)",
                ratio(put, floor),
                0.8,
                True,
            ),
            Goal(
                "distributed",
                "processed vs accepted",
                processed,
                "/s",
                f"accepted {put}/s",
                ratio(processed, put),
                0.5,
                True,
            ),
        ]
    return out


# -- RESULTS.md ------------------------------------------------------------------------------


def _commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return head or "unknown"


def markdown(
    report: Report, plan: Plan, command: str, loads: tuple[list[float], list[float]]
) -> str:
    lines = [
        BEGIN,
        f"Run of `{command}` at commit `{_commit()}` on {dt.date.today().isoformat()}, "
        f"{os.cpu_count()} cores, load average {' / '.join(map(str, loads[0]))} at the start "
        f"and {' / '.join(map(str, loads[1]))} at the end (1 / 5 / 15 min). Access control "
        "on (`auth=keys`, every request with a real access key's bearer token). wrk with "
        f"{plan.threads} thread(s) and {plan.connections} connections, {plan.seconds:g} s a "
        "phase, one fixed 4 KiB JSON body; every figure from this one run.",
        "",
        "| topology | goal | measured | baseline | ratio | threshold | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for goal in goals(report):
        op = "<" if goal.below else ">="
        met = {True: "met", False: "**not met**", None: "-"}[goal.met]
        lines.append(
            f"| {goal.topology} | {goal.what} | {fmt(goal.figure)}{goal.unit} | {goal.baseline} "
            f"| {fmt(goal.ratio)} | {op} {goal.threshold:g}{'' if goal.by_ratio else goal.unit} "
            f"| {met} |"
        )
    lines += [
        "",
        "| topology | case | ok/s | processed/s | p50 ms | p99 ms | max ms | errors | statuses "
        "| server CPU s | vs baseline |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        cpu = row.get("server_cpu_s") or {}
        versus = f"{row['ratio']} of {row['baseline']}" if row.get("ratio") else "-"
        lines.append(
            f"| {row['topology']} | {row['case']} | {row['per_s']} | "
            f"{fmt(row.get('processed_per_s'))} | {fmt(row['p50_ms'])} | "
            f"{fmt(row['p99_ms'])} | {fmt(row.get('max_ms'))} | {row['errors']} | "
            f"{', '.join(f'{k}: {v}' for k, v in row.get('statuses', {}).items())} | "
            f"{'; '.join(f'{k} {v}' for k, v in cpu.items()) or '-'} | "
            f"{versus} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write_results(table: str) -> None:
    """Replace the generated part of the section, which sits at the top; leave the rest."""
    write_section(RESULTS, section=SECTION, begin=BEGIN, end=END, table=table, on_top=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks.wrk", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 s phases instead of 10 s")
    parser.add_argument("--only", choices=["embedded", "distributed"], help="one topology")
    parser.add_argument("--seconds", type=float, help="seconds per wrk phase")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (-t)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (-c)")
    parser.add_argument("--profile", type=Path, help="py-spy every product phase into DIR")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    plan = Plan(seconds, args.threads, args.connections, 120.0, args.profile)
    started_load = load()
    print(
        json.dumps(
            {
                "load_average": started_load,
                "auth": "keys",
                "plan": {
                    "seconds": seconds,
                    "threads": plan.threads,
                    "connections": plan.connections,
                },
            }
        )
    )
    report = Report()
    with tempfile.TemporaryDirectory(prefix="sangraha-wrk-bench-") as name:
        tmp = Path(name)
        bare_baselines(report, plan, tmp)
        if args.only in (None, "embedded"):
            run_embedded(report, plan, tmp)
        if args.only in (None, "distributed"):
            run_distributed(report, plan, tmp)
    for goal in goals(report):
        print(json.dumps({"goal": goal.__dict__, "met": goal.met}), flush=True)
    ended_load = load()
    print(json.dumps({"load_average": ended_load}), flush=True)
    command = "python -m benchmarks.wrk" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    if not args.no_write:
        write_results(markdown(report, plan, command, (started_load, ended_load)))


if __name__ == "__main__":
    main()
