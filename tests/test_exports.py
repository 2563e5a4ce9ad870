"""Each library package's ``__all__`` is exactly what it really exports."""

from __future__ import annotations
import __future__

import importlib
from types import ModuleType

import pytest

MODULES = [
    "sangraha_core",
    "sangraha_core.storage",
    "sangraha_core.metadata",
    "sangraha_core.queue",
    "sangraha_core.testing",
    "sangraha_core.kinds",
    "sangraha_core.web",
    "sangraha_core.wire",
    "sangraha_client",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_matches_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr in dir(module)
        if not attr.startswith("_")
        and not isinstance(getattr(module, attr), ModuleType | __future__._Feature)
    }
    declared = set(module.__all__)
    assert declared - {"__version__"} == public, (
        f"{name}: missing from __all__: {sorted(public - declared)}; "
        f"in __all__ but not defined: {sorted(declared - public - {'__version__'})}"
    )
