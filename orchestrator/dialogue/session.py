"""Session state as plain data (JSON round trip) and the session store.

``SessionState`` holds everything a follow-up turn needs. Its parts differ in how they change:
- the film's record, made once at creation and never changed: the ImageFacts (and ``facts_json``,
  their canonical JSON, the narrator's prompt prefix), the display PNG, the lesion heatmap PNG
  (served by its own route, never inside the facts or a turn), ``source`` and ``frame``;
- the anchor registry, replaced by each turn;
- the turn log, only ever appended: ``turns``, ``questions`` (the reader's question per turn),
  ``queries`` (the parse state per turn) and ``history`` (the narrator's view of each turn,
  ``PriorTurn``, made once when the turn is stored, so a turn never re-serialises earlier ones; not
  made at all where the narrator reads no earlier turns, the composer's case: ``None`` there, and
  made from the turn if a narrator that reads them ever asks, ``SessionStore.get_head(history=True)``).
A follow-up turn reads the registry and the film record, and appends one entry to the log
(``SessionStore.append``): its cost does not grow with the session's length. A store may hand a
turn the session's head only (``head_turns`` set: the turn count, no log), as the Redis store
does (``orchestrator/session_stores.py``).

``source`` is where the film came from (the upload's format and, for DICOM, the identifiers and
header attributes a DICOM result needs to reference it: ``orchestrator/dicom_out``) and ``frame``
how the working image was made from the original (one definition,
``orchestrator.contracts.lesion_reader.Frame``). Sessions stored before these fields existed load
with both ``None``. The source record is PHI: it lives in the store only, never in a JSON answer or
a log line (its ``repr`` leaves the header out). ``InMemorySessionStore`` is the embedded default:
TTL and a maximum size, guarded by a lock, no module-level state. Past the maximum, a put evicts the
least recently used session *of the same tenant* (never another tenant's); a tenant with nothing of
its own to evict is bounded by ``max_sessions_per_tenant`` (the engine's 429 tenant_quota).

Turns of one session are serial: ``turn_lock(session_id)`` holds the session for one turn (a
bounded wait, then ``SessionBusyError``, 409 + Retry-After), and ``append(…, expected_turns, …)``
stores the turn only if the session still has the turns it was drafted on (compare-and-set on
the turn count, the session's version), so a turn number is handed out once. The Redis store
does the same across processes.
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
from typing import Any, Protocol, cast

import orjson

from orchestrator.contracts.lesion_reader import Frame
from orchestrator.dialogue.anchors import Anchor, Registry
from orchestrator.dialogue.turn import Turn, compact_json
from orchestrator.errors import SessionBusyError, SessionNotFoundError
from orchestrator.facts import ImageFacts, from_jsonable, to_jsonable
from orchestrator.findings.interval import IntervalComparison, comparison_from_dict
from orchestrator.narration.base import PriorTurn
from orchestrator.narration.prompt import turn_facts_json

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
class TurnRecord:
    """One entry of a session's turn log: the turn, the reader's question ("" for the screening
    turn), its parse state, and the narrator's view of it (``PriorTurn``, made once when the
    deployment's narrator reads earlier turns; ``None`` where it does not: ``narrator_view``)."""

    turn: Turn
    question: str
    query: dict[str, Any]
    prior: PriorTurn | None = None

    @property
    def narrator_view(self) -> PriorTurn:
        """The narrator's view of this turn: as stored, or made now from the turn."""
        return self.prior if self.prior is not None else prior_turn(self.turn, self.question)

    def to_jsonable(self, *, fresh: bool = True) -> dict[str, Any]:
        """``fresh=False``: the turn's nested dicts are shared, for a caller that serialises at once."""
        return {"turn": self.turn.to_dict(fresh=fresh), **self.rest_jsonable()}

    def rest_jsonable(self) -> dict[str, Any]:
        """Everything but the turn (whose JSON ``record_bytes`` takes from ``Turn.json_bytes``)."""
        return {"question": self.question, "query": self.query, "prior": prior_to_jsonable(self.prior)}

    @staticmethod
    def from_jsonable(d: dict[str, Any], *, owned: bool = False) -> TurnRecord:
        """``owned``: ``d`` was just parsed (a stored record): its parts are taken, not copied."""
        return TurnRecord(Turn.from_dict(d["turn"], owned=owned), str(d["question"]), dict(d.get("query") or {}),
                          prior_from_jsonable(d.get("prior")))


# a narrator view not made, as stored: empty strings rather than no key or null, so that a replica of
# the version before views were made lazily (2026-12-03), still reading d["prior"]["facts_json"] during
# a rolling update, reads a record a newer one wrote (its composer reads no earlier turns anyway)
PRIOR_NOT_MADE = {"question": "", "answer_text": "", "facts_json": ""}


def prior_to_jsonable(p: PriorTurn | None) -> dict[str, str]:
    if p is None:
        return dict(PRIOR_NOT_MADE)
    return {"question": p.question, "answer_text": p.answer_text, "facts_json": p.facts_json}


def prior_from_jsonable(d: dict[str, Any] | None) -> PriorTurn | None:
    """None for a view not made (``PRIOR_NOT_MADE``, or none stored): canonical JSON is never empty."""
    if not d or not d.get("facts_json"):
        return None
    return PriorTurn(str(d["question"]), str(d["answer_text"]), str(d["facts_json"]))


def anchors_to_jsonable(registry: Registry) -> list[dict[str, Any]]:
    return [a.to_state() for a in registry.anchors]


def anchors_from_jsonable(items: list[dict[str, Any]]) -> Registry:
    return Registry(tuple(Anchor.from_state(a) for a in items))


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
    heatmap_png: bytes = b""  # the lesion heatmap as an RGBA PNG (GET .../heatmap.png); a head-only load leaves it out
    has_heatmap: bool = False  # the session has a heatmap (known without loading it)
    history: tuple[PriorTurn | None, ...] = ()  # history[i]: the narrator's view of turns[i] (made once; None: not made)
    head_turns: int | None = None  # a head-only load (no log): the session's turn count
    interval: IntervalComparison | None = None  # this film against an earlier one uploaded with it (None: none)
    earlier_png: bytes = b""  # the earlier film's working image (GET .../earlier.png); a head-only load leaves it out

    @property
    def turn_count(self) -> int:
        """The turns this session has answered (its version for compare-and-set)."""
        return len(self.turns) if self.head_turns is None else self.head_turns

    def add_turn(self, record: TurnRecord, registry: Registry) -> SessionState:
        if self.head_turns is not None:
            raise ValueError("a head-only session state has no log to append to")
        return replace(
            self,
            turns=self.turns + (record.turn,),
            questions=self.questions + (record.question,),
            queries=self.queries + (record.query,),
            history=self.history + (record.prior,),
            registry=registry,
        )

    def records(self) -> tuple[TurnRecord, ...]:
        """The turn log as records (a turn's narrator view as held: None where it was not made)."""
        out = []
        for i, t in enumerate(self.turns):
            question = self.questions[i] if i < len(self.questions) else ""
            prior = self.history[i] if i < len(self.history) else None
            out.append(TurnRecord(t, question, self.queries[i] if i < len(self.queries) else {}, prior))
        return tuple(out)

    def narrator_history(self) -> tuple[PriorTurn, ...]:
        """The narrator's view of every turn, made now where it was not made when stored. A head
        (``head_turns`` set, no turns) has it made by its store: ``get_head(history=True)``."""
        if len(self.history) == self.turn_count and None not in self.history:
            return cast(tuple[PriorTurn, ...], self.history)
        if self.head_turns is not None:
            raise ValueError("a head-only session state without its history made: load it with history=True")
        return tuple(r.narrator_view for r in self.records())

    def before_turn(self, turn_no: int) -> SessionState:
        """This session as it stood before turn ``turn_no`` (turns 1 … turn_no − 1 and their anchors)."""
        keep = max(0, turn_no - 1)
        return replace(self, turns=self.turns[:keep], questions=self.questions[:keep], queries=self.queries[:keep],
                       history=self.history[:keep], registry=registry_before(self.registry, self.turns, turn_no))

    def film_jsonable(self) -> dict[str, Any]:
        """The parts made once at creation (images aside): what the Redis store writes once."""
        return {
            "session_id": self.session_id,
            "tenant": self.tenant,
            "lang": self.lang,
            "facts": to_jsonable(self.facts),
            "created_at": self.created_at,
            "facts_json": self.facts_json,
            "source": self.source.to_jsonable() if self.source is not None else None,
            "frame": frame_to_jsonable(self.frame),
            "forked_from": list(self.forked_from) if self.forked_from else None,
            "has_heatmap": self.has_heatmap,
            "interval": self.interval.to_dict() if self.interval is not None else None,
        }

    @staticmethod
    def from_film_jsonable(d: dict[str, Any], *, facts: ImageFacts | None = None) -> SessionState:
        """The session's film record (``facts`` given: already parsed, e.g. cached); no turns, no anchors."""
        return SessionState(
            session_id=d["session_id"],
            tenant=d["tenant"],
            lang=d["lang"],
            facts=facts if facts is not None else from_jsonable(ImageFacts, d["facts"]),
            created_at=float(d.get("created_at") or 0.0),  # (a "filename" stored by older versions is dropped)
            facts_json=d.get("facts_json") or "",
            source=SourceRecord.from_jsonable(d.get("source")),  # absent in sessions stored before it existed
            frame=frame_from_jsonable(d.get("frame")),
            forked_from=(str(d["forked_from"][0]), int(d["forked_from"][1])) if d.get("forked_from") else None,
            has_heatmap=bool(d.get("has_heatmap")),
            interval=comparison_from_dict(d.get("interval")),  # absent in sessions stored before earlier films
        )

    def to_jsonable(self) -> dict[str, Any]:
        if self.head_turns is not None:
            raise ValueError("a head-only session state is not a whole session")
        return {
            **self.film_jsonable(),
            "anchors": anchors_to_jsonable(self.registry),
            "turns": [t.to_dict() for t in self.turns],
            "questions": list(self.questions),
            "queries": list(self.queries),
            "history": [prior_to_jsonable(p) for p in self.history],
            "display_png_b64": base64.b64encode(self.display_png).decode("ascii"),
            "heatmap_png_b64": base64.b64encode(self.heatmap_png).decode("ascii"),
            "earlier_png_b64": base64.b64encode(self.earlier_png).decode("ascii"),
        }

    @staticmethod
    def from_jsonable(d: dict[str, Any]) -> SessionState:
        base = SessionState.from_film_jsonable(d)
        state = replace(
            base,
            registry=anchors_from_jsonable(d["anchors"]),
            turns=tuple(Turn.from_dict(t) for t in d["turns"]),
            questions=tuple(d["questions"]),
            queries=tuple(d.get("queries") or ()),
            history=tuple(prior_from_jsonable(p) for p in d.get("history") or ()),
            display_png=base64.b64decode(d.get("display_png_b64") or ""),
            heatmap_png=base64.b64decode(d.get("heatmap_png_b64") or ""),
            earlier_png=base64.b64decode(d.get("earlier_png_b64") or ""),
        )
        # stored before the history was kept: one entry per turn, None (made when a narrator asks)
        return replace(state, history=tuple(r.prior for r in state.records()))

    def to_json(self) -> str:
        return json.dumps(self.to_jsonable(), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> SessionState:
        return SessionState.from_jsonable(json.loads(text))


SCREEN_QUESTION = {"zh": "肺部是否有异常?", "en": "Is there anything abnormal in the lungs?"}


def prior_turn(turn: Turn, question: str) -> PriorTurn:
    """The narrator's view of an answered turn: its question (the screening question for the
    automatic first turn), the text shown, and its facts as canonical JSON."""
    q = question or SCREEN_QUESTION[turn.lang if turn.lang in SCREEN_QUESTION else "en"]
    return PriorTurn(question=q, answer_text=turn.answer.text, facts_json=turn_facts_json(turn.facts(fresh=False)))


class SessionStore(Protocol):
    def get(self, session_id: str) -> SessionState | None:
        """The whole session: film record, images, registry and the turn log."""
        ...

    def get_head(self, session_id: str, *, history: bool = False, images: bool = False) -> SessionState | None:
        """What a turn needs: the film record and the registry; the log's narrator view only with
        ``history`` (then made for every turn: ``narrator_history`` reads it), the PNGs only with
        ``images``. A store may return the whole session."""
        ...

    def last_query(self, session_id: str) -> dict[str, Any]:
        """The parse state of the session's last turn ({} when it has none, or is gone): what an
        elliptical follow-up ("and the other one?") asks again. One record read, whatever the
        session's length."""
        ...

    def put(self, state: SessionState) -> None:
        """Stores a new session whole (creation, fork)."""
        ...

    def append(self, session_id: str, expected_turns: int, record: TurnRecord, registry: Registry) -> None:
        """Appends one turn and replaces the registry, only if the session still has
        ``expected_turns`` turns (else SessionBusyError; gone: SessionNotFoundError)."""
        ...

    def delete(self, session_id: str, tenant: str | None = None) -> bool: ...

    def count(self) -> int: ...

    def count_tenant(self, tenant: str) -> int: ...

    def turn_lock(self, session_id: str, wait_s: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Holds the session for one turn; waits at most ``wait_s`` (None: the store's bounded wait,
        then SessionBusyError; 0: TurnLockTaken at once if another turn holds it)."""
        ...


class TurnLockTaken(Exception):  # noqa: N818 - a condition, not an error a client sees
    """Another turn holds the session and the caller asked not to wait (``turn_lock(wait_s=0)``):
    the caller runs the turn where it may wait instead (``orchestrator/api/routers/sessions.py``)."""


BUSY_MESSAGE = "another turn on this session is in progress; retry shortly"
CHANGED_MESSAGE = "the session changed while this turn was composed; retry it"
GONE_MESSAGE = "no such session (it may have expired)"


@dataclass
class _Held:
    """One session in the in-process store: its head (the film record, the registry, the turn count
    and the narrator's history; no turns) and its turn log as JSON records."""

    used: float
    head: SessionState
    log: list[bytes]


def record_bytes(record: TurnRecord) -> bytes:
    """A turn record as the stores keep it: ``record.to_jsonable()`` as compact JSON, UTF-8, with the
    turn's own bytes (``Turn.json_bytes``, the REST answer's body) spliced in rather than made again."""
    return b'{"turn":' + record.turn.json_bytes + b"," + compact_json(record.rest_jsonable())[1:]


class InMemorySessionStore:
    """The embedded default: TTL + LRU bound, guarded by a lock, no module-level state.

    A session is held as its head (a SessionState without turns: the film record, the registry,
    the turn count, the narrator's history) plus its turn log as one JSON record per turn, the way
    the Redis store keeps it. A turn object graph is hundreds of small dicts; held as such across
    thousands of turns, the cyclic garbage collector's full passes over them stalled every request
    (1.7 s measured after 20,000 turns held); a bytes record is one object the collector never
    scans. ``get`` (the session's view, its report, a fork) decodes the log; a turn never does.

    Every operation costs the same however long the session is or however many are held: a turn
    replaces the head and appends one record, expiry pops from the least recently used end only,
    and sessions are counted per tenant as they come and go."""

    in_process = True  # no I/O: a turn over this store may run on the event loop

    def __init__(self, ttl_s: float = 3600.0, max_sessions: int = 1000, clock: Callable[[], float] = time.monotonic,
                 lock_wait_s: float = 10.0) -> None:
        self._ttl = float(ttl_s)
        self._max = int(max_sessions)
        self._clock = clock
        self._lock_wait_s = float(lock_wait_s)
        self._items: OrderedDict[str, _Held] = OrderedDict()  # least recently used first
        self._per_tenant: dict[str, int] = {}
        self._lock = threading.Lock()
        self._turn_locks: dict[str, tuple[threading.Lock, int]] = {}  # session -> (lock, turns waiting or in it)

    def _drop(self, session_id: str) -> bool:
        held = self._items.pop(session_id, None)
        if held is None:
            return False
        tenant = held.head.tenant
        left = self._per_tenant.get(tenant, 1) - 1
        if left > 0:
            self._per_tenant[tenant] = left
        else:
            self._per_tenant.pop(tenant, None)
        return True

    def _expire(self, now: float) -> None:
        while self._items:
            sid, held = next(iter(self._items.items()))
            if now - held.used <= self._ttl:
                return
            self._drop(sid)

    def _use(self, session_id: str) -> _Held | None:
        now = self._clock()
        self._expire(now)
        held = self._items.get(session_id)
        if held is not None:
            held.used = now
            self._items.move_to_end(session_id)
        return held

    def get(self, session_id: str) -> SessionState | None:
        with self._lock:
            held = self._use(session_id)
            if held is None:
                return None
            head, log = held.head, list(held.log)
        records = [TurnRecord.from_jsonable(orjson.loads(r), owned=True) for r in log]
        return replace(head, head_turns=None, turns=tuple(r.turn for r in records),
                       questions=tuple(r.question for r in records), queries=tuple(r.query for r in records),
                       history=tuple(r.prior for r in records))

    def get_head(self, session_id: str, *, history: bool = False, images: bool = False) -> SessionState | None:
        with self._lock:
            held = self._use(session_id)
            if held is None:
                return None
            head = held.head  # the history and the images are at hand anyway
            if not history or None not in head.history:
                return head
            log = list(held.log)
        made = tuple(p if p is not None else TurnRecord.from_jsonable(orjson.loads(line), owned=True).narrator_view
                     for p, line in zip(head.history, log, strict=True))  # once: kept below
        with self._lock:
            if held.head is head:
                held.head = replace(head, history=made)
        return replace(head, history=made)

    def last_query(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            held = self._use(session_id)
            last = held.log[-1] if held is not None and held.log else None
        return dict(orjson.loads(last).get("query") or {}) if last is not None else {}

    def put(self, state: SessionState) -> None:
        records = state.records()  # each with its narrator view as held (None: made when a narrator asks)
        log = [record_bytes(r) for r in records]
        head = replace(state, turns=(), questions=(), queries=(), history=tuple(r.prior for r in records),
                       head_turns=len(log))
        with self._lock:
            now = self._clock()
            self._expire(now)
            if state.session_id not in self._items:
                self._per_tenant[state.tenant] = self._per_tenant.get(state.tenant, 0) + 1
            self._items[state.session_id] = _Held(now, head, log)
            self._items.move_to_end(state.session_id)
            excess = len(self._items) - self._max
            if excess > 0:  # the tenant's own least recently used sessions, oldest first
                own = [sid for sid, held in self._items.items()
                       if held.head.tenant == state.tenant and sid != state.session_id]
                for sid in own[:excess]:
                    self._drop(sid)

    def delete(self, session_id: str, tenant: str | None = None) -> bool:
        with self._lock:
            return self._drop(session_id)

    def count(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._items)

    def count_tenant(self, tenant: str) -> int:
        with self._lock:
            self._expire(self._clock())
            return self._per_tenant.get(tenant, 0)

    @contextlib.contextmanager
    def turn_lock(self, session_id: str, wait_s: float | None = None) -> Iterator[None]:
        with self._lock:
            lock, users = self._turn_locks.get(session_id, (threading.Lock(), 0))
            self._turn_locks[session_id] = (lock, users + 1)
        try:
            if wait_s is not None and wait_s <= 0:
                if not lock.acquire(blocking=False):
                    raise TurnLockTaken(session_id)
            elif not lock.acquire(timeout=self._lock_wait_s if wait_s is None else wait_s):
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

    def append(self, session_id: str, expected_turns: int, record: TurnRecord, registry: Registry) -> None:
        line = record_bytes(record)  # outside the lock
        with self._lock:
            held = self._use(session_id)
            if held is None:
                raise SessionNotFoundError(GONE_MESSAGE)
            if held.head.turn_count != expected_turns:
                raise SessionBusyError(CHANGED_MESSAGE)
            held.head = replace(held.head, registry=registry, head_turns=expected_turns + 1,
                                history=held.head.history + (record.prior,))
            held.log.append(line)
