"""Where sessions live: in process (the embedded default) or in Redis (several replicas).

``build_session_store(settings)`` picks one: ``HILUM_REDIS_URL`` set → ``RedisSessionStore``,
else the dialogue engine's ``InMemorySessionStore``. Redis keeps each session as the JSON
document ``SessionState.to_json()`` under ``hilum:session:<id>`` with the session TTL, so
any replica can answer any turn of any session; ``hilum:tenant:<tenant>`` is a sorted set of the
tenant's session ids by last use (for ``max_sessions_per_tenant``). Redis evicts nothing but
expired sessions, so no tenant's creates can push out another's.

Replicas agree on a session's turns:
- ``turn_lock``: ``SET hilum:lock:<id> <token> NX PX <lease>``, retried with jittered backoff for
  at most ``session_lock_wait_s`` (then 409 ``session_busy`` + Retry-After); released by a script
  that deletes the key only while it still holds this turn's token. The lease frees a session
  whose replica died mid-turn.
- ``commit``: one Lua script stores the turn only if ``hilum:turns:<id>`` (the session's turn
  count, its version) still equals the count the turn was drafted on, and bumps it in the same
  step. A turn whose lease lapsed under a slower replica is refused (409), never merged, so
  each turn number is handed out once.
- Redis unreachable → ``StoreUnavailableError`` (503 + Retry-After) from every operation; the
  engine reads the tenant's session count before decoding a film, so an upload is refused before
  any decoding or encoding work. ``ping`` (``/readyz``) uses its own client with short timeouts.

Durability is Redis's: the chart runs it with AOF (``--appendonly yes --appendfsync everysec``).
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Iterator

import redis

from orchestrator.dialogue.session import (
    BUSY_MESSAGE,
    CHANGED_MESSAGE,
    InMemorySessionStore,
    SessionState,
    SessionStore,
)
from orchestrator.errors import SessionBusyError, SessionNotFoundError, StoreUnavailableError
from orchestrator.settings import Settings

KEY_PREFIX = "hilum:session:"
TURNS_PREFIX = "hilum:turns:"
LOCK_PREFIX = "hilum:lock:"
TENANT_PREFIX = "hilum:tenant:"
UNAVAILABLE_MESSAGE = "the session store is not reachable; retry shortly"
PROBE_TIMEOUT_S = 1.0
FIRST_BACKOFF_S = 0.005
MAX_BACKOFF_S = 0.1

# KEYS: session doc, turn count, tenant set. ARGV: doc, expected count, ttl s, now, session id.
# 1 stored, 0 the count moved (another turn was stored first), -1 the session is gone.
_COMMIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('GET', KEYS[2])
if not v then
  v = tostring(#cjson.decode(redis.call('GET', KEYS[1]))['turns'])
end
if v ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], tostring(tonumber(ARGV[2]) + 1), 'EX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """Any failure to talk to Redis is the store being unavailable (never a 500)."""
    try:
        yield
    except redis.RedisError:
        raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None


class RedisSessionStore:
    """A SessionStore over Redis; each put refreshes the session's TTL."""

    name = "redis"

    def __init__(self, client: redis.Redis, ttl_s: int = 3600, *, lock_wait_s: float = 10.0,
                 lock_lease_s: float = 30.0, probe: redis.Redis | None = None) -> None:
        self._redis = client
        self._probe = probe if probe is not None else client
        self._ttl = int(ttl_s)
        self._lock_wait_s = float(lock_wait_s)
        self._lease_ms = max(1, int(lock_lease_s * 1000))
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, ttl_s: int = 3600, *, lock_wait_s: float = 10.0,
                 lock_lease_s: float = 30.0) -> RedisSessionStore:
        client = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0)
        probe = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S)
        return cls(client, ttl_s, lock_wait_s=lock_wait_s, lock_lease_s=lock_lease_s, probe=probe)

    def get(self, session_id: str) -> SessionState | None:
        with _reachable():
            raw = self._redis.get(KEY_PREFIX + session_id)
            if raw is None:
                return None
            pipe = self._redis.pipeline(transaction=False)
            pipe.expire(KEY_PREFIX + session_id, self._ttl)
            pipe.expire(TURNS_PREFIX + session_id, self._ttl)
            pipe.execute()
            state = SessionState.from_json(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
            self._touch(state.tenant, session_id)
        return state

    def _touch(self, tenant: str, session_id: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(TENANT_PREFIX + tenant, {session_id: time.time()})
        pipe.expire(TENANT_PREFIX + tenant, self._ttl)
        pipe.execute()

    def put(self, state: SessionState) -> None:
        """Stores the session whole with its turn count (a new session; a commit is ``commit``)."""
        with _reachable():
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(KEY_PREFIX + state.session_id, state.to_json().encode("utf-8"), ex=self._ttl)
            pipe.set(TURNS_PREFIX + state.session_id, str(len(state.turns)), ex=self._ttl)
            pipe.execute()
            self._touch(state.tenant, state.session_id)

    def commit(self, state: SessionState, expected_turns: int) -> None:
        with _reachable():
            done = self._commit(
                keys=[KEY_PREFIX + state.session_id, TURNS_PREFIX + state.session_id, TENANT_PREFIX + state.tenant],
                args=[state.to_json().encode("utf-8"), str(int(expected_turns)), self._ttl, time.time(),
                      state.session_id],
            )
        if int(done) == -1:
            raise SessionNotFoundError("no such session (it may have expired)")
        if int(done) == 0:
            raise SessionBusyError(CHANGED_MESSAGE)

    @contextlib.contextmanager
    def turn_lock(self, session_id: str) -> Iterator[None]:
        key, token = LOCK_PREFIX + session_id, uuid.uuid4().hex
        deadline = time.monotonic() + self._lock_wait_s
        backoff = FIRST_BACKOFF_S
        while True:
            with _reachable():
                if self._redis.set(key, token, nx=True, px=self._lease_ms):
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionBusyError(BUSY_MESSAGE)
            time.sleep(min(left, backoff * (0.5 + random.random())))  # jitter: waiters do not move in step
            backoff = min(MAX_BACKOFF_S, backoff * 2)
        try:
            yield
        finally:
            with contextlib.suppress(redis.RedisError):  # unreachable now: the lease lapses by itself
                self._release(keys=[key], args=[token])

    def delete(self, session_id: str, tenant: str | None = None) -> bool:
        with _reachable():
            if tenant is not None:
                self._redis.zrem(TENANT_PREFIX + tenant, session_id)
            removed = self._redis.delete(KEY_PREFIX + session_id)
            self._redis.delete(TURNS_PREFIX + session_id)
        return bool(removed)

    def count_tenant(self, tenant: str) -> int:
        key = TENANT_PREFIX + tenant
        with _reachable():
            self._redis.zremrangebyscore(key, "-inf", time.time() - self._ttl)  # expired with their sessions
            return int(self._redis.zcard(key))

    def count(self) -> int:
        with _reachable():
            return sum(1 for _ in self._redis.scan_iter(match=KEY_PREFIX + "*", count=500))

    def ping(self) -> bool:
        try:
            return bool(self._probe.ping())
        except redis.RedisError:
            return False


def build_session_store(settings: Settings) -> SessionStore:
    if settings.redis_url:
        return RedisSessionStore.from_url(settings.redis_url, settings.session_ttl_s,
                                          lock_wait_s=settings.session_lock_wait_s,
                                          lock_lease_s=settings.session_lock_lease_s)
    return InMemorySessionStore(ttl_s=settings.session_ttl_s, max_sessions=settings.max_sessions,
                                lock_wait_s=settings.session_lock_wait_s)
