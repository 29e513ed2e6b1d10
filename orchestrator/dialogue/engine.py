"""The dialogue engine: one object the REST, gRPC, web and CLI shells all call.

``create_session`` decodes, encodes (the only encoder pass of a session), analyses and answers
the automatic screening turn, and keeps the upload's ``source`` record and ``frame`` on the session;
``ask`` answers a follow-up from the session's head alone (the film's facts and the anchor
registry; earlier turns only when the narrator retells with history) and appends one turn to the
log, so its cost does not grow with the session; ``fork`` (edit and re-run) makes a new session
from an existing one's turns before turn n and answers a new question as turn n, again without
the encoder; ``turn_in_language`` composes an answered turn again in the other language (a page
switched mid-session), storing nothing.
The engine's own logic is the plain functions of this package; this class only wires them to
the encoder, the narrator, the observer and the session store.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from orchestrator.control_chars import QUESTION_CONTROLS
from orchestrator.dialogue import anatomy_focus, referring, session_summary
from orchestrator.dialogue import anchors as anc
from orchestrator.dialogue import composer as comp
from orchestrator.dialogue.checklists import sign_of_kind
from orchestrator.dialogue.earlier import compare_with_earlier, study_day
from orchestrator.dialogue.interval_answer import INTENT as INTERVAL_INTENT
from orchestrator.dialogue.last_answer import CLAIM_INTENTS
from orchestrator.dialogue.overlays import earlier_place_layers, turn_overlays
from orchestrator.dialogue.parser import CLOSEST_CHECKLIST, Query, language_neutral, parse
from orchestrator.dialogue.report import build_report
from orchestrator.dialogue.session import (
    SCREEN_QUESTION,
    Frame,
    InMemorySessionStore,
    SessionState,
    SessionStore,
    SourceRecord,
    TurnRecord,
    prior_turn,
)
from orchestrator.dialogue.turn import Answer, Narration, Turn, compact_json
from orchestrator.encoders.base import AnatomyEncoder
from orchestrator.encoders.lesion_reader import LesionReader
from orchestrator.errors import (
    InputError,
    InvalidQuestionError,
    NoEarlierFilmError,
    SessionFullError,
    SessionNotFoundError,
    TenantQuotaError,
    UnsupportedLanguageError,
)
from orchestrator.facts import ImageFacts, PixelSpacing, to_jsonable
from orchestrator.film_analysis import Analyser, FilmAnalyser, FilmAnalysis, film_outcome, timed
from orchestrator.findings.interval import IntervalComparison
from orchestrator.narration.base import ComposerNarrator, NarrationRequest, NarrationResult, Narrator
from orchestrator.narration.prompt import canonical_json
from orchestrator.observer import EngineObserver, NullObserver, ObservedStore
from orchestrator.ontology.loader import load_ontology
from orchestrator.settings import Settings

log = logging.getLogger(__name__)
NEEDS_SUBJECT = frozenset({"describe_margin", "density", "size", "locate", "measure_relation", "compare"})
UNSIDED_ANATOMY = frozenset({"heart", "mediastinum", "trachea", "retrocardiac"})
_ANATOMY_ALIASES = MappingProxyType({"costophrenic_angle": "costophrenic"})


class InvalidTurnError(InputError):
    """A fork (edit and re-run) named a turn the session cannot be re-run from, or a turn asked for
    again (``turn_in_language``) that the session has not answered, or a language it does not speak."""

    http_status = 422
    kind = "invalid_turn"


@dataclass(frozen=True)
class SessionView:
    session_id: str
    lang: str
    image_size: tuple[int, int]
    spacing: PixelSpacing
    turns: tuple[Turn, ...]
    anchors: tuple[dict[str, Any], ...]
    frame: Frame | None = None  # None: a session over facts alone (no upload), or stored before frames
    forked_from: dict[str, Any] | None = None  # {"session_id", "turn"} for a session made by fork
    questions: tuple[str, ...] = ()  # the reader's question per turn ("" for the screening turn)

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_dict_without_turns(), "turns": [t.to_dict() for t in self.turns]}

    def json_bytes(self) -> bytes:
        """``to_dict`` as compact JSON with each turn's own bytes (``Turn.json_bytes``) spliced in: a
        500-turn session is written without copying or re-validating its turns (the REST answer)."""
        body = compact_json(self.to_dict_without_turns())
        return body[:-1] + b',"turns":[' + b",".join(t.json_bytes for t in self.turns) + b"]}"

    def to_dict_without_turns(self) -> dict[str, Any]:
        d = {
            "session_id": self.session_id,
            "lang": self.lang,
            "image": {
                "size": [self.image_size[0], self.image_size[1]],
                "pixel_spacing_mm": [self.spacing.row_mm, self.spacing.col_mm],
                "spacing_source": self.spacing.source,
            },
            "frame": self.frame.as_dict() if self.frame is not None else None,
            "anchors": [dict(a) for a in self.anchors],
            "questions": list(self.questions),
        }
        if self.forked_from is not None:
            d["forked_from"] = dict(self.forked_from)
        return d


@dataclass(frozen=True)
class SessionOrigin:
    """Where a session's film came from, for the DICOM results (``orchestrator/dicom_out``): PHI for a
    DICOM upload, so it is read through this call only and never part of a ``SessionView``."""

    source: SourceRecord | None
    frame: Frame | None
    created_at: float


@dataclass(frozen=True)
class AskEvent:
    kind: str  # stage | text | turn
    stage: str | None = None
    text: str | None = None
    turn: Turn | None = None


@dataclass(frozen=True)
class _Draft:
    """A composed turn before narration."""

    state: SessionState
    query: Query
    turn: Turn
    registry: anc.Registry
    question: str
    timings: dict[str, float] = field(default_factory=dict)


def question_problem(question: object, max_chars: int) -> str:
    """Why a question cannot be asked ("is empty", "is longer than N characters", "contains control characters"), ""
    when it can (``orchestrator/control_chars.py``): the engine refuses
    it with this, and ``hilum ask`` before it reads the film."""
    if not isinstance(question, str) or not question.strip():
        return "is empty"
    if len(question) > max_chars:
        return f"is longer than {max_chars} characters"
    if QUESTION_CONTROLS.search(question):  # NUL, BEL, ESC ...: never part of a question; they break the SR's text
        return "contains control characters: only tab, line feed and carriage return are allowed"
    return ""


def session_lang(lang: str | None) -> str:
    """The session's language from what the caller asked for: none is English; a language tag is read by its first
    part (zh-CN, zh_Hans, en-GB); any other language is refused, not answered in English as if it had been asked."""
    if lang is None or not str(lang).strip():
        return "en"
    primary = str(lang).strip().lower().replace("_", "-").split("-")[0]
    if primary not in ("zh", "en"):
        raise UnsupportedLanguageError("the language must be zh or en")
    return primary


def _anatomy_name(raw: str) -> str:
    base, _, side = raw.rpartition("_") if raw.endswith(("_right", "_left")) else (raw, "", "")
    base = _ANATOMY_ALIASES.get(base, base)
    return f"{base}_{side}" if side else base


def _resolve_anatomy(reg: anc.Registry, facts: ImageFacts, q: Query, turn: int) -> tuple[anc.Registry, tuple[anc.Anchor, ...]]:
    found: list[anc.Anchor] = []
    for raw in q.anatomy:
        name = _anatomy_name(raw)
        names = [name] if name.endswith(("_right", "_left")) or name in UNSIDED_ANATOMY else []
        if not names and q.side:
            names = [f"{name}_{q.side}"]
        # "where are the hila?" / "肺门在哪": both (it answered nothing); and both where the two are compared ("which
        # hemidiaphragm is higher?", "are the hila symmetric?") or measured apart ("how far apart are the hila?"), so
        # that the page draws what the answer compares
        elif not names and (q.intent == "locate" or q.domes_compared or q.hila_apart
                            or (q.intent == "assess_anatomy" and name == "hilum")):
            names = [f"{name}_right", f"{name}_left"]
        for n in names:
            reg, a = anc.ensure_anatomy(reg, facts, n, turn)
            if a is not None:
                found.append(a)
    return reg, tuple(found)


def looked_for(q: Query, reg: anc.Registry) -> Query:
    """"有没有空洞?" / "any GGO?" asks of the finding in focus; with none in focus and none named ("any GGO component to
    the spiculated lesion?" names one), of the whole film (a screening question for that kind); so does "what is
    this?"."""
    # (a content named is what is looked for, not which finding: "有磨玻璃影吗")
    named = (set(q.descriptors) - anc.CONTENT_DESCRIPTORS or q.references or q.anchor_ids or q.has_location
             or q.ordinal is not None)
    if q.intent == "density" and q.kinds and not named and anc.finding_in_focus(reg.findings()) is None:
        return replace(q, intent="screen")
    # "what is this?" with nothing in focus: what the film shows (the screening summary, never a diagnosis)
    # ... and so does one read as no question of a finding ("这是什么" / "这叫什么" with a finding in focus had been "no
    # such term" and out of scope)
    if q.what_is_it and (anc.finding_in_focus(reg.findings()) is None or q.intent in ("explain_term", "out_of_scope")):
        return replace(q, intent="screen", diagnosis=True)
    return q


# a pronoun with no noun of its own: with no finding in focus it points at nothing the reader named
_BARE_PRONOUNS = frozenset({"it", "this", "它"})


def _resolve_subjects(reg: anc.Registry, q: Query, facts: ImageFacts, lesion_checklist: bool = True,
                      checklist_kinds: tuple[str, ...] = ()) -> anc.Resolution:
    if q.intent == "screen":
        return anc.Resolution("resolved", anc.screen_subjects(reg, q, facts))
    # "where is the right hilum?" / "how far apart are the hila?" ("no lesion" before): the anatomy anchors answer
    if q.hila_apart or (q.intent == "locate" and q.anatomy and not (q.references or q.has_location or q.shape_descriptors
                                                                     or q.ordinal)):
        return anc.Resolution("resolved", ())
    if q.intent in ("compare", "measure_relation") and not anc.content_wanted(q):
        named = anc.named_findings(reg, q)
        if len(named) >= 2:  # "lesion 1 and lesion 2", "左边的和右边的": the two named, in that order
            return anc.Resolution("resolved", named)
        if q.intent == "compare":
            return _compared(reg, q, named)
        return anc.in_named_order(anc.resolve_findings(reg, q), named)
    if q.intent in NEEDS_SUBJECT:
        return _with_the_part(anc.resolve_findings(reg, q), q, facts)
    if q.intent == "confidence":  # "how sure are you?": of the finding meant, else of every finding (never "which?")
        if q.attribute == "missed":  # "could you have missed something?": of what was not found, no finding
            return anc.Resolution("resolved", ())
        res = anc.resolve_findings(reg, q)
        return res if res.outcome == "resolved" else anc.Resolution("resolved", reg.findings())
    if q.intent == "sign_checklist":
        res = anc.resolve_findings(reg, q)
        bare = q.of_the_film and set(q.references) <= _BARE_PRONOUNS
        if res.outcome == "ambiguous" and checklist_kinds and bare:
            # "有没有肺癌的征象" / "any signs of lung cancer?" / "这片子有没有肺癌?": no finding pointed at, so of two the
            # one of the kinds the checklist applies to (a nodule, not a strand) is meant, and so is a bare "it" with
            # nothing in focus when the checklist's signs are counted ("if this were early lung cancer, how many typical
            # signs does it show?"); "is it malignant?" / "benign or malignant?" / "is that spot cancer?" ask a verdict
            # of one the reader sees, and which is asked
            fit = tuple(a for a in res.candidates if anc.fits_kinds(a, checklist_kinds))
            if len(fit) == 1:
                return anc.Resolution("resolved", fit)
        return res if lesion_checklist or res.outcome == "resolved" else anc.Resolution("resolved", (), res.candidates)
    return anc.Resolution("resolved", ())


def _compared(reg: anc.Registry, q: Query, named: tuple[anc.Anchor, ...]) -> anc.Resolution:
    """The findings compared, those named first; "which side is worse?" / "compare the two sides": every finding, by
    lung, on a film with none too (it had said "no lesion was found, so there is nothing to describe")."""
    if q.sides_graded or q.sides_compared:
        return anc.Resolution("resolved", reg.findings())
    return anc.in_named_order(anc.resolve_findings(reg, q, want_all=not q.anchor_ids), named)


def _with_the_part(res: anc.Resolution, q: Query, facts: ImageFacts) -> anc.Resolution:
    """"How long are the spicules?" with no finding named or in focus: of the findings it could mean, the one whose
    margin has them ("which one do you mean?" before, where only one had spicules)."""
    if res.outcome != "ambiguous" or q.margin_part is None:
        return res
    by_id = {f.id: f for f in facts.findings}
    fit = tuple(a for a in res.candidates if (f := by_id.get(a.finding_id or "")) is not None and getattr(f, q.margin_part))
    return anc.Resolution("resolved", fit) if len(fit) == 1 else res


def _interval_subjects(reg: anc.Registry, q: Query) -> anc.Resolution:
    """"Has it grown?": the finding meant when one is, else every one (never "which one?"); "和上次比有变化吗" / "any
    change since the last film?" names none: the film."""
    # ("how much bigger is it?": its "bigger" asks the change, not the bigger of the findings)
    q = replace(q, descriptors=q.shape_descriptors)
    if not (q.references or q.anchor_ids or q.has_location or q.descriptors or q.ordinal is not None or q.kinds):
        return anc.Resolution("resolved", ())
    res = anc.resolve_findings(reg, q)
    return res if res.outcome == "resolved" and res.anchors else anc.Resolution("resolved", ())


# what an elliptical follow-up ("and the other one?") may ask again of another finding
_INHERITED_INTENTS = frozenset({"describe_margin", "size", "density", "locate", "measure_relation", "sign_checklist",
                                INTERVAL_INTENT})


# the statements an answer of each intent makes of a finding: what "why?" after it asks the hedges of (none named: every
# statement of the finding)
_STATEMENTS_OF = MappingProxyType({
    "describe_margin": ("margin", "density"), "density": ("density",), "size": ("size",), "locate": ("lobe",),
    "measure_relation": ("distance",), "compare": ("size",), "sign_checklist": ("margin", "density", "growth"),
    INTERVAL_INTENT: ("growth",),
})
# the answers that give an amount ("by how much?" asks their question again: a change in mm and %, a size, a distance)
_AMOUNT_INTENTS = frozenset({"size", "compare", "measure_relation", INTERVAL_INTENT})


def _of_the_last_answer(query: Query, previous: dict[str, Any]) -> Query:
    """"Why?" / "why can't you tell?" / "为什么": the hedges of what the previous turn stated (``Query.why_of``), or of
    the statement the question names ("why is the margin uncertain?"); after an answer that made a claim (a size, a
    comparison, a distance, a place, a margin, a density, a change), its question again (its findings: both of a
    comparison, not only the one in focus) with ``why_after``, so that the answer says what the claim rested on
    (``last_answer.compose_why``). "By how much?" / "长大了多少": the previous turn's question again, when it gave an
    amount (it was "outside what a chest radiograph can show")."""
    intent = previous.get("intent")
    if query.why_asked:
        if query.attribute:
            return replace(query, why_of=(query.attribute,))
        if intent == "confidence":
            named = previous.get("attribute")
            return replace(query, why_of=tuple(previous.get("why_of") or ()) or ((named,) if named else ()))
        if intent in CLAIM_INTENTS:
            return replace(Query.from_state(previous), lang=query.lang, intent="confidence", why_asked=True,
                           why_of=_STATEMENTS_OF.get(str(intent), ()), why_after=str(intent), needs_prior=False,
                           how_much=False, also=(), what_is_it=False, elliptical=False, bare_pointer=False,
                           correction=False)
        return replace(query, why_of=_STATEMENTS_OF.get(str(intent), ()))
    if intent in _AMOUNT_INTENTS:
        return replace(Query.from_state(previous), lang=query.lang, how_much=True)
    if previous.get("needs_prior"):  # "has it grown?" without an earlier film, then "by how much?": that needs one too
        return replace(query, needs_prior=True)
    return query


# what says which finding a question is about: a correction ("no, I meant the left one") takes these from its own words
# and the rest of the question from the previous turn's
_POINTER_FIELDS = ("side", "lobe", "lobe_level", "zone", "band", "lesion_side", "descriptors", "references", "anchor_ids",
                   "ordinal", "other", "both", "relative", "relative_ranked", "proximity", "landmark", "it_and_other",
                   "not_descriptors", "mentions", "size_named_mm", "image_side")


def _corrected(query: Query, previous: dict[str, Any]) -> Query:
    """"右肺那个结节边缘规则吗" then "不是,我说的是左边那个": the previous question (its intent and everything it asked:
    a threshold, a landmark, a checklist) of the finding the correction points at; only the finding changes."""
    return replace(Query.from_state(previous), lang=query.lang, correction=True, elliptical=query.elliptical,
                   bare_pointer=query.bare_pointer, **{f: getattr(query, f) for f in _POINTER_FIELDS})


class DialogueEngine:
    def __init__(
        self,
        encoder: AnatomyEncoder,
        settings: Settings,
        *,
        store: SessionStore | None = None,
        narrator: Narrator | None = None,
        observer: EngineObserver | None = None,
        reader: LesionReader | None = None,
        analyser: Analyser | None = None,
        second_reader: AnatomyEncoder | None = None,
        alone_reader: AnatomyEncoder | None = None,
    ) -> None:
        self.encoder = encoder
        self.reader = reader  # the lesion reader (issue 22): first turns of fine-pixel films only
        self.second_reader = second_reader  # other weights that read every first film too (issue 21)
        self.alone_reader = alone_reader  # the weights that read a film alone; None: the second reader does
        self.settings = settings
        # uploads -> facts: in the calling thread, or in worker processes (server.build_services)
        self.analyser: Analyser = analyser or FilmAnalyser(encoder, reader, settings, second_reader, alone_reader)
        self.store: SessionStore = store or InMemorySessionStore(
            settings.session_ttl_s, settings.max_sessions, lock_wait_s=settings.session_lock_wait_s)
        self.narrator: Narrator = narrator or ComposerNarrator()
        self.observer: EngineObserver = observer or NullObserver()
        self.store = ObservedStore(self.store, self.observer, by_tenant=settings.api_keys_file is not None)
        self.ontology = load_ontology()

    @property
    def reads_alone_with(self) -> AnatomyEncoder | None:
        """The encoder a film read alone is read with in this process: the alone reader, else the second reader."""
        return self.alone_reader if self.alone_reader is not None else self.second_reader

    # --- sessions ------------------------------------------------------------------------------

    def _timed(self, stage: str, timings: dict[str, float], fn: Any, *args: Any) -> Any:
        out = timed(stage, timings, fn, *args)
        self.observer.stage(stage, timings[stage])
        return out

    def analyse_film(self, data: bytes, filename: str | None, timings: dict[str, float],
                     lang: str = "en") -> FilmAnalysis:
        """Decode, gate (refusing what is not an upright frontal chest film before the encoder
        runs), encode, analyse (``orchestrator/film_analysis.py``: in this thread, or in a worker
        process with ``settings.analysis_processes``). Raises InputError subclasses,
        NotAChestFilmError among them. Each stage's seconds go into ``timings`` and the observer, and so does
        what became of the film (``observer.FILM_OUTCOMES``; an input error is "refused")."""
        try:
            analysis = self.analyser.analyse(data, filename, timings, lang)
        except InputError:
            self.observer.film("refused")
            raise
        finally:
            for stage, seconds in timings.items():
                self.observer.stage(stage, seconds)
        self.observer.film(film_outcome(analysis.facts))
        return analysis

    def create_session(self, data: bytes, filename: str | None = None, lang: str | None = None,
                       tenant: str = "default", *, earlier: bytes | None = None, earlier_filename: str | None = None,
                       study_date: str | None = None, earlier_date: str | None = None) -> SessionView:
        """``earlier``: an earlier film of the same chest, read the same way and compared with this one once, here
        (``orchestrator/dialogue/earlier.py`` checks the two belong together; dates as given, else the files')."""
        self._check_quota(tenant)  # before any decoding or encoding
        timings: dict[str, float] = {}
        try:
            study_day(study_date), study_day(earlier_date)  # a malformed date is refused before any decoding
            spoken = session_lang(lang)  # and a language Hilum does not answer in
            film = self.analyse_film(data, filename, timings, spoken)
            interval, earlier_png = None, b""
            if earlier is not None:
                t0 = time.perf_counter()
                before = self._analyse_earlier(earlier, earlier_filename, spoken)
                timings["earlier"] = round(time.perf_counter() - t0, 6)
                interval = compare_with_earlier(film, before, data, earlier, study_date, earlier_date)
                earlier_png = before.display_png
        except Exception as exc:
            self.observer.error(getattr(exc, "kind", type(exc).__name__))
            raise
        return self.start_session(film.facts, film.display_png, lang=lang, tenant=tenant, timings=timings,
                                  source=film.source, frame=film.frame, heatmap_png=film.heatmap_png,
                                  facts_json=film.facts_json, interval=interval,
                                  earlier_png=earlier_png)  # no filename (PHI)

    def _analyse_earlier(self, data: bytes, filename: str | None, lang: str) -> FilmAnalysis:
        """The earlier film's analysis; what refuses it says it is the earlier film that was refused."""
        try:
            return self.analyse_film(data, filename, {}, lang)
        except InputError as exc:
            exc.message = ("以前的片子:" if lang == "zh" else "The earlier film: ") + exc.message
            exc.args, exc.subject = (exc.message,), "earlier"  # the envelope says which film was refused
            raise

    def _check_quota(self, tenant: str) -> None:
        cap = self.settings.max_sessions_per_tenant
        held = self.store.count_tenant(tenant)  # read even without a cap: a store that is down is 503 here
        if cap > 0 and held >= cap:
            self.observer.error(TenantQuotaError.kind)
            raise TenantQuotaError(f"this tenant has {cap} open sessions, the most it may hold: "
                                   "close one (DELETE) or let one expire first")

    def start_session(self, facts: ImageFacts, display_png: bytes = b"", *, lang: str | None = None,
                      tenant: str = "default", timings: dict[str, float] | None = None,
                      source: SourceRecord | None = None, frame: Frame | None = None,
                      heatmap_png: bytes = b"", facts_json: str = "",
                      interval: IntervalComparison | None = None, earlier_png: bytes = b"") -> SessionView:
        """A session over facts already established (create_session after analysis; tests; replays);
        ``facts_json``: their canonical JSON when the analysis made it (``FilmAnalysis.facts_json``)."""
        lang = session_lang(lang)
        state = SessionState(session_id=uuid.uuid4().hex, tenant=tenant, lang=lang, facts=facts,
                             display_png=display_png, created_at=time.time(),
                             facts_json=facts_json or canonical_json(to_jsonable(facts)), source=source, frame=frame,
                             heatmap_png=heatmap_png, has_heatmap=bool(heatmap_png), interval=interval,
                             earlier_png=earlier_png)
        state = SessionState(**{**state.__dict__, "registry": anc.screening_registry(facts)})
        query = Query(intent="screen", lang=lang)
        draft = self._draft(state, query, SCREEN_QUESTION[lang], dict(timings or {}))
        turn = self._narrate(draft)
        state = draft.state.add_turn(self._record(draft, turn, ""), draft.registry)
        self.store.put(state)
        self.observer.sessions_active(self.store.count())
        return self._view(state)

    def _load(self, session_id: str, tenant: str, *, head: bool = False, history: bool = False,
              images: bool = False) -> SessionState:
        """The session (``head``: only what a turn needs, ``orchestrator/dialogue/session.py``)."""
        state = (self.store.get_head(session_id, history=history, images=images) if head
                 else self.store.get(session_id))
        if state is None or state.tenant != tenant:  # another tenant's session: the same 404, never confirmed
            self.observer.error("session_not_found")
            raise SessionNotFoundError("no such session (it may have expired)")
        return state

    def get_session(self, session_id: str, tenant: str = "default") -> SessionView:
        return self._view(self._load(session_id, tenant))

    def report(self, session_id: str, tenant: str = "default", lang: str | None = None) -> dict[str, Any]:
        """The session's report; ``lang`` (zh | en): every turn answered in another language composed again in it (as
        ``turn_in_language``), so that a session that used both languages reads as one report in either."""
        state = self._load(session_id, tenant)
        if lang is None:
            return build_report(state)
        self._check_lang(lang)
        turns = tuple(t if t.lang == lang else self._recompose(state, i + 1, lang) for i, t in enumerate(state.turns))
        return build_report(state, turns=turns, lang=lang)

    def close_session(self, session_id: str, tenant: str = "default") -> None:
        self._load(session_id, tenant, head=True)
        self.store.delete(session_id, tenant=tenant)
        self.observer.sessions_active(self.store.count())

    def image_png(self, session_id: str, tenant: str = "default") -> bytes:
        return self._load(session_id, tenant, head=True, images=True).display_png

    def heatmap_png(self, session_id: str, tenant: str = "default") -> bytes | None:
        """The lesion heatmap (RGBA PNG) the screening overlay names; None when the session has none."""
        state = self._load(session_id, tenant, head=True, images=True)
        return state.heatmap_png or None

    def earlier_png(self, session_id: str, tenant: str = "default") -> bytes:
        """The earlier film uploaded with the session's film, as its working image (the frame its findings'
        ``earlier_bbox_px`` are in); NoEarlierFilmError (404) for a session made without one."""
        png = self._load(session_id, tenant, head=True, images=True).earlier_png
        if not png:
            raise NoEarlierFilmError("this session was made without an earlier film")
        return png

    def session_origin(self, session_id: str, tenant: str = "default") -> SessionOrigin:
        """The session's source record and frame (for its DICOM results; 404 as every other call)."""
        state = self._load(session_id, tenant, head=True)
        return SessionOrigin(state.source, state.frame, state.created_at)

    def _view(self, state: SessionState) -> SessionView:
        return SessionView(
            session_id=state.session_id,
            lang=state.lang,
            image_size=(int(state.facts.image_size[0]), int(state.facts.image_size[1])),
            spacing=state.facts.spacing,
            turns=state.turns,
            anchors=tuple(a.to_dict(state.lang) for a in state.registry.anchors),
            frame=state.frame,
            questions=tuple(state.questions),
            forked_from={"session_id": state.forked_from[0], "turn": state.forked_from[1]} if state.forked_from else None,
        )

    # --- turns ---------------------------------------------------------------------------------

    def _check_question(self, question: str) -> str:
        problem = question_problem(question, self.settings.max_question_chars)
        if problem:
            self.observer.error("invalid_question")
            raise InvalidQuestionError(f"the question {problem}")
        return question.strip()

    @property
    def _history(self) -> bool:
        """Whether the narrator retells with the earlier turns (the composer does not)."""
        return bool(getattr(self.narrator, "uses_history", True))

    def _load_for_turn(self, session_id: str, tenant: str) -> SessionState:
        state = self._load(session_id, tenant, head=True, history=self._history)
        cap = self.settings.max_turns_per_session
        if state.turn_count >= cap:
            self.observer.error(SessionFullError.kind)
            raise SessionFullError(f"this session has answered {cap} turns, the most one session holds: "
                                   "start a new session from the film, or fork this one from an earlier turn")
        return state

    def _prepare(self, session_id: str, question: str, tenant: str) -> _Draft:
        q_text = self._check_question(question)
        state = self._load_for_turn(session_id, tenant)
        timings: dict[str, float] = {}
        query = self._timed("parse", timings, parse, q_text)
        # ("它的角度是多少度?" after a question of the right costophrenic angle: of that angle)
        query = anatomy_focus.refocused(query, q_text, state.registry, self._last_query(state),
                                          state.turn_count)
        query = self._follow_on(referring.patient_sides(query, state.facts), state)
        return self._draft(state, query, q_text, timings)

    def _follow_on(self, query: Query, state: SessionState) -> Query:
        """A checklist question that names no disease right after one that did asks that one again. A question that
        only points at a finding asks what the previous turn asked: in the elliptical form ("那右边那个呢", "and the other
        one?") always; in any form ("A2", "the second one", "both") when the previous turn asked "which one do you
        mean?": it is the answer to that, and the question asked back is answered of it. The checklists earlier turns
        asked are carried on (``Query.checklists_asked``: a comparison counts signs against those only)."""
        previous = self._last_query(state)
        if query.social == "repeat":  # "repeat that" / "再说一遍": the previous turn's question, answered again
            # ... in the unit asked ("in inches?" / "in pixels?" / "用英寸呢": the unit it is said in, besides mm)
            return (replace(Query.from_state(previous), lang=query.lang, unit=query.unit or previous.get("unit"))
                    if previous.get("intent") else query)
        if query.listed and previous.get("intent") == "screen" and not query.has_location:
            # "how many are in the left lung?" then "list them": the findings that screening counted
            return replace(query, **{k: previous.get(k) for k in ("side", "lesion_side", "lobe", "lobe_level", "zone",
                                                                   "band")},
                           kinds=tuple(previous.get("kinds") or ()), anatomy=tuple(previous.get("anatomy") or ()))
        earlier = tuple(previous.get("checklists_asked") or ())
        if earlier:
            query = replace(query, checklists_asked=tuple(dict.fromkeys(earlier + query.checklists_asked)))
        if query.why_asked or query.how_much:  # "why?" / "by how much?": of the last answer
            return _of_the_last_answer(query, previous)
        if query.intent == "sign_checklist" and not query.checklist and not query.unlisted_disease:
            # "哪条不符合" / "which signs are missing?" right after a checklist: that checklist, not the default one
            if previous.get("intent") == "sign_checklist" and previous.get("checklist"):
                return replace(query, checklist=previous["checklist"])
            return query
        if query.correction and previous.get("intent") in _INHERITED_INTENTS:
            # "no, I meant the left one" / "不是,我说的是左边那个" / "sorry, the other one": the previous question, asked
            # again of the finding now pointed at
            return _corrected(query, previous)
        if not (query.elliptical or query.bare_pointer):
            return query
        if query.elliptical or previous.get("asked_back"):
            return self._elliptical(query, previous)
        return query

    def _last_query(self, state: SessionState) -> dict[str, Any]:
        """The previous turn's parse: from the state's log when it holds one, else one record from the store."""
        if state.queries or state.head_turns is None:
            return state.queries[-1] if state.queries else {}
        return self.store.last_query(state.session_id)

    @staticmethod
    def _elliptical(query: Query, previous: dict[str, Any]) -> Query:
        """"那右边那个呢" / "and the one on the left?" asks of the finding it points at what the previous
        turn asked (``previous``: its parse state; its intent, and its checklist and landmark where it
        had them). Only for questions the parser marks elliptical (nothing asked)."""
        intent = previous.get("intent")
        if previous.get("asked_back") and previous.get("it_and_other") and intent in ("compare", "measure_relation"):
            # "how far is it (A1) from the other one?" asked back which other: the one named in reply, with the one in
            # focus (or named) then (it measured the one named in reply alone, to its hilum)
            it = tuple(m for m in previous.get("mentions") or ("focus",) if m != "other")
            named = {f: getattr(query, f) for f in _POINTER_FIELDS}
            return replace(Query.from_state(previous), lang=query.lang, elliptical=query.elliptical,
                           bare_pointer=query.bare_pointer, **{**named, "it_and_other": True,
                                                               "mentions": (*it, *query.mentions)})
        if intent == "screen" and previous.get("lesion_side") and query.side_only:
            # "右侧呢" / "and the right lung?" after "左肺怎么样": the other lung's screening, not a finding located there
            # (after the whole film's screening "那左肺呢?" points at the finding in the left lung)
            return replace(query, intent="screen")
        if intent not in _INHERITED_INTENTS:
            return query
        checklist = previous.get("checklist") if intent == "sign_checklist" else None
        differential = intent == "sign_checklist" and bool(previous.get("differential"))  # "and A2?" after a ddx
        anatomy = query.anatomy
        if intent == "measure_relation" and not anatomy:  # "and the other one?" after "how far from the hilum?"
            anatomy = tuple(previous.get("anatomy") or ())
        # "I think it's 15 mm" asked back "which one?": the size stated is of the one named in reply
        stated = ({"stated_mm": previous.get("stated_mm"), "stated_by": previous.get("stated_by")}
                  if intent == "size" and previous.get("asked_back") and query.stated_mm is None else {})
        return replace(query, intent=intent, checklist=checklist, anatomy=anatomy, differential=differential, **stated)

    def fork(self, session_id: str, turn: int, question: str, tenant: str = "default") -> SessionView:
        """Edit and re-run: a new session over the same film and facts (no encoder call) whose turns
        1 … turn − 1 and anchors are this session's as they stood then, and whose turn ``turn``
        answers ``question``; this session is left as it is. Turn 1 is the screening turn made from
        the upload (it has no question to edit), so ``turn`` runs from 2 to the last turn."""
        t0 = time.perf_counter()
        q_text = self._check_question(question)
        state = self._load(session_id, tenant)
        if isinstance(turn, bool) or not isinstance(turn, int) or not 2 <= turn <= len(state.turns):
            self.observer.error(InvalidTurnError.kind)
            raise InvalidTurnError(
                "the turn to edit must be a question this session has answered, from turn 2 (turn 1 is the "
                f"screening turn made from the upload) to turn {max(2, len(state.turns))}")
        self._check_quota(tenant)
        base = state.before_turn(turn)
        base = replace(base, session_id=uuid.uuid4().hex, created_at=time.time(),
                       forked_from=(state.session_id, turn))
        timings: dict[str, float] = {}
        query = self._timed("parse", timings, parse, q_text)
        query = anatomy_focus.refocused(query, q_text, base.registry, self._last_query(base),
                                          base.turn_count)
        query = self._follow_on(referring.patient_sides(query, base.facts), base)
        draft = self._draft(base, query, q_text, timings)
        answered = self._narrate(draft)
        forked = draft.state.add_turn(self._record(draft, answered, draft.question), draft.registry)
        self.store.put(forked)
        self.observer.sessions_active(self.store.count())
        self.observer.turn(answered.intent, time.perf_counter() - t0)
        return self._view(forked)

    def turn_in_language(self, session_id: str, turn: int, lang: str, tenant: str = "default") -> Turn:
        """Turn ``turn`` as answered, composed again in ``lang`` (zh | en): the same question, parse and
        anchors, over the session as it stood before that turn; nothing is stored, and the session's own
        log keeps the turn as it was answered. A page that switches language mid-session shows every
        earlier turn in the new language with this (``GET /v1/sessions/{id}/turns/{n}?lang=``)."""
        self._check_lang(lang)
        state = self._load(session_id, tenant)
        if isinstance(turn, bool) or not isinstance(turn, int) or not 1 <= turn <= len(state.turns):
            self.observer.error(InvalidTurnError.kind)
            raise InvalidTurnError(f"the turn must be one this session has answered, 1 to {len(state.turns)}")
        return self._recompose(state, turn, lang)

    def _check_lang(self, lang: str) -> None:
        if lang not in SCREEN_QUESTION:
            self.observer.error(InvalidTurnError.kind)
            raise InvalidTurnError("the language must be zh or en")

    def _recompose(self, state: SessionState, turn: int, lang: str) -> Turn:
        record = state.records()[turn - 1]
        base = replace(state.before_turn(turn), lang=lang)  # a foreign-language question answers in this one
        if turn == 1:  # the screening turn is composed over the film's findings and hila, registered first
            base = replace(base, registry=anc.screening_registry(state.facts))
        query = replace(Query.from_state(record.query) if record.query else Query(intent="screen", lang=lang),
                        lang=lang)
        draft = self._draft(base, query, record.question or SCREEN_QUESTION[lang], {})
        return self._narrate(draft)

    @property
    def turns_on_loop(self) -> bool:
        """A follow-up turn does no I/O at all (the session store and the narrator are in process):
        a shell may run it on its event loop (``ask(now=True)``) rather than hand it to a thread."""
        return bool(getattr(self.store.inner, "in_process", False) and getattr(self.narrator, "in_process", False))

    def ask(self, session_id: str, question: str, tenant: str = "default", *, now: bool = False) -> Turn:
        """A follow-up turn. ``now``: only if the session is free at once (else TurnLockTaken and
        nothing done), for a caller that must not wait (an event loop)."""
        t0 = time.perf_counter()
        # serial per session, across replicas (bounded wait: 409)
        with self.store.turn_lock(session_id, wait_s=0.0 if now else None):
            draft = self._prepare(session_id, question, tenant)
            turn = self._narrate(draft)
            self._commit(draft, turn)
        self.observer.turn(turn.intent, time.perf_counter() - t0)
        return turn

    def ask_stream(self, session_id: str, question: str, tenant: str = "default") -> Iterator[AskEvent]:
        """Validates, parses and composes now (errors raise here, before any event), then streams
        the narration. The turn is composed once: under the session's lock it is composed again
        (the question not parsed again) only if another turn was stored in between."""
        t0 = time.perf_counter()
        draft = self._prepare(session_id, question, tenant)  # raises now on a bad question or session
        return self._stream(draft, tenant, t0)

    def _stream(self, draft: _Draft, tenant: str, t0: float) -> Iterator[AskEvent]:
        session_id = draft.state.session_id
        with self.store.turn_lock(session_id):
            state = self._load_for_turn(session_id, tenant)
            if state.turn_count != draft.state.turn_count:
                draft = self._draft(state, draft.query, draft.question, {"parse": draft.timings.get("parse", 0.0)})
            yield from self._stream_locked(draft, t0)

    def _stream_locked(self, draft: _Draft, t0: float) -> Iterator[AskEvent]:
        yield AskEvent(kind="stage", stage="parse")
        yield AskEvent(kind="stage", stage="compose")
        yield AskEvent(kind="stage", stage="narrate")
        request = self._request(draft)
        chunks: list[str] = []
        t1 = time.perf_counter()
        result = yield from self._relay(self.narrator.stream(request), chunks)  # the stream's own account, if any
        dt = time.perf_counter() - t1
        self.observer.stage("narrate", dt)
        text = "".join(chunks)
        narration = (Narration(result.source, result.fallback_reason) if result is not None
                     else Narration("composer" if text == draft.turn.answer.text else "llm", None))
        turn = self._finish(draft, text, narration, {"narrate": round(dt, 6)})
        self._commit(draft, turn)
        self.observer.turn(turn.intent, time.perf_counter() - t0)
        yield AskEvent(kind="turn", turn=turn)

    @staticmethod
    def _relay(stream: Iterable[str], chunks: list[str]) -> Generator[AskEvent, None, NarrationResult | None]:
        """Each chunk as a text event (kept in ``chunks``); returns the NarrationResult the stream
        returned when it ended (None for a stream that returns nothing)."""
        it = iter(stream)
        while True:
            try:
                chunk = next(it)
            except StopIteration as end:
                return end.value if isinstance(end.value, NarrationResult) else None
            chunks.append(chunk)
            yield AskEvent(kind="text", text=chunk)

    def _record(self, draft: _Draft, turn: Turn, question: str) -> TurnRecord:
        """The turn's log entry; its narrator view (the facts' canonical JSON, about a third of a
        follow-up's engine time) only where the narrator reads earlier turns."""
        state = draft.query.to_state()
        if turn.clarification:  # it asked "which one do you mean?": the next bare pointer answers it
            state["asked_back"] = True
        return TurnRecord(turn, question, state, prior_turn(turn, question) if self._history else None)

    def _commit(self, draft: _Draft, turn: Turn) -> None:
        # appended only if the session still has the turns it was drafted on: its number is handed out once
        self.store.append(draft.state.session_id, draft.state.turn_count, self._record(draft, turn, draft.question),
                          draft.registry)

    def _draft(self, state: SessionState, query: Query, question: str, timings: dict[str, float]) -> _Draft:
        t0 = time.perf_counter()
        turn_no = state.turn_count + 1
        # a language Hilum does not speak, or no word of any ("A1?", "🙂"): the session's; "answer in English please":
        # the one asked for
        lang = query.answer_lang or (state.lang if query.foreign or language_neutral(question) else query.lang)
        query = looked_for(query, state.registry)
        if query.needs_prior and state.interval is not None:  # "has it grown?" with an earlier film to answer it
            query = replace(query, intent=INTERVAL_INTENT)
        reg, anatomy = _resolve_anatomy(state.registry, state.facts, query, turn_no)
        if query.intent == "screen":
            anatomy = tuple(a for a in reg.anchors if a.kind in ("anatomy", "point") and a.created_turn == 1)
        # ("could it be a lung abscess?": the closest checklist Hilum has, pneumonia's, of the film: no finding asked back)
        checklist = self.ontology.checklist(query.checklist or CLOSEST_CHECKLIST.get(query.unlisted_disease or "")
                                            or "early_lung_cancer")
        # ("why?" after a claim: the findings of the question that made it)
        asked = replace(query, intent=query.why_after) if query.why_asked and query.why_after else query
        res = _interval_subjects(reg, asked) if asked.intent == INTERVAL_INTENT else _resolve_subjects(
            reg, asked, state.facts, checklist is None or checklist.subject == "finding",
            checklist.kinds if checklist is not None and query.checklist else ())
        if query.intent in NEEDS_SUBJECT or query.intent == "sign_checklist":
            self.observer.anchor_resolution(res.outcome)
        ctx = comp.Context(state.facts, lang, query, res.anchors, anatomy, reg, self.ontology, turn_no, state.interval,
                           frame=state.frame)
        if not state.facts.film_check.localisable and query.intent not in comp.FILM_INDEPENDENT:
            composition = comp.compose_withheld(ctx)
        elif res.outcome == "ambiguous":
            composition = comp.compose_clarification(ctx, res.candidates)
        elif res.outcome == "none" and query.intent in NEEDS_SUBJECT | {"sign_checklist"}:
            # "where is the effusion?" / "积液在哪里" with none found: whether the film shows one, with its evidence,
            # as "is there an effusion?" answers (not only "no lesion matching")
            sign = sign_of_kind(query.descriptors)
            composition = (comp.compose_sign(replace(ctx, query=replace(query, signs=(sign,)))) if sign
                           else comp.compose_none(ctx))
        else:
            composition = comp.compose(ctx)
        # how the finding was picked, where the words could mislead: the image's side, a size stated, a rank by height
        composition = referring.with_notes(ctx, composition, res)
        if session_summary.summary_asked_later(ctx):  # "summarise the session": what its earlier turns stated
            composition = session_summary.with_session(ctx, composition, self._turns_before(state))
        reg = composition.registry or reg
        shown = (composition.checklist or {}).get("name")
        if shown and shown not in query.checklists_asked:  # a checklist answered: what a later comparison counts
            query = replace(query, checklists_asked=(*query.checklists_asked, shown))
        referenced = tuple(dict.fromkeys(composition.referenced))
        reg = anc.mention(reg, referenced, turn_no, composition.focus)
        candidates = tuple(c["anchor_id"] for c in (composition.clarification or {}).get("candidates", []))
        overlays = turn_overlays("screen" if candidates else query.intent, state.facts, reg, referenced + candidates,
                                 composition.measurements, composition.checklist, lang, state.has_heatmap)
        if query.earlier_place and query.intent == INTERVAL_INTENT:  # "show me where it was on the earlier film"
            overlays = [*overlays, *earlier_place_layers(composition.measurements, lang)]
        anchors_out = tuple(a.to_dict(lang) for a in (reg.get(i) for i in referenced + candidates) if a is not None)
        dt = time.perf_counter() - t0
        timings["compose"] = round(dt, 6)
        self.observer.stage("compose", dt)
        turn = Turn(
            turn=turn_no, intent=query.intent, lang=lang, query=query.to_dict(),
            answer=Answer(composition.text, composition.sections), anchors=anchors_out,
            referenced_anchor_ids=referenced, findings=composition.findings, measurements=composition.measurements,
            checklist=composition.checklist, overlays=tuple(overlays), clarification=composition.clarification,
            timings=dict(timings),
            film_check=state.facts.film_check.to_dict() if query.intent == "screen" else None,
        )
        return _Draft(state, query, turn, reg, question, timings)

    def _turns_before(self, state: SessionState) -> tuple[Turn, ...]:
        """The turns the session had answered (a head-only state holds none: its log, read from the store)."""
        if state.head_turns is None:
            return state.turns
        full = self.store.get(state.session_id)
        return full.turns[: state.turn_count] if full is not None else ()

    def _request(self, draft: _Draft) -> NarrationRequest:
        state = draft.state
        return NarrationRequest(
            session_id=state.session_id,
            lang="zh" if draft.turn.lang == "zh" else "en",
            image_facts_json=state.facts_json or canonical_json(to_jsonable(state.facts)),
            prior_turns=state.narrator_history() if self._history else (),  # each made once, when its turn was stored
            question=draft.question,
            turn_facts=draft.turn.facts(fresh=False),  # read-only: narrators serialise it
            composer_text=draft.turn.answer.text,
        )

    def _narrate(self, draft: _Draft) -> Turn:
        t0 = time.perf_counter()
        result = self.narrator.narrate(self._request(draft))
        dt = time.perf_counter() - t0
        self.observer.stage("narrate", dt)
        return self._finish(draft, result.text, Narration(result.source, result.fallback_reason), {"narrate": round(dt, 6)})

    @staticmethod
    def _finish(draft: _Draft, text: str, narration: Narration, extra: dict[str, float]) -> Turn:
        t = draft.turn
        return Turn(
            turn=t.turn, intent=t.intent, lang=t.lang, query=t.query, answer=Answer(text or t.answer.text, t.answer.sections),
            anchors=t.anchors, referenced_anchor_ids=t.referenced_anchor_ids, findings=t.findings,
            measurements=t.measurements, checklist=t.checklist, overlays=t.overlays, clarification=t.clarification,
            narration=narration, timings={**t.timings, **extra}, film_check=t.film_check,
        )
