"""The master key, and access key secrets sealed under it.

SigV4 needs a key's secret itself to check a signature, so secrets cannot be stored as
hashes. They are sealed with AES-256-GCM under a master key that lives outside the
metadata store (a setting or a file): a copy of the database alone yields no secret. The
key id is bound in as associated data, so a sealed secret copied onto another key's row
does not open. See docs/access.md for the threat model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from .._exceptions import MasterKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MasterKey"]

_VERSION = "v1"
_NONCE_SIZE = 12


def _aesgcm(key: bytes) -> AESGCM:
    # Imported here: the SDK signs requests with this package and has no use for it.
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - the web extra brings it
        raise MasterKeyError(
            'sealing access key secrets needs cryptography: pip install "sangraha-core[web]"'
        ) from None
    return AESGCM(key)


class MasterKey:
    """32 random bytes; seals and opens access key secrets."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise MasterKeyError(f"the master key must be 32 bytes, not {len(key)}")
        self._cipher = _aesgcm(key)
        #: Names the key in sealed values without revealing it, so a secret sealed under
        #: another key is reported as such rather than as a corrupt value.
        self.fingerprint = hashlib.sha256(b"sangraha master key\0" + key).hexdigest()[:12]

    @classmethod
    def generate(cls) -> tuple[MasterKey, str]:
        """A new key and its text form (URL-safe base64)."""
        raw = secrets.token_bytes(32)
        return cls(raw), base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """The key from its URL-safe base64 text (44 characters)."""
        try:
            raw = base64.urlsafe_b64decode(text.strip().encode())
        except (binascii.Error, ValueError):
            raise MasterKeyError("the master key is not URL-safe base64 text") from None
        return cls(raw)

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        try:
            return cls.from_text(path.read_text())
        except OSError as error:
            raise MasterKeyError(f"cannot read the master key file {path}: {error}") from None

    @classmethod
    def load_or_create(cls, path: Path) -> MasterKey:
        """The key in ``path``, made on first use readable by its owner alone.

        For the embedded server, whose data directory is the whole installation.
        """
        if path.exists():
            return cls.from_file(path)
        key, text = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text + "\n")
        return key

    def seal(self, key_id: str, secret: str) -> str:
        nonce = secrets.token_bytes(_NONCE_SIZE)
        sealed = self._cipher.encrypt(nonce, secret.encode(), key_id.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_VERSION}.{self.fingerprint}.{body}"

    def open(self, key_id: str, sealed: str) -> str:
        """The secret ``seal`` sealed; :class:`MasterKeyError` if this key cannot open it."""
        version, _, rest = sealed.partition(".")
        fingerprint, _, body = rest.partition(".")
        if version != _VERSION or not body:
            raise MasterKeyError(f"the secret of key {key_id} is not a sealed value")
        if fingerprint != self.fingerprint:
            raise MasterKeyError(
                f"the secret of key {key_id} was sealed under another master key "
                f"({fingerprint}, this one is {self.fingerprint})"
            )
        raw = base64.urlsafe_b64decode(body.encode())
        from cryptography.exceptions import InvalidTag

        try:
            plain: bytes = self._cipher.decrypt(
                raw[:_NONCE_SIZE], raw[_NONCE_SIZE:], key_id.encode()
            )
        except InvalidTag:
            raise MasterKeyError(f"the sealed secret of key {key_id} does not open") from None
        return plain.decode()
