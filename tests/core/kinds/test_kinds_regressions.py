"""Inputs the fuzzer (``nox -s fuzz``) found, each refused quickly and in little memory.

A finding is copied into ``regressions/`` under a name that says what it does; its
extension names the declared type. Each one runs in a fresh interpreter with a memory cap,
so a regression fails this test instead of taking the run down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FOUND = Path(__file__).resolve().parent / "regressions"
TYPES = {
    ".json": "application/json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}
#: What a fresh interpreter with the parsers loaded may grow to for one small finding.
_MEMORY = 512 * 1024 * 1024

_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[3]), int(sys.argv[3])))
    from sangraha_core import InvalidContentError
    from sangraha_core.kinds import inspect
    started = time.process_time()
    with open(sys.argv[1], "rb") as file:
        try:
            inspect(sys.argv[2], file)
            verdict = "accepted"
        except InvalidContentError as exc:
            verdict = exc.reason
    print(json.dumps({"verdict": verdict, "cpu": time.process_time() - started}))
    """
)


@pytest.mark.parametrize("path", sorted(FOUND.iterdir()), ids=lambda p: p.name)
def test_a_finding_is_refused_within_bounds(path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path), TYPES[path.suffix], str(_MEMORY)],
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    report = json.loads(run.stdout)
    assert report["verdict"] != "accepted"
    assert report["cpu"] < 5, report
