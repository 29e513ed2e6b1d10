"""Where sessions live: in process (the embedded default) or in Redis (several replicas).

``build_session_store(settings)`` picks one: ``HILUM_REDIS_URL`` set → ``RedisSessionStore``,
else the dialogue engine's ``InMemorySessionStore``. Redis keeps a session in parts that change
as differently as they do (``orchestrator/dialogue/session.py``), so a follow-up turn touches only
the new turn and the registry:
- ``hilum:film:<id>``: a hash written once at creation: ``meta`` (the ImageFacts, their canonical
  JSON, source, frame, tenant, language), ``png`` (the display film), ``heatmap`` (the lesion
  heatmap). Each replica keeps the parsed film record of recent sessions in memory (it never
  changes), so a turn neither reads nor parses the facts again;
- ``hilum:head:<id>``: the anchor registry (JSON), replaced by each turn;
- ``hilum:log:<id>``: the turn log, one JSON record per turn (``RPUSH``), read whole only for the
  session's view, its report, a fork, or a narrator that retells with history;
- ``hilum:turns:<id>``: the turn count, the session's version.
All of a session's keys carry the session TTL, refreshed on every use. ``hilum:tenant:<tenant>``
is a sorted set of the tenant's session ids by last use (for ``max_sessions_per_tenant``) and
``hilum:sessions`` the same for all (the active-sessions gauge, without a key scan). Redis evicts
nothing but expired sessions, so no tenant's creates can push out another's. A session stored
whole by an earlier version (``hilum:session:<id>``) is split into these parts when first read.

Replicas agree on a session's turns:
- ``turn_lock``: ``SET hilum:lock:<id> <token> NX PX <lease>``, retried with jittered backoff for
  at most ``session_lock_wait_s`` (then 409 ``session_busy`` + Retry-After); released by a script
  that deletes the key only while it still holds this turn's token. The lease frees a session
  whose replica died mid-turn.
- ``append``: one Lua script appends the turn and replaces the registry only if
  ``hilum:turns:<id>`` still equals the count the turn was drafted on, and bumps it in the same
  step. A turn whose lease lapsed under a slower replica is refused (409), never merged, so
  each turn number is handed out once. The script also releases the turn's lock.
- A turn is two round trips: taking the lock reads the session's head in the same pipeline (used
  by the turn's ``get_head`` while this process holds the lock: nobody else can change it), and
  the append releases the lock.
- Redis unreachable → ``StoreUnavailableError`` (503 + Retry-After) from every operation; the
  engine reads the tenant's session count before decoding a film, so an upload is refused before
  any decoding or encoding work. ``ping`` (``/readyz``) uses its own client with short timeouts.

Durability is Redis's: the chart runs it with AOF (``--appendonly yes --appendfsync everysec``).
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
import redis

from orchestrator.dialogue.anchors import Registry
from orchestrator.dialogue.session import (
    BUSY_MESSAGE,
    CHANGED_MESSAGE,
    GONE_MESSAGE,
    InMemorySessionStore,
    SessionState,
    SessionStore,
    TurnRecord,
    anchors_from_jsonable,
    anchors_to_jsonable,
    record_bytes,
)
from orchestrator.errors import SessionBusyError, SessionNotFoundError, StoreUnavailableError
from orchestrator.settings import Settings

FILM_PREFIX = "hilum:film:"
HEAD_PREFIX = "hilum:head:"
LOG_PREFIX = "hilum:log:"
TURNS_PREFIX = "hilum:turns:"
LOCK_PREFIX = "hilum:lock:"
TENANT_PREFIX = "hilum:tenant:"
ALL_SESSIONS = "hilum:sessions"
LEGACY_PREFIX = "hilum:session:"  # a whole session as one JSON document (before the split)
UNAVAILABLE_MESSAGE = "the session store is not reachable; retry shortly"
PROBE_TIMEOUT_S = 1.0
FIRST_BACKOFF_S = 0.005
MAX_BACKOFF_S = 0.1
FILM_CACHE_SIZE = 256

# KEYS: head, turn count, log, film, tenant set, all sessions, the session's lock.
# ARGV: record, anchors, expected count, ttl s, now, session id, the turn's lock token ('' if none).
# 1 stored, 0 the count moved (another turn was stored first), -1 the session is gone. The turn's
# lock is released here whatever the outcome (the turn ends with its append): no round trip of its own.
_APPEND = """
if ARGV[7] ~= '' and redis.call('GET', KEYS[7]) == ARGV[7] then redis.call('DEL', KEYS[7]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('GET', KEYS[2]) or '0'
if v ~= ARGV[3] then return 0 end
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
redis.call('SET', KEYS[2], tostring(tonumber(ARGV[3]) + 1), 'EX', ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[6])
redis.call('EXPIRE', KEYS[5], ARGV[4])
redis.call('ZADD', KEYS[6], ARGV[5], ARGV[6])
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


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def _keys(session_id: str) -> tuple[str, str, str, str]:
    return FILM_PREFIX + session_id, HEAD_PREFIX + session_id, LOG_PREFIX + session_id, TURNS_PREFIX + session_id


class RedisSessionStore:
    """A SessionStore over Redis (layout above); every use refreshes the session's TTL."""

    name = "redis"

    def __init__(self, client: redis.Redis, ttl_s: int = 3600, *, lock_wait_s: float = 10.0,
                 lock_lease_s: float = 30.0, probe: redis.Redis | None = None,
                 film_cache_size: int = FILM_CACHE_SIZE) -> None:
        self._redis = client
        self._probe = probe if probe is not None else client
        self._ttl = int(ttl_s)
        self._lock_wait_s = float(lock_wait_s)
        self._lease_ms = max(1, int(lock_lease_s * 1000))
        self._append = client.register_script(_APPEND)
        self._release = client.register_script(_RELEASE)
        self._films: OrderedDict[str, SessionState] = OrderedDict()  # parsed film records (immutable)
        # per session this process holds the lock of: its token, and the head read with the lock. A
        # turn's steps may run on different threads (a stream), so these are keyed by session and
        # changed only by compare-and-pop on the turn's own token, under ``_held_lock``: a turn never
        # drops what the next turn on the session (which may take the lock the moment the append
        # released it) has put there
        self._held: dict[str, str] = {}
        self._prefetched: dict[str, tuple[str, SessionState | None, list[Any]]] = {}
        self._held_lock = threading.Lock()
        self._films_max = max(0, int(film_cache_size))
        self._films_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, ttl_s: int = 3600, *, lock_wait_s: float = 10.0,
                 lock_lease_s: float = 30.0) -> RedisSessionStore:
        client = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0)
        probe = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S)
        return cls(client, ttl_s, lock_wait_s=lock_wait_s, lock_lease_s=lock_lease_s, probe=probe)

    # --- the film record cache -------------------------------------------------------------------

    def _cached_film(self, session_id: str) -> SessionState | None:
        with self._films_lock:
            film = self._films.get(session_id)
            if film is not None:
                self._films.move_to_end(session_id)
            return film

    def _cache_film(self, film: SessionState) -> None:
        if self._films_max == 0:
            return
        with self._films_lock:
            self._films[film.session_id] = film
            self._films.move_to_end(film.session_id)
            while len(self._films) > self._films_max:
                self._films.popitem(last=False)

    def _forget_film(self, session_id: str) -> None:
        with self._films_lock:
            self._films.pop(session_id, None)

    # --- reading -----------------------------------------------------------------------------------

    def _touch(self, pipe: Any, session_id: str, tenant: str) -> None:
        now = time.time()
        for key in _keys(session_id):
            pipe.expire(key, self._ttl)
        pipe.zadd(TENANT_PREFIX + tenant, {session_id: now})
        pipe.expire(TENANT_PREFIX + tenant, self._ttl)
        pipe.zadd(ALL_SESSIONS, {session_id: now})

    def _queue_read(self, pipe: Any, session_id: str, *, log: bool, images: bool) -> SessionState | None:
        """Queues the reads of ``_read`` on ``pipe`` (five results, then the TTL touches); returns the
        cached film record, if any."""
        film_key, head_key, log_key, turns_key = _keys(session_id)
        film = self._cached_film(session_id)
        pipe.get(head_key)
        pipe.get(turns_key)
        pipe.hget(film_key, "meta") if film is None else pipe.exists(film_key)
        pipe.lrange(log_key, 0, -1) if log else pipe.exists(log_key)
        pipe.hmget(film_key, ["png", "heatmap", "earlier"]) if images else pipe.exists(film_key)
        if film is not None:
            self._touch(pipe, session_id, film.tenant)
        return film

    def _read(self, session_id: str, *, log: bool, images: bool) -> tuple[SessionState, list[Any]] | None:
        """One round trip (two the first time this replica sees the session): the film record,
        the registry, the turn count, and the log / the PNGs when asked; the TTLs refreshed."""
        pipe = self._redis.pipeline(transaction=False)
        film = self._queue_read(pipe, session_id, log=log, images=images)
        return self._finish_read(session_id, film, pipe.execute()[:5], log=log, images=images)

    def _finish_read(self, session_id: str, film: SessionState | None, results: list[Any], *, log: bool,
                     images: bool) -> tuple[SessionState, list[Any]] | None:
        head, turns, meta, records, pngs = results
        if head is None:
            self._forget_film(session_id)
            return None
        if film is None:
            if meta is None:
                return None
            film = SessionState.from_film_jsonable(json.loads(_text(meta)))
            self._cache_film(film)
            touch = self._redis.pipeline(transaction=False)
            self._touch(touch, session_id, film.tenant)
            touch.execute()
        state = replace(film, registry=anchors_from_jsonable(json.loads(_text(head))),
                        head_turns=int(turns or 0))
        if images:
            png, heatmap, earlier = pngs
            state = replace(state, display_png=bytes(png or b""), heatmap_png=bytes(heatmap or b""),
                            earlier_png=bytes(earlier or b""))
        return state, (records if log else [])

    def _migrate(self, session_id: str) -> bool:
        """A session stored whole by an earlier version, split into today's parts (once)."""
        raw = self._redis.get(LEGACY_PREFIX + session_id)
        if raw is None:
            return False
        self._write(SessionState.from_json(_text(raw)))
        self._redis.delete(LEGACY_PREFIX + session_id)
        return True

    def _state(self, session_id: str, *, log: bool, images: bool) -> tuple[SessionState, list[Any]] | None:
        with _reachable():
            got = self._read(session_id, log=log, images=images)
            if got is None and self._migrate(session_id):
                got = self._read(session_id, log=log, images=images)
        return got

    def get(self, session_id: str) -> SessionState | None:
        got = self._state(session_id, log=True, images=True)
        if got is None:
            return None
        state, raw_records = got
        records = [TurnRecord.from_jsonable(orjson.loads(r), owned=True) for r in raw_records]
        return replace(state, head_turns=None,
                       turns=tuple(r.turn for r in records), questions=tuple(r.question for r in records),
                       queries=tuple(r.query for r in records), history=tuple(r.prior for r in records))

    def _hold(self, session_id: str, token: str, prefetched: tuple[str, SessionState | None, list[Any]]) -> None:
        with self._held_lock:
            self._held[session_id] = token
            self._prefetched[session_id] = prefetched

    def _holding(self, session_id: str) -> str:
        with self._held_lock:
            return self._held.get(session_id, "")

    def _let_go(self, session_id: str, token: str) -> bool:
        """Forgets this turn's hold (if it is still this turn's): True if it was."""
        with self._held_lock:
            pre = self._prefetched.get(session_id)
            if pre is not None and pre[0] == token:
                del self._prefetched[session_id]
            if self._held.get(session_id) == token:
                del self._held[session_id]
                return True
        return False

    def _take_prefetched(self, session_id: str) -> tuple[str, SessionState | None, list[Any]] | None:
        with self._held_lock:
            pre = self._prefetched.get(session_id)
            if pre is None or self._held.get(session_id) != pre[0]:
                return None
            return self._prefetched.pop(session_id)

    def get_head(self, session_id: str, *, history: bool = False, images: bool = False) -> SessionState | None:
        pre = self._take_prefetched(session_id)
        if pre is not None and not history and not images:
            _, film, results = pre  # read with the lock this process still holds: nobody changed it since
            with _reachable():
                got = self._finish_read(session_id, film, results, log=False, images=False)
            if got is not None:
                return got[0]
        got = self._state(session_id, log=history, images=images)
        if got is None:
            return None
        state, raw_records = got
        if history:
            state = replace(state, history=tuple(TurnRecord.from_jsonable(orjson.loads(r), owned=True).narrator_view
                                                 for r in raw_records))
        return state

    def last_query(self, session_id: str) -> dict[str, Any]:
        with _reachable():
            last = self._redis.lindex(LOG_PREFIX + session_id, -1)
        return dict(orjson.loads(last).get("query") or {}) if last is not None else {}

    # --- writing -----------------------------------------------------------------------------------

    def _write(self, state: SessionState) -> None:
        film_key, head_key, log_key, turns_key = _keys(state.session_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(film_key, head_key, log_key, turns_key)
        pipe.hset(film_key, mapping={"meta": json.dumps(state.film_jsonable(), ensure_ascii=False,
                                                        separators=(",", ":")).encode("utf-8"),
                                     "png": state.display_png, "heatmap": state.heatmap_png,
                                     "earlier": state.earlier_png})
        pipe.set(head_key, json.dumps(anchors_to_jsonable(state.registry), separators=(",", ":")))
        records = [record_bytes(r) for r in state.records()]
        if records:
            pipe.rpush(log_key, *records)
        pipe.set(turns_key, str(len(records)))
        self._touch(pipe, state.session_id, state.tenant)
        pipe.execute()

    def put(self, state: SessionState) -> None:
        """Stores a new session whole: its film record once, its registry, its turns."""
        with _reachable():
            self._write(state)

    def append(self, session_id: str, expected_turns: int, record: TurnRecord, registry: Registry) -> None:
        film = self._cached_film(session_id)
        tenant = film.tenant if film is not None else self._tenant_of(session_id)
        token = self._holding(session_id)  # this turn's: it holds the session while it appends
        with _reachable():
            done = self._append(
                keys=[HEAD_PREFIX + session_id, TURNS_PREFIX + session_id, LOG_PREFIX + session_id,
                      FILM_PREFIX + session_id, TENANT_PREFIX + tenant, ALL_SESSIONS, LOCK_PREFIX + session_id],
                args=[record_bytes(record),
                      json.dumps(anchors_to_jsonable(registry), separators=(",", ":")),
                      str(int(expected_turns)), self._ttl, time.time(), session_id, token],
            )
        if token:
            self._let_go(session_id, token)  # released by the script: turn_lock has nothing left to do
        if int(done) == -1:
            raise SessionNotFoundError(GONE_MESSAGE)
        if int(done) == 0:
            raise SessionBusyError(CHANGED_MESSAGE)

    def _tenant_of(self, session_id: str) -> str:
        got = self._state(session_id, log=False, images=False)
        if got is None:
            raise SessionNotFoundError(GONE_MESSAGE)
        return got[0].tenant

    @contextlib.contextmanager
    def turn_lock(self, session_id: str, wait_s: float | None = None) -> Iterator[None]:
        key, token = LOCK_PREFIX + session_id, uuid.uuid4().hex
        deadline = time.monotonic() + (self._lock_wait_s if wait_s is None else max(0.0, wait_s))
        backoff = FIRST_BACKOFF_S
        while True:
            with _reachable():
                pipe = self._redis.pipeline(transaction=False)
                pipe.set(key, token, nx=True, px=self._lease_ms)
                film = self._queue_read(pipe, session_id, log=False, images=False)
                taken, *results = pipe.execute()
                if taken:
                    self._hold(session_id, token, (token, film, results[:5]))
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionBusyError(BUSY_MESSAGE)
            time.sleep(min(left, backoff * (0.5 + random.random())))  # jitter: waiters do not move in step
            backoff = min(MAX_BACKOFF_S, backoff * 2)
        try:
            yield
        finally:
            if self._let_go(session_id, token):  # not released by an append
                with contextlib.suppress(redis.RedisError):  # unreachable now: the lease lapses by itself
                    self._release(keys=[key], args=[token])

    def delete(self, session_id: str, tenant: str | None = None) -> bool:
        self._forget_film(session_id)
        with _reachable():
            pipe = self._redis.pipeline(transaction=True)
            if tenant is not None:
                pipe.zrem(TENANT_PREFIX + tenant, session_id)
            pipe.zrem(ALL_SESSIONS, session_id)
            pipe.delete(HEAD_PREFIX + session_id)  # the head says whether the session was there
            pipe.delete(*_keys(session_id))
            pipe.delete(LEGACY_PREFIX + session_id)
            *_, head, _, legacy = pipe.execute()
        return bool(head or legacy)

    def count_tenant(self, tenant: str) -> int:
        key = TENANT_PREFIX + tenant
        with _reachable():
            self._redis.zremrangebyscore(key, "-inf", time.time() - self._ttl)  # expired with their sessions
            return int(self._redis.zcard(key))

    def count(self) -> int:
        with _reachable():
            pipe = self._redis.pipeline(transaction=False)
            pipe.zremrangebyscore(ALL_SESSIONS, "-inf", time.time() - self._ttl)  # expired with their sessions
            pipe.zcard(ALL_SESSIONS)
            return int(pipe.execute()[1])

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
