"""Everything a service checks a request with, built once from its settings."""

from __future__ import annotations

from .._exceptions import MasterKeyError, RateLimitedError
from .._settings import Settings
from ._authenticate import Authenticator, Identity
from ._grants import Principal
from ._limits import FailureThrottle, RateLimiter
from ._manage import KeyAdmin
from ._ring import KeyRing
from ._seal import MasterKey
from ._sigv4 import SignedRequest
from ._store import AccessKeys

__all__ = ["AccessGuard", "master_key_of"]


def master_key_of(settings: Settings, *, create: bool = False) -> MasterKey:
    """The master key the settings name: ``master_key``, else ``master_key_file``.

    :param create: make the file if it does not exist yet (the embedded server, and a
        first key made against a data directory); a service of a deployment never does,
        so two services cannot seal under two different keys.
    """
    text = settings.master_key.get_secret_value()
    if text:
        return MasterKey.from_text(text)
    path = settings.master_key_file
    if path is None:  # pragma: no cover - the settings always fill it in
        raise MasterKeyError("no master key: set SANGRAHA_MASTER_KEY or SANGRAHA_MASTER_KEY_FILE")
    if create:
        return MasterKey.load_or_create(path)
    if not path.exists():
        raise MasterKeyError(
            f"access control needs the master key access key secrets are sealed under, and "
            f"{path} does not exist: set SANGRAHA_MASTER_KEY, or SANGRAHA_MASTER_KEY_FILE to "
            f"a file holding it (make one with 'sangraha keys master-key'), or set "
            f"SANGRAHA_AUTH=off"
        )
    return MasterKey.from_file(path)


class AccessGuard:
    """Who a request is (:meth:`authenticate`) and whether its key may go on (:meth:`limit`).

    :param allow_streaming: accept SigV4 ``STREAMING-…`` (``aws-chunked``) bodies, as the S3
        gateway does; see :class:`~.Authenticator`.
    """

    def __init__(
        self,
        settings: Settings,
        store: AccessKeys,
        master: MasterKey,
        *,
        allow_streaming: bool = False,
    ) -> None:
        self.ring = KeyRing(store, master, refresh=settings.key_refresh)
        self.admin = KeyAdmin(store, master)
        self.authenticator = Authenticator(
            operator_token=settings.api_key,
            region=settings.region,
            allow_streaming=allow_streaming,
        )
        self.limiter = RateLimiter()
        self.throttle = FailureThrottle(
            limit=settings.auth_failure_limit, window=settings.auth_failure_window
        )
        self._default_rate = settings.key_rate_limit

    def authenticate(self, request: SignedRequest, *, blocking: bool) -> Identity:
        """Without ``blocking``, raise ``NeedsRead`` rather than query the store."""
        lookup = self.ring.lookup if blocking else self.ring.peek
        return self.authenticator.authenticate(request, lookup)

    def authenticate_bearer(self, token: str, *, blocking: bool) -> Identity:
        """:meth:`authenticate` for a request whose one ``Authorization`` header is a bearer
        token (``token``, stripped): the same answer without reading the rest of the request."""
        lookup = self.ring.lookup if blocking else self.ring.peek
        return self.authenticator.bearer(token, lookup)

    def limit(self, principal: Principal) -> None:
        """Spend one of the key's requests, or raise :class:`RateLimitedError`."""
        if principal.key_id is None or principal.unrestricted:
            return
        rate = principal.rate_limit if principal.rate_limit is not None else self._default_rate
        wait = self.limiter.take(principal.key_id, rate)
        if wait is not None:
            raise RateLimitedError(
                f"access key {principal.key_id} is limited to {rate:g} requests a second",
                retry_after=wait,
            )
