"""What the engine reports as it works; the metrics module implements it for Prometheus.

``ObservedStore`` wraps the engine's session store (``DialogueEngine.__init__``) and reports what
only the store sees, to whichever of these optional observer methods the observer has
(``orchestrator/metrics.py`` ``ServiceMetrics`` has them all; a plain ``EngineObserver`` is told
nothing more):

- ``store_error(op)`` and ``error("store_unavailable")`` for every operation the store could not do
  (Redis unreachable), ``error("session_busy")`` for every turn refused because another turn held
  the session or was stored first (the 409s);
- ``store_up(store, up)``: whether the store answered, set by each operation and by ``ping``, the
  readiness check's probe (``orchestrator/api/readiness.py``), so an external Redis is covered;
- ``tenant_sessions(tenant, count)``: the sessions a tenant holds, after each put and delete and
  whenever the engine counts them (its per-tenant quota check). With an API keys file the tenant is
  the keys file's (bounded by it); without one every session is reported as ``default``;
- ``first_turn(seconds)``: a new session's first stored state carries its screening turn, whose stage
  times (decode, gate, encode, findings, compose, narrate) summed are the first turn's latency.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol

from orchestrator.errors import HilumError, SessionBusyError, StoreUnavailableError

DEFAULT_TENANT = "default"
STORE_OPS = ("get", "put", "append", "turn_lock", "delete", "count", "count_tenant", "ping")
# what becomes of an uploaded film (``EngineObserver.film``): read from the encoder's maps; read by the second reader
# alone (the encoder's maps formed no plausible chest: orchestrator/encoders/second_reader.py); withheld (no findings:
# the anatomy could not be established, or the film is mirrored); refused (not an upright frontal chest film, or a
# file that cannot be read as one)
FILM_OUTCOMES = ("read", "read_alone", "withheld", "refused")


class EngineObserver(Protocol):
    def stage(self, stage: str, seconds: float) -> None:
        """decode, encode, findings, compose, narrate."""

    def turn(self, intent: str, seconds: float) -> None: ...

    def anchor_resolution(self, outcome: str) -> None:
        """resolved, ambiguous, none."""

    def error(self, kind: str) -> None: ...

    def sessions_active(self, count: int) -> None: ...

    def film(self, outcome: str) -> None:
        """What became of an uploaded film (``FILM_OUTCOMES``)."""


class StoreObserver(Protocol):
    """The optional methods ``ObservedStore`` reports to (an observer may have any of them)."""

    def store_error(self, op: str) -> None: ...

    def store_up(self, store: str, up: bool) -> None: ...

    def tenant_sessions(self, tenant: str, count: int) -> None: ...

    def first_turn(self, seconds: float) -> None: ...


class NullObserver:
    def stage(self, stage: str, seconds: float) -> None:
        return None

    def turn(self, intent: str, seconds: float) -> None:
        return None

    def anchor_resolution(self, outcome: str) -> None:
        return None

    def error(self, kind: str) -> None:
        return None

    def sessions_active(self, count: int) -> None:
        return None

    def film(self, outcome: str) -> None:
        return None


class ObservedStore:
    """A session store (``orchestrator/dialogue/session.py`` ``SessionStore``) that tells ``observer``
    what happens to it; anything else the wrapped store has is passed through unobserved."""

    def __init__(self, inner: Any, observer: Any, *, by_tenant: bool) -> None:
        self.inner = inner.inner if isinstance(inner, ObservedStore) else inner  # one engine's store handed to another
        self.observer = observer
        self.by_tenant = by_tenant  # True with an API keys file: tenants are the keys file's

    @property
    def name(self) -> str:
        return str(getattr(self.inner, "name", "memory"))

    def __getattr__(self, attr: str) -> Any:  # only for what this class does not define
        return getattr(self.inner, attr)

    def _tell(self, method: str, *args: Any) -> None:
        fn = getattr(self.observer, method, None)
        if callable(fn):
            fn(*args)

    @contextlib.contextmanager
    def _op(self, op: str) -> Iterator[None]:
        try:
            yield
        except StoreUnavailableError:
            self._tell("store_error", op)
            self._tell("store_up", self.name, False)
            self._tell("error", StoreUnavailableError.kind)
            raise
        except SessionBusyError:
            self._tell("error", SessionBusyError.kind)
            raise
        self._tell("store_up", self.name, True)

    def _refresh(self, tenant: str | None) -> None:
        """Re-reads the tenant's session count (it reports itself); a store that fails here has
        already done what was asked of it, so the failure is counted, not raised."""
        try:
            if not self.by_tenant:
                self.count()
            elif tenant is not None:
                self.count_tenant(tenant)
        except HilumError:
            pass

    # --- SessionStore ----------------------------------------------------------------------------
    def get(self, session_id: str) -> Any:
        with self._op("get"):
            return self.inner.get(session_id)

    def put(self, state: Any) -> None:
        with self._op("put"):
            self.inner.put(state)
        self._refresh(state.tenant)
        turns = getattr(state, "turns", ())
        if len(turns) == 1:  # a new session: its screening turn is the first turn
            self._tell("first_turn", float(sum(turns[0].timings.values())))

    def get_head(self, session_id: str, *, history: bool = False, images: bool = False) -> Any:
        with self._op("get"):
            return self.inner.get_head(session_id, history=history, images=images)

    def last_query(self, session_id: str) -> dict[str, Any]:
        with self._op("get"):
            return self.inner.last_query(session_id)

    def append(self, session_id: str, expected_turns: int, record: Any, registry: Any) -> None:
        with self._op("append"):
            self.inner.append(session_id, expected_turns, record, registry)

    @contextlib.contextmanager
    def turn_lock(self, session_id: str, wait_s: float | None = None) -> Iterator[None]:
        held = contextlib.ExitStack()
        with self._op("turn_lock"):  # only taking the lock is the store's; the turn's own errors are not
            held.enter_context(self.inner.turn_lock(session_id, wait_s=wait_s))
        with held:
            yield

    def delete(self, session_id: str, tenant: str | None = None) -> bool:
        with self._op("delete"):
            deleted = bool(self.inner.delete(session_id, tenant=tenant))
        self._refresh(tenant)
        return deleted

    def count(self) -> int:
        with self._op("count"):
            n = int(self.inner.count())
        if not self.by_tenant:
            self._tell("tenant_sessions", DEFAULT_TENANT, n)
        return n

    def count_tenant(self, tenant: str) -> int:
        with self._op("count_tenant"):
            n = int(self.inner.count_tenant(tenant))
        if self.by_tenant:
            self._tell("tenant_sessions", tenant, n)
        return n

    def ping(self) -> bool:
        """The readiness check's probe: True when the store answers (an in-process one always does)."""
        probe = getattr(self.inner, "ping", None)
        try:
            up = True if probe is None else bool(probe())
        except Exception:  # noqa: BLE001 - a failing probe means not reachable
            up = False
        self._tell("store_up", self.name, up)
        if not up:
            self._tell("store_error", "ping")
        return up
