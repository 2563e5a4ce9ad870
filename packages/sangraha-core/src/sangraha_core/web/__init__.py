"""HTTP plumbing shared by the receiver and the getter: problems, health, metrics, logs.

Needs the ``web`` extra: ``pip install "sangraha-core[web]"``.
"""

from ._auth import ApiKeyMiddleware
from ._install import backends_of, install_web
from ._observability import (
    BYTES_IN,
    BYTES_OUT,
    ObservabilityMiddleware,
    configure_logging,
    request_id,
)
from ._problems import PROBLEM_BASE, problem_for, problem_response
from ._routing import KEY_CONVERTOR, ObjectKeyConvertor

__all__ = [
    "BYTES_IN",
    "BYTES_OUT",
    "KEY_CONVERTOR",
    "PROBLEM_BASE",
    "ApiKeyMiddleware",
    "ObjectKeyConvertor",
    "ObservabilityMiddleware",
    "backends_of",
    "configure_logging",
    "install_web",
    "problem_for",
    "problem_response",
    "request_id",
]
