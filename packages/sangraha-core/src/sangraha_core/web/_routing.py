"""The path convertor every object route names its key with: ``{key:objectkey}``."""

from __future__ import annotations

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor

__all__ = ["KEY_CONVERTOR", "ObjectKeyConvertor"]


class ObjectKeyConvertor(Convertor[str]):
    """Like ``path``, but matching every character: a key holding a decoded newline
    (``%0A``) must reach the route and be refused as a bad name (400), not miss it (404)."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


KEY_CONVERTOR = "objectkey"
if KEY_CONVERTOR not in CONVERTOR_TYPES:
    register_url_convertor(KEY_CONVERTOR, ObjectKeyConvertor())
