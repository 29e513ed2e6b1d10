"""Session state as plain data (JSON round trip) and the session store.

``SessionState`` holds everything a follow-up turn needs — the ImageFacts, the anchor
registry, the turns and their questions, the display PNG — so that a store such as Redis
can keep it as a JSON document. It also keeps where the film came from: ``source`` (the upload's
format and, for DICOM, the identifiers and header attributes a DICOM result needs to reference it:
``orchestrator/dicom_out``) and ``frame`` (how the working image was made from the original,
docs/DESIGN.md; one definition, ``orchestrator.contracts.lesion_reader.Frame``). Sessions stored
before these fields existed load with both ``None``. The source record is PHI: it lives in the
store only, never in a JSON answer or a log line (its ``repr`` leaves the header out). ``InMemorySessionStore`` is the embedded default: TTL and a
maximum size, guarded by a lock, no module-level state. Past the maximum, a put evicts the least
recently used session *of the same tenant* (never another tenant's); a tenant with nothing of
its own to evict is bounded by ``max_sessions_per_tenant`` (the engine's 429 tenant_quota).

Turns of one session are serial: ``turn_lock(session_id)`` holds the session for one turn (a
bounded wait, then ``SessionBusyError``, 409 + Retry-After), and ``commit(state, expected_turns)``
stores the turn only if the session still has the turns it was drafted on (compare-and-set on
the turn count, the session's version), so a turn number is handed out once. The Redis store
(``orchestrator/session_stores.py``) does the same across processes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from orchestrator.contracts.lesion_reader import Frame
from orchestrator.dialogue.anchors import Anchor, Registry
from orchestrator.dialogue.turn import Turn
from orchestrator.errors import SessionBusyError, SessionNotFoundError
from orchestrator.facts import ImageFacts, from_jsonable, to_jsonable

UPLOAD_FORMATS = ("dicom", "png", "jpeg")


@dataclass(frozen=True)
class DicomReference:
    """What a DICOM upload's results need to reference it and be filed in its study: its UIDs, its
    size, Modality, Patient Orientation and the patient/study attributes of
    ``orchestrator.imaging.SOURCE_HEADER_ATTRIBUTES`` (nothing else from the header is kept)."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    rows: int
    cols: int
    modality: str = "OT"
    patient_orientation: tuple[str, ...] = ()
    header: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (keyword, value): PHI

    def header_dict(self) -> dict[str, str]:
        return dict(self.header)

    def to_jsonable(self) -> dict[str, Any]:
        return {"sop_class_uid": self.sop_class_uid, "sop_instance_uid": self.sop_instance_uid,
                "study_uid": self.study_uid, "series_uid": self.series_uid, "rows": self.rows, "cols": self.cols,
                "modality": self.modality, "patient_orientation": list(self.patient_orientation),
                "header": dict(self.header)}

    @staticmethod
    def from_jsonable(d: dict[str, Any]) -> DicomReference:
        return DicomReference(
            sop_class_uid=str(d["sop_class_uid"]), sop_instance_uid=str(d["sop_instance_uid"]),
            study_uid=str(d["study_uid"]), series_uid=str(d["series_uid"]), rows=int(d["rows"]),
            cols=int(d["cols"]), modality=str(d.get("modality") or "OT"),
            patient_orientation=tuple(str(o) for o in d.get("patient_orientation") or ()),
            header=tuple((str(k), str(v)) for k, v in (d.get("header") or {}).items()),
        )


@dataclass(frozen=True)
class SourceRecord:
    """The upload a session was made from: its format and, for a DICOM whose UIDs are valid, the
    reference to it (``dicom``; None otherwise: results then reference a Secondary Capture)."""

    format: str  # one of UPLOAD_FORMATS
    dicom: DicomReference | None = None

    def to_jsonable(self) -> dict[str, Any]:
        return {"format": self.format, "dicom": self.dicom.to_jsonable() if self.dicom is not None else None}

    @staticmethod
    def from_jsonable(d: dict[str, Any] | None) -> SourceRecord | None:
        if not d:
            return None
        dicom = d.get("dicom")
        return SourceRecord(format=str(d["format"]), dicom=DicomReference.from_jsonable(dicom) if dicom else None)


def frame_to_jsonable(frame: Frame | None) -> dict[str, Any] | None:
    return frame.as_dict() if frame is not None else None


def frame_from_jsonable(d: dict[str, Any] | None) -> Frame | None:
    if not d:
        return None
    oh, ow = (int(v) for v in d["original_size"])
    wh, ww = (int(v) for v in d["working_size"])
    px, py = (float(v) for v in d["pad_px"])
    return Frame((oh, ow), (wh, ww), float(d["scale"]), (px, py))


def registry_before(registry: Registry, turns: tuple[Turn, ...], turn_no: int) -> Registry:
    """The registry as it stood before turn ``turn_no`` was answered, from the registry after the
    last turn and the turns' ``referenced_anchor_ids``: anchors are only ever appended (created at
    their ``created_turn``) and a turn moves ``mentioned_turn`` only of the anchors it references
    (``anchors.mention``), so dropping the later anchors and taking each one's latest mention
    before ``turn_no`` restores that registry exactly."""
    kept = []
    for a in registry.anchors:
        if a.created_turn >= turn_no:
            continue
        mentioned = max([a.created_turn] + [t.turn for t in turns
                                             if t.turn < turn_no and a.id in t.referenced_anchor_ids])
        kept.append(replace(a, mentioned_turn=mentioned))
    return Registry(tuple(kept))


@dataclass(frozen=True)
class SessionState:
    session_id: str
    tenant: str
    lang: str
    facts: ImageFacts
    registry: Registry = field(default_factory=Registry)
    turns: tuple[Turn, ...] = ()
    questions: tuple[str, ...] = ()  # questions[i] asked for turns[i] ("" for the automatic screening turn)
    queries: tuple[dict[str, Any], ...] = ()  # full parse state per turn
    display_png: bytes = b""
    created_at: float = 0.0
    facts_json: str = ""  # canonical JSON of ``facts`` (computed once; the narrator's prompt prefix)
    source: SourceRecord | None = None  # the upload (PHI for DICOM): store only, never in answers or logs
    frame: Frame | None = None  # how the working image was made from the original film
    forked_from: tuple[str, int] | None = None  # (session id, turn) this session was forked from (edit and re-run)

    def add_turn(self, turn: Turn, question: str, query_state: dict[str, Any], registry: Registry) -> SessionState:
        return replace(
            self,
            turns=self.turns + (turn,),
            questions=self.questions + (question,),
            queries=self.queries + (query_state,),
            registry=registry,
        )

    def before_turn(self, turn_no: int) -> SessionState:
        """This session as it stood before turn ``turn_no`` (turns 1 … turn_no − 1 and their anchors)."""
        keep = max(0, turn_no - 1)
        return replace(self, turns=self.turns[:keep], questions=self.questions[:keep], queries=self.queries[:keep],
                       registry=registry_before(self.registry, self.turns, turn_no))

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "tenant": self.tenant,
            "lang": self.lang,
            "facts": to_jsonable(self.facts),
            "anchors": [a.to_state() for a in self.registry.anchors],
            "turns": [t.to_dict() for t in self.turns],
            "questions": list(self.questions),
            "queries": list(self.queries),
            "display_png_b64": base64.b64encode(self.display_png).decode("ascii"),
            "created_at": self.created_at,
            "facts_json": self.facts_json,
            "source": self.source.to_jsonable() if self.source is not None else None,
            "frame": frame_to_jsonable(self.frame),
            "forked_from": list(self.forked_from) if self.forked_from else None,
        }

    @staticmethod
    def from_jsonable(d: dict[str, Any]) -> SessionState:
        return SessionState(
            session_id=d["session_id"],
            tenant=d["tenant"],
            lang=d["lang"],
            facts=from_jsonable(ImageFacts, d["facts"]),
            registry=Registry(tuple(Anchor.from_state(a) for a in d["anchors"])),
            turns=tuple(Turn.from_dict(t) for t in d["turns"]),
            questions=tuple(d["questions"]),
            queries=tuple(d.get("queries") or ()),
            display_png=base64.b64decode(d.get("display_png_b64") or ""),
            created_at=float(d.get("created_at") or 0.0),  # (a "filename" stored by older versions is dropped)
            facts_json=d.get("facts_json") or "",
            source=SourceRecord.from_jsonable(d.get("source")),  # absent in sessions stored before it existed
            frame=frame_from_jsonable(d.get("frame")),
            forked_from=(str(d["forked_from"][0]), int(d["forked_from"][1])) if d.get("forked_from") else None,
        )

    def to_json(self) -> str:
        return json.dumps(self.to_jsonable(), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> SessionState:
        return SessionState.from_jsonable(json.loads(text))


class SessionStore(Protocol):
    def get(self, session_id: str) -> SessionState | None: ...

    def put(self, state: SessionState) -> None: ...

    def delete(self, session_id: str, tenant: str | None = None) -> bool: ...

    def count(self) -> int: ...

    def count_tenant(self, tenant: str) -> int: ...

    def turn_lock(self, session_id: str) -> contextlib.AbstractContextManager[None]: ...

    def commit(self, state: SessionState, expected_turns: int) -> None: ...


BUSY_MESSAGE = "another turn on this session is in progress; retry shortly"
CHANGED_MESSAGE = "the session changed while this turn was composed; retry it"


class InMemorySessionStore:
    """The embedded default: keeps the (immutable) SessionState objects; TTL + LRU bound.

    A store for several replicas (Redis) keeps ``state.to_json()`` instead; the state is plain
    data so that round trip is exact (tested)."""

    def __init__(self, ttl_s: float = 3600.0, max_sessions: int = 1000, clock: Callable[[], float] = time.monotonic,
                 lock_wait_s: float = 10.0) -> None:
        self._ttl = float(ttl_s)
        self._max = int(max_sessions)
        self._clock = clock
        self._lock_wait_s = float(lock_wait_s)
        self._items: OrderedDict[str, tuple[float, SessionState]] = OrderedDict()
        self._lock = threading.Lock()
        self._turn_locks: dict[str, tuple[threading.Lock, int]] = {}  # session -> (lock, turns waiting or in it)

    def _expire(self, now: float) -> None:
        for sid in [sid for sid, (t, _) in self._items.items() if now - t > self._ttl]:
            del self._items[sid]

    def get(self, session_id: str) -> SessionState | None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            item = self._items.get(session_id)
            if item is None:
                return None
            self._items[session_id] = (now, item[1])
            self._items.move_to_end(session_id)
            return item[1]

    def put(self, state: SessionState) -> None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._items[state.session_id] = (now, state)
            self._items.move_to_end(state.session_id)
            excess = len(self._items) - self._max
            if excess > 0:  # the tenant's own least recently used sessions, oldest first
                own = [sid for sid, (_, st) in self._items.items()
                       if st.tenant == state.tenant and sid != state.session_id]
                for sid in own[:excess]:
                    del self._items[sid]

    def delete(self, session_id: str, tenant: str | None = None) -> bool:
        with self._lock:
            return self._items.pop(session_id, None) is not None

    def count(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._items)

    def count_tenant(self, tenant: str) -> int:
        with self._lock:
            self._expire(self._clock())
            return sum(1 for _, st in self._items.values() if st.tenant == tenant)

    @contextlib.contextmanager
    def turn_lock(self, session_id: str) -> Iterator[None]:
        with self._lock:
            lock, users = self._turn_locks.get(session_id, (threading.Lock(), 0))
            self._turn_locks[session_id] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=self._lock_wait_s):
                raise SessionBusyError(BUSY_MESSAGE)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._lock:
                lock, users = self._turn_locks[session_id]
                if users > 1:
                    self._turn_locks[session_id] = (lock, users - 1)
                else:
                    del self._turn_locks[session_id]

    def commit(self, state: SessionState, expected_turns: int) -> None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            item = self._items.get(state.session_id)
            if item is None:
                raise SessionNotFoundError("no such session (it may have expired)")
            if len(item[1].turns) != expected_turns:
                raise SessionBusyError(CHANGED_MESSAGE)
            self._items[state.session_id] = (now, state)
            self._items.move_to_end(state.session_id)
