"""The distributions stay in lockstep, and the client stays light."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["core", "receiver", "getter", "worker", "gateway", "client"]


def _project(path: Path) -> dict[str, object]:
    data = tomllib.loads((path / "pyproject.toml").read_text())
    project: dict[str, object] = data["project"]
    return project


def test_versions_and_sibling_pins_agree() -> None:
    root_version = _project(ROOT)["version"]
    for name in PACKAGES:
        pkg = ROOT / "packages" / f"sangraha-{name}"
        project = _project(pkg)
        assert project["version"] == root_version, name
        for dep in project.get("dependencies", []):  # type: ignore[attr-defined]
            if dep.startswith("sangraha-"):
                assert dep.endswith(f"=={root_version}"), f"{name}: {dep} is not pinned exactly"
        assert (pkg / "README.md").is_file()
        assert (pkg / "src" / f"sangraha_{name}" / "py.typed").is_file()


def test_every_runtime_version_is_the_pyprojects() -> None:
    import sangraha_client
    import sangraha_core
    from sangraha_server import create_app

    root_version = _project(ROOT)["version"]
    assert sangraha_core.__version__ == root_version
    assert sangraha_client.__version__ == root_version
    assert create_app().version == root_version
    written = [
        str(path.relative_to(ROOT))
        for path in [*ROOT.glob("packages/*/src/**/*.py"), *ROOT.glob("src/**/*.py")]
        if f'"{root_version}"' in path.read_text(encoding="utf-8")
    ]
    assert not written, f"the version is read from the installed metadata, not written: {written}"


@pytest.mark.slow
def test_client_alone_pulls_no_heavy_dependency(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            str(ROOT / "packages" / "sangraha-core"),
            str(ROOT / "packages" / "sangraha-client"),
        ],
        check=True,
        env=env,
        timeout=600,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.lower()
    names = {line.split("==")[0] for line in listed.splitlines()}
    heavy = {
        "boto3",
        "botocore",
        "pika",
        "fastapi",
        "uvicorn",
        "starlette",
        "sqlalchemy",
        "psycopg",
        "psycopg-binary",
        "pillow",
        "pypdf",
        "redis",
    }
    assert not names & heavy, f"the client pulled {sorted(names & heavy)}"
    assert {"sangraha-client", "sangraha-core", "httpx"} <= names
    out = subprocess.run(
        [str(python), "-c", "import sangraha_client, sys; print('ok')"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.stdout.strip() == "ok"
    assert sys.version_info >= (3, 11)
