"""One answered turn: a frozen dataclass whose ``to_dict`` is exactly the docs/DESIGN.md turn JSON.

Keys: turn, intent, lang, query, answer{text, sections}, anchors, referenced_anchor_ids,
findings, measurements, checklist, overlays, clarification — plus ``narration``
{source, fallback_reason}, ``timings`` (seconds per stage) and, on screening turns,
``film_check`` {is_chest, view, orientation, anatomy_plausible, warnings}.

A turn that answers a sign-presence question ("is there a pneumothorax?") carries one ``sign``
section per sign asked about, with the composer's verdict (``orchestrator/dialogue/composer.py``
``compose_sign``); ``Turn.sign_verdicts`` reads them back as ``SignVerdict`` values, and
``Turn.facts()`` hands them to the narrator and its fact guard as ``signs``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal, cast

TURN_KEYS: tuple[str, ...] = (
    "turn",
    "intent",
    "lang",
    "query",
    "answer",
    "anchors",
    "referenced_anchor_ids",
    "findings",
    "measurements",
    "checklist",
    "overlays",
    "clarification",
    "narration",
    "timings",
    "film_check",
)


@dataclass(frozen=True)
class Answer:
    text: str
    sections: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "sections": [copy.deepcopy(s) for s in self.sections]}


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
    source: str = "composer"  # composer | llm
    fallback_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "fallback_reason": self.fallback_reason}


@dataclass(frozen=True)
class Turn:
    turn: int
    intent: str
    lang: str
    query: dict[str, Any]
    answer: Answer
    anchors: tuple[dict[str, Any], ...] = ()
    referenced_anchor_ids: tuple[str, ...] = ()
    findings: tuple[dict[str, Any], ...] = ()
    measurements: tuple[dict[str, Any], ...] = ()
    checklist: dict[str, Any] | None = None
    overlays: tuple[dict[str, Any], ...] = ()
    clarification: dict[str, Any] | None = None
    narration: Narration = field(default_factory=Narration)
    timings: dict[str, float] = field(default_factory=dict)
    film_check: dict[str, Any] | None = None  # screening turns: what the film gate established

    @property
    def sign_verdicts(self) -> tuple[SignVerdict, ...]:
        """The sign verdicts this turn states (its ``sign`` answer sections), in the order asked."""
        side = self.query.get("side") if isinstance(self.query.get("side"), str) else None
        verdicts = (SignVerdict.from_section(s, side) for s in self.answer.sections)
        return tuple(v for v in verdicts if v is not None)

    def facts(self) -> dict[str, Any]:
        """The structured fields a narrator may retell (NarrationRequest.turn_facts); ``signs``
        (the sign verdicts) only on a turn that states some."""
        d = self.to_dict()
        facts = {k: d[k] for k in ("turn", "intent", "lang", "query", "anchors", "referenced_anchor_ids",
                                   "findings", "measurements", "checklist", "clarification")}
        verdicts = self.sign_verdicts
        if verdicts:
            facts["signs"] = [v.to_dict() for v in verdicts]
        return facts

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "intent": self.intent,
            "lang": self.lang,
            "query": copy.deepcopy(self.query),
            "answer": self.answer.to_dict(),
            "anchors": [copy.deepcopy(a) for a in self.anchors],
            "referenced_anchor_ids": list(self.referenced_anchor_ids),
            "findings": [copy.deepcopy(f) for f in self.findings],
            "measurements": [copy.deepcopy(m) for m in self.measurements],
            "checklist": copy.deepcopy(self.checklist),
            "overlays": [copy.deepcopy(o) for o in self.overlays],
            "clarification": copy.deepcopy(self.clarification),
            "narration": self.narration.to_dict(),
            "timings": dict(self.timings),
            **({"film_check": copy.deepcopy(self.film_check)} if self.film_check is not None else {}),
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Turn:
        answer = d.get("answer") or {}
        narration = d.get("narration") or {}
        return Turn(
            turn=int(d["turn"]),
            intent=str(d["intent"]),
            lang=str(d["lang"]),
            query=copy.deepcopy(d.get("query") or {}),
            answer=Answer(str(answer.get("text", "")), tuple(copy.deepcopy(answer.get("sections") or []))),
            anchors=tuple(copy.deepcopy(d.get("anchors") or [])),
            referenced_anchor_ids=tuple(d.get("referenced_anchor_ids") or []),
            findings=tuple(copy.deepcopy(d.get("findings") or [])),
            measurements=tuple(copy.deepcopy(d.get("measurements") or [])),
            checklist=copy.deepcopy(d.get("checklist")),
            overlays=tuple(copy.deepcopy(d.get("overlays") or [])),
            clarification=copy.deepcopy(d.get("clarification")),
            narration=Narration(str(narration.get("source", "composer")), narration.get("fallback_reason")),
            timings={str(k): float(v) for k, v in (d.get("timings") or {}).items()},
            film_check=copy.deepcopy(d.get("film_check")),
        )
