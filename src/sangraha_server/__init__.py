"""``sangraha serve``: the whole object store in one process, for a laptop or a small box."""

from ._app import create_app, serve
from ._bootstrap import create_key_locally

__all__ = ["create_app", "create_key_locally", "serve"]
