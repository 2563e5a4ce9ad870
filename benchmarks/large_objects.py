"""Large objects, measured: transfer rates, processing time and every service's peak RSS.

``python -m benchmarks.large_objects`` starts both topologies (``tests/_topology.py``)
and a bare ASGI baseline (``benchmarks/_baseline.py``) and prints one JSON line per case:

* ``put``: one single-request PUT of the file; ``processing``: from its 202 to ``ready``;
* ``chunked``: the SDK's ``upload_file`` in parts, 4 in parallel;
* ``get``: one streamed GET of the content;
* the transfers (chunked, GET, and the baselines' own) run ``--repeat`` times (3), and the
  fastest run counts (``runs_s`` lists them all): other work on a shared machine only ever
  slows a run down. The single PUT runs once, so that its processing is timed alone;
* every timed transfer starts after an ``os.sync()``, so no run pays for the write-back of
  what the one before it wrote;
* ``baseline``: the same PUT and GET through the bare app, and each case's ratio to it;
  the chunked upload's ratio is to a bare PUT of the same file made right before it (the
  ``put`` lines with ``beside``), as the machine drifts over a run of minutes;
* ``bare-s3``: the PDF files' multipart upload straight to the S3 endpoint the distributed
  topology uses, with boto3 (``chunked_ratio_store``: the distributed chunked upload
  against it), for what the store alone allows.

Sizes are 100 MiB and 2 GiB (``--quick``: 100 MiB only), kinds a PDF holding one large
image stream (as scans do) and a JSON array of records. Uploads and downloads do not
depend on the kind, so the JSON object is only uploaded and processed. The 2 GiB JSON
object takes its parse at ~30-90 MB/s on each topology, which would take the run well past
ten minutes on two cores: it is measured only with ``--json-2g``.

The last lines (``rss_summary``) give each service's peak RSS over the 100 MiB cases and
over the 2 GiB ones, and their ratio: memory must not follow the object's size.

``--resume`` runs the interrupted-upload scenario instead: a file goes up in parts (4 in
parallel), the uploading process is killed (``SIGKILL``) half-way, a new one resumes and
completes; the download is killed half-way and resumed too; both ends' digests must agree.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks._measure import MIB, Sampler
from tests._rgw import CephRgw
from tests._services import PG_HOST, PG_PORT, PG_USER, free_port, wait_for_port
from tests._topology import Topology, distributed, embedded

__all__ = [
    "digest_of",
    "resume_scenario",
    "service_pids",
    "wait_ready",
    "write_json",
    "write_pdf",
]

GIB = 1024 * MIB
_BLOCK = MIB
_PART_SIZE = 16 * MIB
_POSTGRES_ADMIN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/test"


# -- content ------------------------------------------------------------------------------


def write_pdf(path: Path, size: int) -> Path:
    """A one-page PDF of about ``size`` bytes, nearly all of it one image stream."""
    width = 4096
    pixels = max(width, (size - 2048) // width * width)
    block = hashlib.sha256(str(size).encode()).digest() * (_BLOCK // 32)
    offsets: list[int] = []
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

        def obj(body: bytes) -> None:
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % (len(offsets)) + body + b"\nendobj\n")

        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        obj(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>"
        )
        offsets.append(out.tell())
        out.write(
            b"4 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n"
            % (width, pixels // width, pixels)
        )
        left = pixels
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
        out.write(b"\nendstream\nendobj\n")
        content = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
        obj(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        obj(b"<< /Title (Large scan) /Author (Sangraha) >>")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            out.write(b"%010d 00000 n \n" % offset)
        out.write(
            b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(offsets) + 1, xref)
        )
    return path


def write_json(path: Path, size: int) -> Path:
    """A JSON object ``{"items": [records...], "count": n}`` of about ``size`` bytes."""
    record = (
        b'{"id": 123456, "name": "caf\\u00e9 \xc3\xa9", "price": 12.5, "tags": ["a", "bb"], '
        b'"active": true, "note": null, "text": "lorem ipsum dolor sit amet"}'
    )
    block = b",".join([record] * (_BLOCK // len(record)))
    with path.open("wb") as out:
        out.write(b'{"items": [')
        written = 0
        while written + len(block) < size:
            out.write(block + b",")
            written += len(block) + 1
        out.write(record + b'], "count": 1}')
    return path


def digest_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_BLOCK):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(_BLOCK):
            yield chunk


# -- topologies ---------------------------------------------------------------------------


def service_pids(topo: Topology) -> dict[str, int]:
    return {service.name: service.pid for service in topo.services}


def wait_ready(topo: Topology, bucket: str, key: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30) as http:
        while True:
            record: dict[str, Any] = http.get(
                f"{topo.read_url}/v1/buckets/{bucket}/metadata/{key}"
            ).json()
            if record["status"] != "pending":
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key} still pending after {timeout} s")
            time.sleep(0.05)


def _put(url: str, path: Path, content_type: str) -> httpx.Response:
    response = httpx.put(
        url,
        content=_file_chunks(path),
        headers={"Content-Type": content_type, "Content-Length": str(path.stat().st_size)},
        timeout=600,
    )
    response.raise_for_status()
    return response


def _get(url: str) -> tuple[int, str]:
    hasher = hashlib.sha256()
    size = 0
    with httpx.stream("GET", url, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(_BLOCK):
            hasher.update(chunk)
            size += len(chunk)
    return size, f"sha256:{hasher.hexdigest()}"


def _case(
    report: Callable[[dict[str, Any]], None],
    name: str,
    pids: dict[str, int],
    size: int,
    run: Callable[[], object],
    *,
    repeat: int = 1,
    settle: Callable[[], object] | None = None,
    sync: bool = True,
    **fields: Any,
) -> float:
    """Time ``run`` ``repeat`` times (``settle`` after each, untimed) and report the
    fastest: the machine is shared, and its neighbours only ever slow a run down.

    With ``sync``, every run starts with nothing waiting to be written: the write-back of
    what an earlier case left in the page cache would otherwise land in whichever run comes
    next, ours or the baseline's. (Not for ``processing``, already under way when timed.)"""
    runs: list[tuple[float, dict[str, Any]]] = []
    for _ in range(repeat):
        if sync:
            os.sync()
        with Sampler(pids) as sampler:
            started = time.perf_counter()
            run()
            seconds = time.perf_counter() - started
        runs.append((seconds, sampler.report()))
        if settle is not None:
            settle()
    seconds, rss = min(runs, key=lambda item: item[0])
    # Time from the fastest run; memory from the worst, so a peak is never hidden.
    rss = {
        process: {**usage, "peak_rss_mib": max(r[1][process]["peak_rss_mib"] for r in runs)}
        for process, usage in rss.items()
    }
    line = {
        "case": name,
        **fields,
        "size_mib": round(size / MIB),
        "seconds": round(seconds, 2),
        "mb_s": round(size / seconds / 1e6, 1),
        "rss": rss,
    }
    if repeat > 1:
        line["runs_s"] = [round(run_s, 2) for run_s, _ in runs]
    report(line)
    return seconds


def _bench_topology(
    topo: Topology,
    files: dict[tuple[str, int], Path],
    bare: BareApp,
    baseline: dict[tuple[str, int], tuple[float, float]],
    report: Callable[[dict[str, Any]], None],
    repeat: int,
) -> None:
    from sangraha_client import Client

    pids = service_pids(topo)
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    client = Client(base_url=topo.read_url, write_url=topo.write_url, timeout=600)
    for (kind, size), path in files.items():
        content_type = "application/pdf" if kind == "pdf" else "application/json"
        key = f"{kind}-{size}"

        def put(key: str = key, path: Path = path, content_type: str = content_type) -> None:
            _put(f"{topo.write_url}/v1/buckets/{bucket}/objects/{key}", path, content_type)

        common: dict[str, Any] = {"topology": topo.name, "kind": kind}
        put_s = _case(report, "put", pids, size, put, **common)
        put_base, get_base = baseline[(kind, size)]
        report({"case": "put_ratio", **common, "size_mib": round(size / MIB),
                "ratio": round(put_base / put_s, 2)})  # fmt: skip

        def processing(key: str = key) -> None:
            record = wait_ready(topo, bucket, key, timeout=1800)
            assert record["status"] == "ready", record

        _case(report, "processing", pids, size, processing, sync=False, **common)
        if kind != "pdf":
            continue

        def chunked(path: Path = path, key: str = key) -> None:
            client.upload_file(
                bucket, key + "-parts", path, threshold=0, part_size=_PART_SIZE, concurrency=4
            )

        def chunked_ready(key: str = key) -> None:
            wait_ready(topo, bucket, key + "-parts", timeout=1800)

        # The bare PUT again, right before: over a run of minutes this machine's disk and
        # CPUs drift by more than the gap being measured.
        beside = _case(
            report, "put", {"baseline": bare.pid}, size, functools.partial(bare.put, path),
            repeat=repeat, topology="bare-asgi", kind=kind, beside=topo.name,
        )  # fmt: skip
        bare.forget(path)
        chunked_s = _case(
            report, "chunked", pids, size, chunked, repeat=repeat, settle=chunked_ready, **common
        )
        report({"case": "chunked_ratio", **common, "size_mib": round(size / MIB),
                "ratio": round(beside / chunked_s, 2)})  # fmt: skip
        url = f"{topo.read_url}/v1/buckets/{bucket}/objects/{key}"
        get_s = _case(
            report, "get", pids, size, functools.partial(_get, url), repeat=repeat, **common
        )
        report({"case": "get_ratio", **common, "size_mib": round(size / MIB),
                "ratio": round(get_base / get_s, 2)})  # fmt: skip
    client.close()


class BareApp:
    """The bare ASGI app (``benchmarks/_baseline.py``) in a process of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = ["-m", "benchmarks._baseline", "--port", str(port), "--dir", str(folder)]
        self._proc = subprocess.Popen([sys.executable, *argv])
        wait_for_port("127.0.0.1", port)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def put(self, path: Path) -> None:
        _put(f"{self.url}/{path.name}", path, "application/octet-stream")

    def get(self, path: Path) -> None:
        _get(f"{self.url}/{path.name}")

    def forget(self, path: Path) -> None:
        (self.folder / path.name).unlink(missing_ok=True)

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)


def _bench_baseline(
    bare: BareApp,
    files: dict[tuple[str, int], Path],
    report: Callable[[dict[str, Any]], None],
    repeat: int,
) -> dict[tuple[str, int], tuple[float, float]]:
    times: dict[tuple[str, int], tuple[float, float]] = {}
    pids = {"baseline": bare.pid}
    for (kind, size), path in files.items():
        put = _case(
            report, "put", pids, size, functools.partial(bare.put, path),
            repeat=repeat, topology="bare-asgi", kind=kind,
        )  # fmt: skip
        get = _case(
            report, "get", pids, size, functools.partial(bare.get, path),
            repeat=repeat, topology="bare-asgi", kind=kind,
        )  # fmt: skip
        times[(kind, size)] = (put, get)
        bare.forget(path)
    return times


def _bench_s3_store(
    rgw: CephRgw,
    files: dict[tuple[str, int], Path],
    report: Callable[[dict[str, Any]], None],
    repeat: int,
) -> dict[int, float]:
    """The PDF files' multipart uploads straight to the distributed topology's S3 endpoint
    with boto3 (parts as the SDK sends them): what the store itself allows, in seconds by
    size in MiB."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    s3 = boto3.client(
        "s3",
        endpoint_url=rgw.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    config = TransferConfig(
        multipart_threshold=_PART_SIZE, multipart_chunksize=_PART_SIZE, max_concurrency=4
    )
    times: dict[int, float] = {}
    for (kind, size), path in files.items():
        if kind != "pdf":
            continue
        key = f"{kind}-{size}"

        def upload(path: Path = path, key: str = key) -> None:
            s3.upload_file(str(path), bucket, key, Config=config)

        pids = {"radosgw": rgw.pid}
        times[round(size / MIB)] = _case(
            report, "chunked", pids, size, upload, repeat=repeat, topology="bare-s3", kind=kind
        )
        s3.delete_object(Bucket=bucket, Key=key)
    return times


# -- the interrupted upload and download ----------------------------------------------------

_CHILD = """
import json, sys
from sangraha_client import Client
read_url, write_url, action, bucket, key, path, part_size = sys.argv[1:]
with Client(base_url=read_url, write_url=write_url, timeout=600) as client:
    if action == "upload":
        record = client.upload_file(
            bucket, key, path, threshold=0, part_size=int(part_size), concurrency=4
        )
        print(json.dumps({"digest": str(record.digest), "size": record.size}))
    else:
        client.download_file(bucket, key, path)
"""


def _child(
    topo: Topology, action: str, bucket: str, key: str, path: Path, part_size: int
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, topo.read_url, topo.write_url, action, bucket, key,
         str(path), str(part_size)],
        stdout=subprocess.PIPE,
    )  # fmt: skip


def _uploaded(topo: Topology, path: Path) -> int:
    """Bytes the session behind ``path``'s upload holds so far (0 before it exists)."""
    try:
        state = json.loads(path.with_name(path.name + ".sangraha-upload").read_text())
        session = httpx.get(f"{topo.write_url}/v1/uploads/{state['upload_id']}", timeout=10)
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return 0
    if session.status_code != 200:
        return 0
    return sum(int(part["size"]) for part in session.json().get("parts", []))


def _kill_when(proc: subprocess.Popen[bytes], reached: Callable[[], bool], timeout: float) -> bool:
    """SIGKILL ``proc`` once ``reached()``; False when it finished first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if reached():
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
            return True
        time.sleep(0.01)
    proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return False


def resume_scenario(topo: Topology, path: Path, *, part_size: int) -> dict[str, Any]:
    """Upload ``path`` in parts, kill the uploader half-way, resume; the same for the download.

    Returns what happened; raises ``AssertionError`` when the scenario did not hold.
    """
    size = path.stat().st_size
    bucket, key = f"resume-{uuid.uuid4().hex[:8]}", "large.bin"
    expected = digest_of(path)
    started = time.perf_counter()
    first = _child(topo, "upload", bucket, key, path, part_size)
    killed = _kill_when(first, lambda: _uploaded(topo, path) >= size // 2, timeout=1800)
    held = _uploaded(topo, path)
    assert killed and first.returncode == -signal.SIGKILL, "the upload finished before the kill"
    # Parts in flight at the kill may still land; the session stays open, never completed.
    assert held > 0, held
    second = _child(topo, "upload", bucket, key, path, part_size)
    out, _ = second.communicate(timeout=1800)
    assert second.returncode == 0, second.returncode
    record = json.loads(out)
    assert record == {"digest": expected, "size": size}, (record, expected)
    upload_s = time.perf_counter() - started
    ready = wait_ready(topo, bucket, key, timeout=1800)
    assert ready["status"] == "ready", ready

    target = path.with_name(path.name + ".back")
    partial = target.with_name(target.name + ".part")
    started = time.perf_counter()
    first = _child(topo, "download", bucket, key, target, 0)
    killed = _kill_when(
        first, lambda: partial.exists() and partial.stat().st_size >= size // 2, timeout=1800
    )
    assert killed, "the download finished before the kill"
    kept = partial.stat().st_size
    second = _child(topo, "download", bucket, key, target, 0)
    second.communicate(timeout=1800)
    assert second.returncode == 0, second.returncode
    download_s = time.perf_counter() - started
    got = digest_of(target)
    target.unlink()
    assert got == expected, (got, expected)
    return {
        "case": "resume",
        "topology": topo.name,
        "size_mib": round(size / MIB),
        "held_at_kill_mib": round(held / MIB, 1),
        "downloaded_at_kill_mib": round(kept / MIB, 1),
        "upload_s": round(upload_s, 2),
        "download_s": round(download_s, 2),
        "digest": expected,
    }


# -- entry point ----------------------------------------------------------------------------


@contextlib.contextmanager
def _topologies(tmp: Path) -> Iterator[tuple[list[Topology], CephRgw]]:
    # Room in the gateway's RAM-backed OSD for a 2 GiB object staged, filed and uploaded
    # straight by the baseline, with its copies in flight.
    rgw = CephRgw(memstore_bytes=12 * GIB)
    topos: list[Topology] = []
    try:
        rgw.start()
        topos.append(embedded(tmp / "embedded"))
        topos.append(distributed(tmp / "distributed", _POSTGRES_ADMIN, rgw.url))
        yield topos, rgw
    finally:
        for topo in topos:
            topo.stop()
        rgw.stop()


def _print(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def rss_summary(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each service's highest peak RSS per object size, and the largest over the smallest."""
    peaks: dict[tuple[str, str], dict[int, float]] = {}
    for line in lines:
        if line.get("topology") == "bare-s3":
            continue  # the S3 server keeps objects in its memory: not a service of ours
        for service, usage in line.get("rss", {}).items():
            by_size = peaks.setdefault((line["topology"], service), {})
            size = line["size_mib"]
            by_size[size] = max(by_size.get(size, 0.0), usage["peak_rss_mib"])
    summary: list[dict[str, Any]] = []
    for (topology, service), by_size in peaks.items():
        smallest, largest = by_size[min(by_size)], by_size[max(by_size)]
        summary.append(
            {
                "case": "rss_summary",
                "topology": topology,
                "service": service,
                "peak_rss_mib": {str(size): peak for size, peak in sorted(by_size.items())},
                "ratio": round(largest / smallest, 3),
            }
        )
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 MiB objects only")
    parser.add_argument(
        "--json-2g", action="store_true", help="also upload and process the 2 GiB JSON object"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each transfer case; the fastest counts"
    )
    parser.add_argument("--resume", action="store_true", help="the interrupted-upload scenario")
    parser.add_argument("--size-mib", type=int, default=2048, help="object size for --resume")
    parser.add_argument("--dir", type=Path, default=None, help="scratch space (default: /tmp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="sangraha-bench-") as name:
        tmp = Path(name)
        for sub in ("embedded", "distributed", "baseline"):
            (tmp / sub).mkdir()
        if args.resume:
            path = write_pdf(tmp / "large.pdf", args.size_mib * MIB)
            with _topologies(tmp) as (topos, _):
                for topo in topos:
                    _print(resume_scenario(topo, path, part_size=_PART_SIZE))
            return
        sizes = [100 * MIB] if args.quick else [100 * MIB, 2 * GIB]
        files = {
            (kind, size): (write_pdf if kind == "pdf" else write_json)(tmp / f"{kind}-{size}", size)
            for size in sizes
            for kind in ("pdf", "json")
            if kind == "pdf" or size < GIB or args.json_2g
        }
        lines: list[dict[str, Any]] = []

        def report(line: dict[str, Any]) -> None:
            lines.append(line)
            _print(line)

        bare = BareApp(tmp / "baseline")
        try:
            baseline = _bench_baseline(bare, files, report, args.repeat)
            with _topologies(tmp) as (topos, rgw):
                store = _bench_s3_store(rgw, files, report, args.repeat)
                for topo in topos:
                    _bench_topology(topo, files, bare, baseline, report, args.repeat)
        finally:
            bare.stop()
        for line in list(lines):
            if line["case"] == "chunked" and line["topology"] == "distributed":
                size_mib = line["size_mib"]
                ratio = round(store[size_mib] / line["seconds"], 2)
                kind = line["kind"]
                report(
                    {
                        "case": "chunked_ratio_store",
                        "topology": "distributed",
                        "kind": kind,
                        "size_mib": size_mib,
                        "ratio": ratio,
                    }
                )
        for line in rss_summary(lines):
            _print(line)


if __name__ == "__main__":
    main()
