"""Services and the SDK use the core only through its public names: a private module of the
core may change shape without a service noticing, so none imports one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *(
        ROOT / "packages" / f"sangraha-{name}" / "src"
        for name in ("receiver", "getter", "worker", "gateway")
    ),
    ROOT / "packages" / "sangraha-client" / "src",
    ROOT / "src",
]
MODULES = sorted(path for source in SOURCES for path in source.rglob("*.py"))


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # ``from sangraha_core import _processing`` reaches in just as far.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _private_core(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "sangraha_core" and any(part.startswith("_") for part in parts[1:])


def test_there_are_modules_to_check() -> None:
    assert len(MODULES) > 20


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_service_imports_a_private_core_module(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    private = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for line, name in _imported(tree)
        if _private_core(name) and name != "sangraha_core.__version__"
    ]
    assert not private, "import the public name instead:\n" + "\n".join(private)


def test_the_check_sees_what_it_must() -> None:
    tree = ast.parse(
        "from sangraha_core._processing import Outcome\n"
        "import sangraha_core.storage._reader\n"
        "from sangraha_core import _constants\n"
        "from sangraha_core import Backends, __version__\n"
    )
    assert [name for _, name in _imported(tree) if _private_core(name)] == [
        "sangraha_core._processing",
        "sangraha_core._processing.Outcome",
        "sangraha_core.storage._reader",
        "sangraha_core._constants",
        "sangraha_core.__version__",
    ]
