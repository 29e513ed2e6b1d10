"""One answered turn: a frozen dataclass whose ``to_dict`` is exactly the docs/DESIGN.md turn JSON.

Keys: turn, intent, lang, query, answer{text, sections}, anchors, referenced_anchor_ids,
findings, measurements, checklist, overlays, clarification — plus ``narration``
{source, fallback_reason}, ``timings`` (seconds per stage) and, on screening turns,
``film_check`` {is_chest, view, orientation, anatomy_plausible, warnings, and age_group where a DICOM file gives
the patient's age}.

A turn that answers a sign-presence question ("is there a pneumothorax?") carries one ``sign``
section per sign asked about, with the composer's verdict (``orchestrator/dialogue/composer.py``
``compose_sign``); ``Turn.sign_verdicts`` reads them back as ``SignVerdict`` values, and
``Turn.facts()`` hands them to the narrator and its fact guard as ``signs``.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

import orjson


def doc(text: str) -> dict[str, str]:
    """A field's metadata: its description, the one the REST schema (``orchestrator/api/protocol.py``)
    publishes for it in OpenAPI."""
    return {"doc": text}


@dataclass(frozen=True)
class Answer:
    """The answer to the question: its text and the structured sections the text was composed from."""

    text: str = field(metadata=doc("the answer, in the turn's language (the narrator's retelling or the "
                                   "composer's text)"))
    sections: tuple[dict[str, Any], ...] = field(default=(), metadata=doc(
        "the composer's sections, in order: each {kind, ...}; a sign-presence question has one "
        "{kind: sign, sign, status} per sign asked about"))

    def to_dict(self, *, fresh: bool = True) -> dict[str, Any]:
        return {"text": self.text, "sections": [copy.deepcopy(s) if fresh else s for s in self.sections]}


SignStatus = Literal["yes", "no", "uncertain", "not_read"]
SIGN_STATUSES: tuple[SignStatus, ...] = ("yes", "no", "uncertain", "not_read")


@dataclass(frozen=True)
class SignVerdict:
    """What the turn says of one sign it was asked about: yes, no, uncertain (this film cannot
    settle it) or not_read (Hilum does not read that sign at all); ``side`` is the side asked
    about, None for both."""

    sign: str
    status: SignStatus
    side: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sign": self.sign, "status": self.status, "side": self.side}

    @staticmethod
    def from_section(section: dict[str, Any], side: str | None = None) -> SignVerdict | None:
        """The verdict a ``sign`` answer section states, None for any other section."""
        status = section.get("status")
        if section.get("kind") != "sign" or not section.get("sign") or status not in SIGN_STATUSES:
            return None
        return SignVerdict(str(section["sign"]), cast(SignStatus, status), side)


@dataclass(frozen=True)
class Narration:
    """Who wrote the answer's text."""

    source: str = field(default="composer", metadata=doc(
        "composer (the deterministic text) or llm (the narrator's retelling)"))
    fallback_reason: str | None = field(default=None, metadata=doc(
        "why the narrator's text was not used (null when it was, or when none was asked for)"))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "fallback_reason": self.fallback_reason}


@dataclass(frozen=True)
class Turn:
    """One answered turn: the single definition of its shape. The REST schema
    (``orchestrator/api/protocol.py``) and the gRPC conversion (``orchestrator/grpc_service/convert.py``)
    are derived from these fields; ``to_dict`` is the turn JSON both carry."""

    turn: int = field(metadata=doc("the turn's number in its session: 1 is the screening turn made from "
                                   "the upload"))
    intent: str = field(metadata=doc("what the question asked (screen, locate, measure_relation, "
                                     "describe_margin, sign_checklist, compare, ...)"))
    lang: str = field(metadata=doc("the answer's language: zh or en"))
    query: dict[str, Any] = field(metadata=doc("the parsed question: side, lobe, zone, band, anatomy, "
                                               "descriptors, references"))
    answer: Answer = field(metadata=doc("the answer's text and sections"))
    anchors: tuple[dict[str, Any], ...] = field(default=(), metadata=doc(
        "the anchors (findings, anatomy, points) the answer refers to or offers as candidates, with their "
        "geometry in working-image pixels"))
    referenced_anchor_ids: tuple[str, ...] = field(default=(), metadata=doc(
        "the ids of the anchors the answer refers to, in order"))
    findings: tuple[dict[str, Any], ...] = field(default=(), metadata=doc("the findings the answer states"))
    measurements: tuple[dict[str, Any], ...] = field(default=(), metadata=doc("the measurements the answer states"))
    checklist: dict[str, Any] | None = field(default=None, metadata=doc("the sign checklist, on a checklist turn"))
    overlays: tuple[dict[str, Any], ...] = field(default=(), metadata=doc("what to draw over the film for this answer"))
    clarification: dict[str, Any] | None = field(default=None, metadata=doc(
        "the question back and its candidates when the subject was ambiguous"))
    narration: Narration = field(default_factory=Narration, metadata=doc("who wrote the answer's text"))
    timings: dict[str, float] = field(default_factory=dict, metadata=doc(
        "seconds per stage (decode, gate, encode, findings, parse, compose, narrate)"))
    film_check: dict[str, Any] | None = field(default=None, metadata=doc(  # absent from to_dict when None
        "screening turns: what the film gate established (is_chest, view, orientation, anatomy_plausible, "
        "warnings, and age_group where a DICOM file gives the patient's age); absent on other turns"))

    @property
    def sign_verdicts(self) -> tuple[SignVerdict, ...]:
        """The sign verdicts this turn states (its ``sign`` answer sections), in the order asked."""
        side = self.query.get("side") if isinstance(self.query.get("side"), str) else None
        verdicts = (SignVerdict.from_section(s, side) for s in self.answer.sections)
        return tuple(v for v in verdicts if v is not None)

    def facts(self, *, fresh: bool = True) -> dict[str, Any]:
        """The structured fields a narrator may retell (NarrationRequest.turn_facts); ``signs``
        (the sign verdicts) only on a turn that states some. ``fresh=False``: nested dicts shared
        with this turn (for a caller that only reads them)."""
        c: Any = copy.deepcopy if fresh else _same
        facts = {  # field by field: the overlays (the largest part of a turn) are not needed
            "turn": self.turn,
            "intent": self.intent,
            "lang": self.lang,
            "query": c(self.query),
            "anchors": [c(a) for a in self.anchors],
            "referenced_anchor_ids": list(self.referenced_anchor_ids),
            "findings": [c(f) for f in self.findings],
            "measurements": [c(m) for m in self.measurements],
            "checklist": c(self.checklist),
            "clarification": c(self.clarification),
        }
        verdicts = self.sign_verdicts
        if verdicts:
            facts["signs"] = [v.to_dict() for v in verdicts]
        return facts

    def to_dict(self, *, fresh: bool = True) -> dict[str, Any]:
        """The turn JSON. ``fresh=False`` shares the nested dicts with this turn instead of copying
        them: only for a caller that serialises at once and changes nothing (the REST answer)."""
        c: Any = copy.deepcopy if fresh else _same
        return {
            "turn": self.turn,
            "intent": self.intent,
            "lang": self.lang,
            "query": c(self.query),
            "answer": self.answer.to_dict(fresh=fresh),
            "anchors": [c(a) for a in self.anchors],
            "referenced_anchor_ids": list(self.referenced_anchor_ids),
            "findings": [c(f) for f in self.findings],
            "measurements": [c(m) for m in self.measurements],
            "checklist": c(self.checklist),
            "overlays": [c(o) for o in self.overlays],
            "clarification": c(self.clarification),
            "narration": self.narration.to_dict(),
            "timings": dict(self.timings),
            **({"film_check": c(self.film_check)} if self.film_check is not None else {}),
        }

    @functools.cached_property
    def json_bytes(self) -> bytes:
        """The turn JSON (``to_dict``) as compact UTF-8, made once per turn: the REST answer's body and
        the stored record's ``turn`` are these bytes (one serialisation, not one per use)."""
        return compact_json(self.to_dict(fresh=False))

    @staticmethod
    def from_dict(d: dict[str, Any], *, owned: bool = False) -> Turn:
        """The turn of a turn JSON. ``owned``: ``d`` was just parsed and nothing else holds it, so its
        nested dicts become the turn's without a copy (a store reading its log: the copies were most
        of a long session's read)."""
        c: Any = _same if owned else copy.deepcopy
        answer = d.get("answer") or {}
        narration = d.get("narration") or {}
        return Turn(
            turn=int(d["turn"]),
            intent=str(d["intent"]),
            lang=str(d["lang"]),
            query=c(d.get("query") or {}),
            answer=Answer(str(answer.get("text", "")), tuple(c(answer.get("sections") or []))),
            anchors=tuple(c(d.get("anchors") or [])),
            referenced_anchor_ids=tuple(d.get("referenced_anchor_ids") or []),
            findings=tuple(c(d.get("findings") or [])),
            measurements=tuple(c(d.get("measurements") or [])),
            checklist=c(d.get("checklist")),
            overlays=tuple(c(d.get("overlays") or [])),
            clarification=c(d.get("clarification")),
            narration=Narration(str(narration.get("source", "composer")), narration.get("fallback_reason")),
            timings={str(k): float(v) for k, v in (d.get("timings") or {}).items()},
            film_check=c(d.get("film_check")),
        )


def _same(value: Any) -> Any:
    return value


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # a NumPy scalar
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def compact_json(value: Any) -> bytes:
    """JSON as the REST answers are written: no spaces, UTF-8, non-finite numbers as null. orjson:
    the turn is a few kB of nested dicts, and the standard library's encoder took about a tenth of
    a follow-up's server time (BENCHMARKS.md)."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


TURN_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Turn))  # the turn JSON's keys, in order
