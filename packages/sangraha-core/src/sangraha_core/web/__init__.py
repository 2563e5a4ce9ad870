"""HTTP plumbing shared by the receiver and the getter: problems, health, metrics, logs,
and ``serve``, which runs any of the services under uvicorn with the HTTP limits.

Needs the ``web`` extra: ``pip install "sangraha-core[web]"``.
"""

from .._logging import configure_logging, request_id
from ._access import (
    OPEN_PATHS,
    OPEN_PREFIXES,
    AccessMiddleware,
    Refusal,
    access_of,
    principal_of,
    require,
    requires,
    requires_admin,
)
from ._body import BodyReader
from ._hardening import HardeningMiddleware
from ._health import health_router
from ._http import HttpLimits, LimitedHttpProtocol, limited_protocol
from ._install import backends_of, install_web
from ._lifespan import backends_lifespan
from ._observability import BYTES_IN, BYTES_OUT, ObservabilityMiddleware, metrics_endpoint
from ._problems import PROBLEM_BASE, problem_doc, problem_for, problem_of, problem_response
from ._routing import KEY_CONVERTOR, ObjectKeyConvertor
from ._serve import DEFAULT_HOST, Listener, run_service, serve, serve_together
from ._streaming import BlobStreamResponse

__all__ = [
    "BYTES_IN",
    "BYTES_OUT",
    "DEFAULT_HOST",
    "KEY_CONVERTOR",
    "OPEN_PATHS",
    "OPEN_PREFIXES",
    "PROBLEM_BASE",
    "AccessMiddleware",
    "BlobStreamResponse",
    "BodyReader",
    "HardeningMiddleware",
    "HttpLimits",
    "LimitedHttpProtocol",
    "Listener",
    "ObjectKeyConvertor",
    "ObservabilityMiddleware",
    "Refusal",
    "access_of",
    "backends_lifespan",
    "backends_of",
    "configure_logging",
    "health_router",
    "install_web",
    "limited_protocol",
    "metrics_endpoint",
    "principal_of",
    "problem_doc",
    "problem_for",
    "problem_of",
    "problem_response",
    "request_id",
    "require",
    "requires",
    "requires_admin",
    "run_service",
    "serve",
    "serve_together",
]
