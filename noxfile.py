"""Every gate in one place.

``nox -s quick`` (under a minute, no servers), ``nox -s tests``, ``nox -s lint``,
``nox -s typecheck``, ``nox -s bench``, ``nox -s fuzz``.

Virtualenvs are reused between runs (installs are incremental), so a rerun starts in seconds.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "lint", "typecheck"]

PYTHON = "3.11"
PACKAGES = ["core", "receiver", "getter", "worker", "gateway", "client"]
CORE_EXTRAS = "kinds,sql,postgres,s3,amqp,redis,web,testing"


def _optional(group: str) -> list[str]:
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    requirements: list[str] = project["optional-dependencies"][group]
    return requirements


def _install_workspace(session: nox.Session, *extras: str) -> None:
    """Every package editable, so a change in the tree needs no reinstall.

    The root distribution names its siblings by path; pip would see those references and
    the editable installs as two different sources of one package, so the root goes in
    without dependencies and its extras are installed by name.
    """
    args = ["-e", f"packages/sangraha-core[{CORE_EXTRAS}]"]
    for name in PACKAGES[1:]:
        args += ["-e", f"packages/sangraha-{name}"]
    for extra in extras:
        args += _optional(extra)
    session.install(*args)
    session.install("--no-deps", "-e", ".")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite, against the real PostgreSQL, RabbitMQ, Redis and a Ceph RGW S3 server."""
    _install_workspace(session, "test")
    session.run("pytest", *(session.posargs or ["-q"]), env={"CI": os.environ.get("CI", "")})


#: The fast lane: the unit tests, which need no server, start no service process and
#: spawn no validator. The service, storage, metadata, queue and worker suites run
#: backends of their own (and some every backend), so they stay in ``nox -s tests``.
QUICK_MARKERS = "not postgres and not rabbitmq and not redis and not s3 and not slow"
QUICK_PATHS = [
    "tests/client",
    "tests/core/kinds",
    "tests/core/web",
    # A blob store of a third party's, held to the shipped suite: it lives in memory.
    "tests/outside",
    *(
        f"tests/core/test_{name}.py"
        for name in ("digest", "group_commit", "ids", "messages", "names", "reads")
    ),
    "tests/core/test_request_parsers.py",
    "tests/core/test_settings.py",
    "tests/core/access/test_sigv4.py",
    *(f"tests/test_{name}.py" for name in ("exports", "packaging", "public_imports")),
    "tests/test_wire_contract.py",
]
QUICK_IGNORE = [
    # Validator processes capped in CPU and wall time: seconds each, and load-sensitive.
    "tests/core/kinds/test_validator_pool.py",
    # Runs mypy over a snippet.
    "tests/client/test_typing.py",
]


@nox.session(python=PYTHON)
def quick(session: nox.Session) -> None:
    """Unit tests that need no server and finish in under a minute; ``nox -s tests`` runs all."""
    _install_workspace(session, "test")
    session.run(
        "pytest",
        "-q",
        "-m",
        QUICK_MARKERS,
        *[f"--ignore={path}" for path in QUICK_IGNORE],
        *(session.posargs or QUICK_PATHS),
        env={"CI": os.environ.get("CI", "")},
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the tree; first, that the sync client is generated from the async one."""
    # The standard library is all the generator needs, so it runs before anything installs.
    session.run("python", "scripts/unasync.py", "--check")
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    _install_workspace(session, "typecheck")
    session.run(
        "mypy",
        *[f"packages/sangraha-{name}/src" for name in PACKAGES],
        "src",
        *session.posargs,
    )
    # Tests are namespace packages (``tests.client...``) found from the root, beside the
    # installed packages they test.
    session.run("mypy", "--explicit-package-bases", "tests", *session.posargs)


#: Each runs as ``python -m <module>``; a benchmark joins ``nox -s bench`` with one line here.
BENCHMARKS = [
    "benchmarks.large_objects",
    "benchmarks.small_objects",
    "benchmarks.wrk",
    "benchmarks.s3_api",
]


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark against both topologies; ``nox -s bench -- --quick`` for small sizes."""
    # The bench extra is py-spy, for profiling the services under the benchmarks' load.
    _install_workspace(session, "test", "bench")
    for module in BENCHMARKS:
        session.run("python", "-m", module, *session.posargs)


#: The kinds ``nox -s fuzz`` fuzzes, each for the same time.
FUZZ_KINDS = ["json", "png", "jpeg", "gif", "webp", "pdf"]


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """atheris over every kind validator, 10 minutes each (not part of the default run).

    ``nox -s fuzz -- 60`` fuzzes each kind for 60 seconds; ``nox -s fuzz -- 600 pdf`` one.
    Findings are written to ``fuzz/findings/<kind>/``.
    """
    _install_workspace(session)
    session.install("atheris>=2.3")
    seconds = session.posargs[0] if session.posargs else "600"
    for kind in session.posargs[1:] or FUZZ_KINDS:
        session.run("python", "-m", "fuzz.kinds", kind, "--seconds", seconds)


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """Run the embedded server from the working tree."""
    _install_workspace(session)
    session.run("sangraha", "serve", *session.posargs)
