"""Loads ``signs.json``, ``checklists.json`` and ``glossary.json`` into frozen dataclasses (cached per path)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

ONTOLOGY_DIR = Path(__file__).resolve().parent
SIGNS_PATH = ONTOLOGY_DIR / "signs.json"
CHECKLISTS_PATH = ONTOLOGY_DIR / "checklists.json"
GLOSSARY_PATH = ONTOLOGY_DIR / "glossary.json"


class _Named:
    """Names in English and Chinese, synonyms and a meaning: what a sign and a glossary word share."""

    en: str
    zh: str
    synonyms: tuple[str, ...]
    meaning_en: str
    meaning_zh: str

    def terms(self) -> tuple[str, ...]:
        return (self.en, self.zh, *self.synonyms)

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def meaning(self, lang: str) -> str:
        return self.meaning_zh if lang == "zh" else self.meaning_en


@dataclass(frozen=True)
class Sign(_Named):
    id: str
    en: str
    zh: str
    synonyms: tuple[str, ...]
    category: str
    evidence: str | None  # the fact path that evidences it (e.g. "finding.margin"), None: not assessable here
    locations: tuple[str, ...]
    meaning_en: str
    meaning_zh: str
    specificity: float  # 0..1: how strongly the sign points to one cause
    umls: str | None
    source: str


@dataclass(frozen=True)
class ChecklistItem:
    sign: str
    rule: dict[str, Any]  # {"scope": "finding"|"image", "fact": "a.b", "op": ..., "value": ...}
    settle_en: str
    settle_zh: str
    label_en: str = ""
    label_zh: str = ""

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def settle(self, lang: str) -> str:
        return self.settle_zh if lang == "zh" else self.settle_en


@dataclass(frozen=True)
class Checklist:
    name: str
    title_en: str
    title_zh: str
    subject: str  # "finding" (needs a lesion) or "image"
    items: tuple[ChecklistItem, ...]
    kinds: tuple[str, ...] = ()  # a finding checklist's lesion kinds ("nodule", "mass", ...): () = any finding

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en


@dataclass(frozen=True)
class GlossaryTerm(_Named):
    """A word of anatomy, measurement or film convention that is no sign (``glossary.json``): explained, never
    looked for on a film."""

    id: str
    en: str
    zh: str
    synonyms: tuple[str, ...]
    meaning_en: str
    meaning_zh: str


@dataclass(frozen=True)
class Ontology:
    signs: tuple[Sign, ...]
    locations: tuple[dict[str, Any], ...]
    checklists: tuple[Checklist, ...]
    glossary: tuple[GlossaryTerm, ...] = ()

    def sign(self, sign_id: str) -> Sign | None:
        return self._signs_by_id.get(sign_id)

    def glossary_term(self, term_id: str) -> GlossaryTerm | None:
        return next((g for g in self.glossary if g.id == term_id), None)

    def checklist(self, name: str) -> Checklist | None:
        return self._checklists_by_name.get(name)

    @cached_property
    def _signs_by_id(self) -> dict[str, Sign]:  # turns look signs up often; a scan of 224 was ~10% of a follow-up
        return {s.id: s for s in reversed(self.signs)}  # reversed: the first of a repeated id wins, as a scan's did

    @cached_property
    def _checklists_by_name(self) -> dict[str, Checklist]:
        return {c.name: c for c in reversed(self.checklists)}


def _sign(d: dict[str, Any]) -> Sign:
    return Sign(
        id=d["id"],
        en=d["en"],
        zh=d["zh"],
        synonyms=tuple(d.get("synonyms", [])),
        category=d["category"],
        evidence=d.get("evidence"),
        locations=tuple(d.get("locations", [])),
        meaning_en=d.get("meaning_en", ""),
        meaning_zh=d.get("meaning_zh", ""),
        specificity=float(d.get("specificity", 0.5)),
        umls=d.get("umls"),
        source=d.get("source", ""),
    )


def _checklist(d: dict[str, Any]) -> Checklist:
    items = tuple(
        ChecklistItem(
            sign=i["sign"],
            rule=i["rule"],
            settle_en=i.get("settle_en", ""),
            settle_zh=i.get("settle_zh", ""),
            label_en=i.get("label_en", ""),
            label_zh=i.get("label_zh", ""),
        )
        for i in d["items"]
    )
    return Checklist(d["name"], d["title_en"], d["title_zh"], d.get("subject", "finding"), items,
                     tuple(d.get("kinds", ())))


@lru_cache(maxsize=4)
def load_ontology(signs_path: Path = SIGNS_PATH, checklists_path: Path = CHECKLISTS_PATH,
                  glossary_path: Path = GLOSSARY_PATH) -> Ontology:
    signs_doc = json.loads(signs_path.read_text(encoding="utf-8"))
    lists_doc = json.loads(checklists_path.read_text(encoding="utf-8")) if checklists_path.exists() else {"checklists": []}
    glossary_doc = json.loads(glossary_path.read_text(encoding="utf-8")) if glossary_path.exists() else {"terms": []}
    return Ontology(
        signs=tuple(_sign(s) for s in signs_doc["signs"]),
        locations=tuple(signs_doc.get("locations", [])),
        checklists=tuple(_checklist(c) for c in lists_doc["checklists"]),
        glossary=tuple(GlossaryTerm(g["id"], g["en"], g["zh"], tuple(g.get("synonyms", [])), g["meaning_en"],
                                    g["meaning_zh"]) for g in glossary_doc["terms"]),
    )
