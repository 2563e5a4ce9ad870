"""The distribution's version, read from what is installed: the package's pyproject.toml is
the one place it is written."""

import importlib.metadata

__all__ = ["__version__"]

__version__ = importlib.metadata.version("sangraha-client")
