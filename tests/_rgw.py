"""A single-node Ceph cluster with a RADOS Gateway: a real S3 server for the tests.

One monitor, one OSD on ``memstore`` (RAM-backed) and radosgw with the beast frontend,
each a foreground process of its own under a temporary folder, on free ports, with
``auth none`` and pools of size 1. It comes up from nothing in seconds and is stopped by
PID. The packages come from Debian (``ceph-mon ceph-osd radosgw ceph-common``, installed
by ``.ci/run``).

Two settings it cannot do without: ``ms mon client mode = crc`` (with ``auth none``,
radosgw otherwise loops on "get_initial_auth_request returned -13"), and beast's
``tcp_nodelay=1`` (otherwise a 4 KiB GET waits on Nagle's algorithm: 23/s instead of
hundreds).

Deleted and overwritten objects leave their data to radosgw's garbage collector, which by
default waits two hours and runs hourly: here it runs every few seconds, since the OSD
lives in RAM and a run that rewrites gigabytes would otherwise fill it.

``python -m tests._rgw`` runs one in the foreground, for trying things by hand.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from tests._services import free_port

__all__ = ["ACCESS_KEY", "SECRET_KEY", "CephRgw", "installed"]

#: The credentials every S3 test uses, moto's included, so one environment fits both.
ACCESS_KEY = "testing"
SECRET_KEY = "testing"

_BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")

_CONF = """\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
run dir = {root}/run
admin socket = {root}/run/$name.asok
pid file = {root}/run/$name.pid
log file = {root}/log/$name.log
[mon.a]
mon data = {root}/mon
[osd.0]
osd data = {root}/osd
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
"""


def installed() -> bool:
    """Whether this machine has the Ceph daemons and tools."""
    return all(shutil.which(name) for name in _BINARIES)


class CephRgw:
    """Start with ``start()``, stop with ``stop()``; ``url`` is the S3 endpoint."""

    def __init__(self, memstore_bytes: int = 4 * 1024**3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sangraha-rgw-"))
        self.mon_port = free_port()
        self.rgw_port = free_port()
        self.url = f"http://127.0.0.1:{self.rgw_port}"
        self.conf = self.root / "ceph.conf"
        self._memstore_bytes = memstore_bytes
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 120.0) -> None:
        for name in ("mon", "osd", "run", "log"):
            (self.root / name).mkdir()
        fsid = str(uuid.uuid4())
        self.conf.write_text(
            _CONF.format(
                fsid=fsid,
                mon_port=self.mon_port,
                rgw_port=self.rgw_port,
                root=self.root,
                memstore_bytes=self._memstore_bytes,
            )
        )
        try:
            monmap = self.root / "monmap"
            self._tool(
                "monmaptool", "--create", "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]",
                "--fsid", fsid, str(monmap), conf=False,
            )  # fmt: skip
            self._tool("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap))
            self._daemon("ceph-mon", "-i", "a")
            osd_uuid = str(uuid.uuid4())
            self._tool("ceph", "--connect-timeout", "30", "osd", "new", osd_uuid, "0")
            self._tool("ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
            self._daemon("ceph-osd", "-i", "0")
            self._daemon("radosgw", "-n", "client.rgw")
            self._wait_for_gateway(timeout)
            self._tool(
                "radosgw-admin", "user", "create", "--uid", "sangraha",
                "--display-name", "sangraha", "--access-key", ACCESS_KEY,
                "--secret-key", SECRET_KEY,
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """The gateway's process (started last), for what it costs in memory and CPU."""
        return self._procs[-1].pid

    def stop(self) -> None:
        """Stop every daemon this object started, by PID, and remove its folder."""
        # SIGKILL: the cluster lives in memory and is thrown away; a clean shutdown of the
        # gateway alone takes seconds.
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self._procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        """The end of every daemon's log, for a failure message."""
        parts = []
        for log in sorted((self.root / "log").glob("*")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def _tool(self, *argv: str, conf: bool = True) -> None:
        command = [argv[0], *(["-c", str(self.conf)] if conf else []), *argv[1:]]
        run = subprocess.run(command, capture_output=True, timeout=60)
        if run.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({run.returncode}): {run.stderr.decode()[-2000:]}"
            )

    def _daemon(self, *argv: str) -> None:
        # The daemon keeps its own copy of the descriptor; ours is closed at once.
        with (self.root / "log" / f"{argv[0]}.out").open("ab") as log:
            self._procs.append(
                subprocess.Popen(
                    [argv[0], "-c", str(self.conf), "-f", *argv[1:]], stdout=log, stderr=log
                )
            )

    def _wait_for_gateway(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args!r} exited:\n{self.logs()}")
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError(f"radosgw did not answer in {timeout:.0f} s:\n{self.logs()}")


if __name__ == "__main__":
    # Blocked before anything starts, so that Ctrl-C or a SIGTERM reaches sigwait (and the
    # daemons are stopped) rather than killing this process and orphaning them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    rgw = CephRgw()
    started = time.monotonic()
    rgw.start()
    print(f"{rgw.url} up in {time.monotonic() - started:.1f} s (Ctrl-C stops it)", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        rgw.stop()
        sys.exit(0)
