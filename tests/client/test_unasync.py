"""The sync client is exactly what ``scripts/unasync.py`` makes from the async one."""

from __future__ import annotations

import importlib.util
import inspect
import pathlib
import subprocess
import sys
from types import ModuleType

import pytest

from sangraha_client import AsyncClient, AsyncObjectStream, Client, ObjectStream

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"


@pytest.fixture(scope="module")
def unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sangraha_scripts_unasync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_sync_client_is_what_the_generator_makes() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_check_reports_a_hand_edit_and_write_repairs_it(
    unasync: ModuleType, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "_async_x.py"
    source.write_text("async def f(c: AsyncClient) -> None:\n    await c.aclose()\n")
    target = tmp_path / "_sync_x.py"
    pairs = [(source, target)]
    assert unasync.check(pairs), "a missing file is stale"
    assert unasync.write(pairs) == [target]
    assert target.read_text().endswith("def f(c: Client) -> None:\n    c.close()\n")
    assert unasync.check(pairs) == []
    assert unasync.write(pairs) == []
    target.write_text(target.read_text().replace("c.close()", "c.close()  # by hand"))
    (diff,) = unasync.check(pairs)
    assert "-    c.close()  # by hand" in diff and "+    c.close()\n" in diff


def test_an_async_form_the_table_lacks_is_refused(unasync: ModuleType) -> None:
    with pytest.raises(unasync.UnasyncError, match="AsyncThing"):
        unasync.unasync("x: AsyncThing\n", name="_async_x.py")
    with pytest.raises(unasync.UnasyncError, match="asyncio"):
        unasync.unasync("import asyncio\n", name="_async_x.py")


def test_names_only_change_as_whole_words(unasync: ModuleType) -> None:
    out = unasync.unasync("MyAsyncClient = make_aclose\nawaited = 1\n", name="_async_x.py")
    assert out.endswith("MyAsyncClient = make_aclose\nawaited = 1\n")


def test_renamed_imports_are_sorted_again(unasync: ModuleType) -> None:
    out = unasync.unasync(
        "from m import NOT_GIVEN, AsyncUploadData, Body, make_body\n"
        "from n import (\n    AsyncPage,\n    Body,\n)\n",
        name="_async_x.py",
    )
    assert "from m import NOT_GIVEN, Body, UploadData, make_body\n" in out
    assert "from n import (\n    Body,\n    SyncPage,\n)\n" in out


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("sync", "async_"), [(Client, AsyncClient), (ObjectStream, AsyncObjectStream)]
)
def test_both_clients_offer_the_same_methods_and_parameters(sync: type, async_: type) -> None:
    assert _public(sync) == _public(async_)
    for name in _public(sync):
        ours, theirs = getattr(sync, name), getattr(async_, name)
        if not callable(ours):
            continue
        params = inspect.signature(ours).parameters.values()
        twins = inspect.signature(theirs).parameters.values()
        assert [(p.name, p.kind, p.default) for p in params] == [
            (p.name, p.kind, p.default) for p in twins
        ], name
