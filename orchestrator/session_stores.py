"""Where sessions live: in process (the embedded default) or in Redis (several replicas).

``build_session_store(settings)`` picks one: ``HILUM_REDIS_URL`` set → ``RedisSessionStore``,
else the dialogue engine's ``InMemorySessionStore``. Redis keeps each session as the JSON
document ``SessionState.to_json()`` under ``hilum:session:<id>`` with the session TTL, so
any replica can answer any turn of any session; ``hilum:tenant:<tenant>`` is a sorted set of the
tenant's session ids by last use (for ``max_sessions_per_tenant``). Redis evicts nothing but
expired sessions, so no tenant's creates can push out another's.
"""

from __future__ import annotations

import time

import redis

from orchestrator.dialogue.session import InMemorySessionStore, SessionState, SessionStore
from orchestrator.settings import Settings

KEY_PREFIX = "hilum:session:"
TENANT_PREFIX = "hilum:tenant:"


class RedisSessionStore:
    """A SessionStore over Redis; each put refreshes the session's TTL."""

    def __init__(self, client: redis.Redis, ttl_s: int = 3600) -> None:
        self._redis = client
        self._ttl = int(ttl_s)

    @classmethod
    def from_url(cls, url: str, ttl_s: int = 3600) -> RedisSessionStore:
        return cls(redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0), ttl_s)

    def get(self, session_id: str) -> SessionState | None:
        raw = self._redis.get(KEY_PREFIX + session_id)
        if raw is None:
            return None
        self._redis.expire(KEY_PREFIX + session_id, self._ttl)
        state = SessionState.from_json(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        self._touch(state.tenant, session_id)
        return state

    def _touch(self, tenant: str, session_id: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(TENANT_PREFIX + tenant, {session_id: time.time()})
        pipe.expire(TENANT_PREFIX + tenant, self._ttl)
        pipe.execute()

    def put(self, state: SessionState) -> None:
        self._redis.set(KEY_PREFIX + state.session_id, state.to_json().encode("utf-8"), ex=self._ttl)
        self._touch(state.tenant, state.session_id)

    def delete(self, session_id: str, tenant: str | None = None) -> bool:
        if tenant is not None:
            self._redis.zrem(TENANT_PREFIX + tenant, session_id)
        return bool(self._redis.delete(KEY_PREFIX + session_id))

    def count_tenant(self, tenant: str) -> int:
        key = TENANT_PREFIX + tenant
        self._redis.zremrangebyscore(key, "-inf", time.time() - self._ttl)  # expired with their sessions
        return int(self._redis.zcard(key))

    def count(self) -> int:
        return sum(1 for _ in self._redis.scan_iter(match=KEY_PREFIX + "*", count=500))

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False


def build_session_store(settings: Settings) -> SessionStore:
    if settings.redis_url:
        return RedisSessionStore.from_url(settings.redis_url, settings.session_ttl_s)
    return InMemorySessionStore(ttl_s=settings.session_ttl_s, max_sessions=settings.max_sessions)
