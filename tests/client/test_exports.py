"""The package's ``__all__`` is exactly what it really exports."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import sangraha_client


def test_all_matches_public_names() -> None:
    public = {
        name
        for name in vars(sangraha_client)
        if not name.startswith("_")
        and not isinstance(getattr(sangraha_client, name), type(pkgutil))
    }
    public.add("__version__")
    assert set(sangraha_client.__all__) == public
    assert len(sangraha_client.__all__) == len(set(sangraha_client.__all__))


def test_every_private_module_declares_all_of_real_names() -> None:
    for info in pkgutil.iter_modules(sangraha_client.__path__):
        module = importlib.import_module(f"sangraha_client.{info.name}")
        names = module.__all__
        assert names, info.name
        for name in names:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_the_client_stays_light() -> None:
    # In a fresh interpreter: what other tests imported into this one says nothing.
    heavy = ["fastapi", "uvicorn", "boto3", "pika", "sqlalchemy", "psycopg"]
    script = f"import sys, sangraha_client\nprint(sorted(set({heavy!r}) & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
