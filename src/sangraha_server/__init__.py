"""``sangraha serve``: the whole object store in one process, for a laptop or a small box."""

from ._app import create_app, serve

__all__ = ["create_app", "serve"]
