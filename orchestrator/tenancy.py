"""Who is calling, and how much they may ask: one ``Tenancy`` shared by REST and gRPC.

Identity: with ``HILUM_API_KEYS_FILE`` (JSON ``{"tenants": {"<tenant>": ["sha256:<hex of the key>",
...]}}``) every session request carries ``Authorization: Bearer <key>`` (gRPC: metadata
``authorization``); the tenant is the one whose list holds the key's SHA-256, compared in
constant time, and any ``X-Hilum-Tenant`` header is ignored. Without a keys file the server is a
loopback-only development server (``check_bind`` refuses any other address before binding) and
the tenant is ``X-Hilum-Tenant`` or ``default``. Keys are never logged or echoed. A request with more
than one ``Authorization`` header (gRPC: ``authorization`` entry) is refused, in either mode
(``one_credential``: 401 / UNAUTHENTICATED), never answered with one of them.

Limits per tenant: a token bucket over session requests (``tenant_rate_per_s``,
``tenant_burst``) and a cap on concurrent first turns (``tenant_max_uploads``), both 429 /
RESOURCE_EXHAUSTED with a Retry-After. Sessions per tenant are the engine's check
(``max_sessions_per_tenant``), eviction within a tenant is the session store's.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from orchestrator.errors import RateLimitedError, UnauthenticatedError, UploadsBusyError
from orchestrator.settings import Settings

DEFAULT_TENANT = "default"
HASH_PREFIX = "sha256:"
MAX_IDLE_BUCKETS = 10_000  # full buckets are forgotten past this many tenants (header tenants in dev mode)


class ConfigError(ValueError):
    """A setting that keeps the server from starting (said at start, exit non-zero)."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_bind(settings: Settings, host: str) -> None:
    """Without a keys file anyone who reaches the port reads every session: loopback only."""
    if settings.api_keys_file is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host!r} without API keys: set HILUM_API_KEYS_FILE "
            '(JSON {"tenants": {"<tenant>": ["sha256:<hex of the key>"]}}) or listen on 127.0.0.1'
        )


def key_hash(key: str) -> str:
    """The keys file's spelling of ``key``: ``sha256:<hex>``."""
    return HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """The tenants' key hashes; ``tenant_for(key)`` compares against every one (no early exit)."""

    def __init__(self, tenants: dict[str, list[str]]) -> None:
        self._entries: list[tuple[bytes, str]] = []
        for tenant, hashes in tenants.items():
            if not isinstance(tenant, str) or not tenant.strip() or not isinstance(hashes, list):
                raise ConfigError("keys file: each tenant needs a non-empty name and a list of key hashes")
            for h in hashes:
                if not isinstance(h, str) or not h.startswith(HASH_PREFIX):
                    raise ConfigError(f"keys file: tenant {tenant!r}: each key is 'sha256:<64 hex digits>'")
                try:
                    digest = bytes.fromhex(h[len(HASH_PREFIX):])
                except ValueError:
                    digest = b""
                if len(digest) != hashlib.sha256().digest_size:
                    raise ConfigError(f"keys file: tenant {tenant!r}: each key is 'sha256:<64 hex digits>'")
                self._entries.append((digest, tenant))
        if not self._entries:
            raise ConfigError("keys file: no tenant has a key")

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the keys file {str(path)!r}: {type(exc).__name__}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("tenants"), dict):
            raise ConfigError('keys file: expected {"tenants": {"<tenant>": ["sha256:<hex>", ...]}}')
        return cls(doc["tenants"])

    def tenant_for(self, key: str) -> str | None:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        found = None
        for stored, tenant in self._entries:
            if hmac.compare_digest(digest, stored) and found is None:
                found = tenant
        return found

    @property
    def tenants(self) -> set[str]:
        return {tenant for _, tenant in self._entries}


def bearer(authorization: str | None) -> str | None:
    scheme, _, key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


class TokenBuckets:
    """One bucket per tenant: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, tenant: str) -> float:
        """0 when a token was taken, else the seconds until one will be there."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(tenant, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if len(self._buckets) > MAX_IDLE_BUCKETS:
                self._forget_full(now)
            if tokens >= 1.0:
                self._buckets[tenant] = (tokens - 1.0, now)
                return 0.0
            self._buckets[tenant] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        for tenant in [t for t, (tok, at) in self._buckets.items() if tok + (now - at) * self.rate >= self.burst]:
            del self._buckets[tenant]


class Tenancy:
    """``enter(authorization, tenant_header)``: the caller's tenant, after the rate check;
    ``first_turn(tenant)``: holds one of the tenant's concurrent uploads. ``observe(kind)`` is
    told of every refusal (the metrics' error counter)."""

    def __init__(self, settings: Settings, keyring: KeyRing | None = None,
                 observe: Callable[[str], None] | None = None) -> None:
        if keyring is None and settings.api_keys_file is not None:
            keyring = KeyRing.load(settings.api_keys_file)
        self.keyring = keyring
        self.buckets = TokenBuckets(settings.tenant_rate_per_s, settings.tenant_burst)
        self.max_uploads = settings.tenant_max_uploads
        self.observe = observe or (lambda kind: None)
        self._uploads: dict[str, int] = {}
        self._lock = threading.Lock()

    def _refuse(self, exc: Exception) -> Exception:
        self.observe(getattr(exc, "kind", "error"))
        return exc

    def one_credential(self, values: Sequence[str]) -> str | None:
        """The request's one ``Authorization`` value (None without one); more than one is 401 /
        UNAUTHENTICATED, in development mode too: which of them was meant is not ours to guess."""
        if len(values) > 1:
            raise self._refuse(UnauthenticatedError(
                "more than one Authorization header (gRPC: authorization metadata entry): send exactly one, "
                "'Authorization: Bearer <key>'"))
        return values[0] if values else None

    def identify(self, authorization: str | None, tenant_header: str | None = None) -> str:
        if self.keyring is None:  # loopback development server: the header names the tenant
            return (tenant_header or "").strip() or DEFAULT_TENANT
        key = bearer(authorization)
        tenant = self.keyring.tenant_for(key) if key else None
        if tenant is None:
            raise self._refuse(UnauthenticatedError(
                "a valid API key is required: send 'Authorization: Bearer <key>'" if key is None
                else "the API key is not valid"))
        return tenant

    def admit(self, tenant: str) -> None:
        wait = self.buckets.take(tenant)
        if wait > 0:
            raise self._refuse(RateLimitedError(
                f"too many requests for this tenant (over {self.buckets.rate:g}/s); retry later",
                retry_after_s=max(1, math.ceil(wait))))

    def enter(self, authorization: str | None, tenant_header: str | None = None) -> str:
        tenant = self.identify(authorization, tenant_header)
        self.admit(tenant)
        return tenant

    @contextlib.contextmanager
    def first_turn(self, tenant: str) -> Iterator[None]:
        if self.max_uploads <= 0:
            yield
            return
        with self._lock:
            busy = self._uploads.get(tenant, 0)
            if busy >= self.max_uploads:
                raise self._refuse(UploadsBusyError(
                    f"this tenant already has {self.max_uploads} uploads in progress; retry when one is done"))
            self._uploads[tenant] = busy + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._uploads[tenant] - 1
                if left:
                    self._uploads[tenant] = left
                else:
                    del self._uploads[tenant]
