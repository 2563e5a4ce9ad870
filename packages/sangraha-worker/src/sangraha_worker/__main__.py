"""``python -m sangraha_worker``: the same as the ``sangraha-worker`` command."""

from .cli import main

raise SystemExit(main())
