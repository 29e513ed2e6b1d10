"""One answered turn: a frozen dataclass whose ``to_dict`` is exactly the docs/DESIGN.md turn JSON.

Keys: turn, intent, lang, query, answer{text, sections}, anchors, referenced_anchor_ids,
findings, measurements, checklist, overlays, clarification — plus ``narration``
{source, fallback_reason}, ``timings`` (seconds per stage) and, on screening turns,
``film_check`` {is_chest, view, orientation, anatomy_plausible, warnings}.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

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

    def facts(self) -> dict[str, Any]:
        """The structured fields a narrator may retell (NarrationRequest.turn_facts)."""
        d = self.to_dict()
        return {k: d[k] for k in ("turn", "intent", "lang", "query", "anchors", "referenced_anchor_ids",
                                  "findings", "measurements", "checklist", "clarification")}

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
