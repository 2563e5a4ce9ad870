"""Kinds: detect and strictly validate JSON, images and PDFs, and extract their metadata.

``inspect(content_type, file)`` validates and describes; services run it in validator
processes through ``InspectorPool``, whose ``inspect`` has the same meaning. ``detect(head)``
names the type that an object's first bytes announce. The limits are exported so that callers
and documentation can state them.
"""

from .._media import HEAD_SIZE, detect
from ._image import MAX_ANIMATION_PIXELS, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MAX_WEBP_SIZE
from ._inspect import inspect
from ._json import MAX_JSON_DEPTH, MAX_JSON_KEYS, MAX_JSON_TOKEN
from ._pool import InspectorPool, ValidatorStartError
from ._stream import MAX_WHOLE_READ

__all__ = [
    "HEAD_SIZE",
    "MAX_ANIMATION_PIXELS",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "MAX_JSON_DEPTH",
    "MAX_JSON_KEYS",
    "MAX_JSON_TOKEN",
    "MAX_WEBP_SIZE",
    "MAX_WHOLE_READ",
    "InspectorPool",
    "ValidatorStartError",
    "detect",
    "inspect",
]
