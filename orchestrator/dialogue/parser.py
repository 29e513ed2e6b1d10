"""Question → ``Query``: intent, language, location, anatomy, descriptors and references.

Vocabularies come from ``data/vocab.json`` (locations, intents, descriptors, references) and
from the sign ontology (``orchestrator/ontology/signs.json``: every sign's zh/en names and
synonyms are terms that ``explain_term`` recognises). Matching is deterministic: Chinese by
substring, English at word starts after a small typo correction against the vocabulary's
own words. Ties between intents are broken by a fixed order.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestrator.ontology.loader import Ontology, load_ontology

DATA_DIR = Path(__file__).resolve().parent / "data"
VOCAB_PATH = DATA_DIR / "vocab.json"

INTENTS: tuple[str, ...] = (
    "screen",
    "describe_margin",
    "measure_relation",
    "sign_checklist",
    "size",
    "density",
    "locate",
    "compare",
    "explain_term",
    "assess_anatomy",
    "out_of_scope",
)
# earlier wins a tie
_TIE_ORDER: tuple[str, ...] = (
    "out_of_scope",
    "explain_term",
    "compare",
    "sign_checklist",
    "measure_relation",
    "size",
    "density",
    "describe_margin",
    "assess_anatomy",
    "locate",
    "screen",
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z][a-z\-']*")
_ANCHOR_ID = re.compile(r"(?<![A-Za-z0-9])([AaFf])\s?(\d{1,2})(?![0-9A-Za-z])")


@dataclass(frozen=True)
class Query:
    """How a question was understood (before anchors are resolved)."""

    intent: str
    lang: str  # zh | en
    side: str | None = None
    lobe: str | None = None
    zone: str | None = None
    band: str | None = None
    anatomy: tuple[str, ...] = ()
    descriptors: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    # parse details the engine uses but the turn JSON does not carry
    lesion_side: str | None = None  # the side that locates a lesion (not one bound to anatomy)
    checklist: str | None = None
    term: str | None = None  # ontology sign id for explain_term
    anchor_ids: tuple[str, ...] = ()  # explicit "A2" / "F1" style references, normalised "A2"/"F1"
    ordinal: int | None = None
    other: bool = False
    both: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "lobe": self.lobe,
            "zone": self.zone,
            "band": self.band,
            "anatomy": list(self.anatomy),
            "descriptors": list(self.descriptors),
            "references": list(self.references),
        }

    def to_state(self) -> dict[str, Any]:
        """Everything, for session state."""
        return {
            **self.to_dict(),
            "intent": self.intent,
            "lang": self.lang,
            "lesion_side": self.lesion_side,
            "checklist": self.checklist,
            "term": self.term,
            "anchor_ids": list(self.anchor_ids),
            "ordinal": self.ordinal,
            "other": self.other,
            "both": self.both,
        }

    @staticmethod
    def from_state(data: dict[str, Any]) -> Query:
        tuples = ("anatomy", "descriptors", "references", "anchor_ids")
        kwargs = {k: (tuple(v) if k in tuples else v) for k, v in data.items() if k in Query.__dataclass_fields__}
        return Query(**kwargs)

    @property
    def has_location(self) -> bool:
        return any((self.lesion_side, self.lobe, self.zone, self.band))

    @property
    def shape_descriptors(self) -> tuple[str, ...]:
        return tuple(d for d in self.descriptors if d not in ("small", "large"))


@dataclass(frozen=True)
class Vocabulary:
    sides: dict[str, tuple[str, ...]]
    lobes: dict[str, tuple[str, ...]]
    lobe_by_side: dict[str, dict[str, Any]]
    zones: dict[str, tuple[str, ...]]
    bands: dict[str, tuple[str, ...]]
    anatomy: dict[str, tuple[str, ...]]
    descriptors: dict[str, tuple[str, ...]]
    references: tuple[str, ...]
    ordinals: dict[str, tuple[str, ...]]
    other_reference: tuple[str, ...]
    both_reference: tuple[str, ...]
    checklists: dict[str, tuple[str, ...]]
    intents: dict[str, tuple[tuple[str, float], ...]]
    terms: dict[str, tuple[str, ...]]  # sign id -> names and synonyms (from the ontology)
    lexicon: frozenset[str] = field(default_factory=frozenset)


def _tuples(d: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in d.items()}


def merge_ontology_locations(raw: dict[str, Any], ontology: Ontology) -> dict[str, Any]:
    """Add the ontology's location names (en and zh) to the parser groups ``from_ontology_locations`` names."""
    out = {k: (json.loads(json.dumps(v)) if isinstance(v, dict) else v) for k, v in raw.items()}
    by_en = {str(loc.get("en", "")).lower(): loc for loc in ontology.locations}
    for en, target in raw.get("from_ontology_locations", {}).items():
        loc = by_en.get(en)
        if en.startswith("_") or loc is None:
            continue
        group, key = target.split(".", 1)
        names = out[group].setdefault(key, [])
        names.extend(n for n in (loc.get("en"), loc.get("zh")) if n and n not in names)
    return out


def build_vocabulary(raw: dict[str, Any], ontology: Ontology) -> Vocabulary:
    raw = merge_ontology_locations(raw, ontology)
    terms = {s.id: s.terms() for s in ontology.signs}
    intents = {k: tuple((str(t), float(w)) for t, w in v) for k, v in raw["intents"].items()}
    words: set[str] = set(raw.get("lexicon", []))
    for group in ("sides", "lobes", "zones", "bands", "anatomy", "descriptors", "checklists"):
        for values in raw[group].values():
            words.update(w for t in values for w in _LATIN_WORD.findall(t.lower()))
    for values in intents.values():
        words.update(w for t, _ in values for w in _LATIN_WORD.findall(t.lower()))
    for values in terms.values():
        words.update(w for t in values for w in _LATIN_WORD.findall(t.lower()))
    return Vocabulary(
        sides=_tuples(raw["sides"]),
        lobes=_tuples(raw["lobes"]),
        lobe_by_side=raw["lobe_by_side"],
        zones=_tuples(raw["zones"]),
        bands=_tuples(raw["bands"]),
        anatomy=_tuples(raw["anatomy"]),
        descriptors=_tuples(raw["descriptors"]),
        references=tuple(raw["references"]),
        ordinals=_tuples(raw["ordinals"]),
        other_reference=tuple(raw["other_reference"]),
        both_reference=tuple(raw["both_reference"]),
        checklists=_tuples(raw["checklists"]),
        intents=intents,
        terms=terms,
        lexicon=frozenset(w for w in words if len(w) >= 4),
    )


@lru_cache(maxsize=4)
def load_vocabulary(path: Path = VOCAB_PATH) -> Vocabulary:
    return build_vocabulary(json.loads(path.read_text(encoding="utf-8")), load_ontology())


# --- normalisation ---------------------------------------------------------------------------


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, single spaces."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("’", "'").replace("\u3000", " ")
    return re.sub(r"\s+", " ", t).strip()


def correct_typos(text: str, lexicon: frozenset[str]) -> str:
    """Replace English words that are not in the lexicon by their closest lexicon word."""
    if not lexicon:
        return text
    choices = sorted(lexicon)

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if len(word) < 4 or word in lexicon:
            return word
        cutoff = 0.84 if len(word) < 7 else 0.8
        close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
        return close[0] if close else word

    return _LATIN_WORD.sub(fix, text)


def _is_latin(term: str) -> bool:
    return not _CJK.search(term)


@lru_cache(maxsize=8192)
def _term_pattern(term: str) -> re.Pattern[str]:
    end = r"s?(?![a-z])" if len(term) <= 4 else ""
    return re.compile(r"(?<![a-z])" + re.escape(term) + end)


def find_term(text: str, term: str) -> list[int]:
    """Start positions of ``term`` in ``text``: substring for Chinese, word start for English."""
    t = term.lower()
    if not t or t not in text:
        return []
    if not _is_latin(t):
        return [m.start() for m in re.finditer(re.escape(t), text)]
    return [m.start() for m in _term_pattern(t).finditer(text)]


def has_term(text: str, terms: tuple[str, ...] | list[str]) -> bool:
    return any(find_term(text, t) for t in terms)


def _first_key(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    best: tuple[int, int, str] | None = None
    for key, terms in table.items():
        for term in terms:
            for pos in find_term(text, term):
                cand = (pos, -len(term), key)
                if best is None or cand < best:
                    best = cand
    return best[2] if best else None


def _all_keys(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    found: list[tuple[int, str]] = []
    for key, terms in table.items():
        positions = [p for t in terms for p in find_term(text, t)]
        if positions:
            found.append((min(positions), key))
    return [k for _, k in sorted(found)]


# --- location ----------------------------------------------------------------------------------


def _side_mentions(text: str, vocab: Vocabulary) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for side, terms in vocab.sides.items():
        for term in terms:
            out.extend((p, side) for p in find_term(text, term))
    # 左右 / left and right = both: not a side
    return sorted(out)


def _anatomy_mentions(text: str, vocab: Vocabulary) -> list[tuple[int, str]]:
    spans: list[tuple[int, int, str]] = []
    for name, terms in vocab.anatomy.items():
        for t in terms:
            spans.extend((p, p + len(t), name) for p in find_term(text, t))
    # a term inside a longer term of another name does not count ("心影" inside "心影后")
    kept = [s for s in spans if not any(o[2] != s[2] and o[0] <= s[0] and s[1] <= o[1] and o[1] - o[0] > s[1] - s[0]
                                        for o in spans)]
    first: dict[str, int] = {}
    for pos, _, name in kept:
        first[name] = min(pos, first.get(name, pos))
    return sorted((p, n) for n, p in first.items())


def _bound_side(text: str, side_pos: int, anatomy_pos: list[int]) -> bool:
    """A side word directly before an anatomy word ('右肺门', 'right hilum') belongs to it."""
    return any(0 < a - side_pos <= (4 if _CJK.search(text[side_pos : side_pos + 1]) else 8) for a in anatomy_pos)


def parse_location(text: str, vocab: Vocabulary) -> dict[str, Any]:
    sides = _side_mentions(text, vocab)
    anatomy = _anatomy_mentions(text, vocab)
    anatomy_pos = [p for p, _ in anatomy]
    side_set = {s for _, s in sides}
    side = side_set.pop() if len(side_set) == 1 else None
    lesion_sides = {s for p, s in sides if not _bound_side(text, p, anatomy_pos)}
    lesion_side = lesion_sides.pop() if len(lesion_sides) == 1 else None
    lobe = _first_key(text, vocab.lobes)
    if lobe is None:
        for spec in vocab.lobe_by_side.values():
            if has_term(text, tuple(spec["terms"])) and (lesion_side or side):
                lobe = spec[lesion_side or side or "right"]
                break
    if lobe is not None:
        implied = "right" if lobe.startswith("R") else "left"
        side = side or implied
        lesion_side = lesion_side or implied
    names: list[str] = []
    for pos, name in anatomy:
        bound = [s for p, s in sides if 0 < pos - p <= 8]
        names.append(f"{name}_{bound[-1]}" if bound and name in _SIDED_ANATOMY else name)
    return {
        "side": side,
        "lesion_side": lesion_side,
        "lobe": lobe,
        "zone": _first_key(_strip_terms(text, vocab), vocab.zones),
        "band": _first_key(text, vocab.bands),
        "anatomy": tuple(dict.fromkeys(names)),
    }


_SIDED_ANATOMY = frozenset({"hilum", "apex", "costophrenic_angle", "subclavicular", "diaphragm", "pleura"})


def _strip_terms(text: str, vocab: Vocabulary) -> str:
    """Remove lobe names so that 'lower lobe' does not also read as the lower zone."""
    out = text
    for terms in vocab.lobes.values():
        for t in terms:
            out = out.replace(t.lower(), " ")
    for spec in vocab.lobe_by_side.values():
        for t in spec["terms"]:
            out = out.replace(t.lower(), " ")
    return out


# --- intent ----------------------------------------------------------------------------------


def score_intents(text: str, vocab: Vocabulary) -> dict[str, float]:
    scores: dict[str, float] = {}
    for intent, keywords in vocab.intents.items():
        total = 0.0
        for term, weight in keywords:
            if find_term(text, term):
                total += weight
        scores[intent] = total
    return scores


def find_sign_term(text: str, vocab: Vocabulary) -> str | None:
    """The ontology sign named in the text (longest name wins)."""
    best: tuple[int, str] | None = None
    for sign_id, names in vocab.terms.items():
        for name in names:
            n = name.lower()
            if len(n) < 2 or (_is_latin(n) and len(n) < 4):
                continue
            if find_term(text, n) and (best is None or len(n) > best[0]):
                best = (len(n), sign_id)
    return best[1] if best else None


def choose_intent(scores: dict[str, float], features: dict[str, Any]) -> str:
    s = dict(scores)
    if features["term"] and s.get("explain_term", 0) >= 2 and not features["references"]:
        s["explain_term"] += 6 if s["explain_term"] >= 4 else 3
    if set(features["anatomy_kinds"]) & {"costophrenic_angle", "heart"} and not (features["references"] or features["checklist"]):
        s["assess_anatomy"] = s.get("assess_anatomy", 0) + 3
    if features["checklist"]:
        s["sign_checklist"] = s.get("sign_checklist", 0) + 2
    if features["anatomy"] and s.get("measure_relation", 0) > 0:
        s["measure_relation"] += 1
    if features["both"] and s.get("compare", 0) > 0:
        s["compare"] += 1
    best = max(s.values()) if s else 0.0
    if best <= 0:
        return _fallback_intent(features)
    return next(i for i in _TIE_ORDER if s.get(i, 0.0) == best)


def _fallback_intent(features: dict[str, Any]) -> str:
    if features["references"]:
        return "describe_margin"
    if features["term"]:
        return "explain_term"
    if features["has_location"] or features["anchor_ids"] or features["ordinal"]:
        return "locate"
    return "out_of_scope"


def detect_lang(text: str) -> str:
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN_WORD.findall(text.lower()))
    return "zh" if cjk and cjk * 2 >= latin * 3 else ("en" if latin else "zh" if cjk else "en")


def _references(text: str, vocab: Vocabulary) -> tuple[str, ...]:
    found: list[tuple[int, str]] = []
    for term in (*vocab.references, *vocab.other_reference, *vocab.both_reference):
        for pos in find_term(text, term):
            found.append((pos, term))
    # keep the longest at each position, drop terms contained in a longer one found
    found.sort(key=lambda x: (x[0], -len(x[1])))
    out: list[str] = []
    covered_until = -1
    for pos, term in found:
        if pos < covered_until:
            continue
        out.append(term)
        covered_until = pos + len(term)
    return tuple(out)


def _ordinal(text: str, vocab: Vocabulary) -> int | None:
    key = _first_key(text, vocab.ordinals)
    return int(key) if key else None


def parse(question: str, vocab: Vocabulary | None = None) -> Query:
    """Parse one question. Never raises on odd input; an empty question is the engine's concern."""
    v = vocab or load_vocabulary()
    raw = normalise(question)
    lang = detect_lang(raw)
    text = correct_typos(raw, v.lexicon)
    loc = parse_location(text, v)
    ids = tuple(f"{m.group(1).upper()}{int(m.group(2))}" for m in _ANCHOR_ID.finditer(question))
    refs = tuple(dict.fromkeys(_references(text, v) + ids))
    checklist = _first_key(text, v.checklists)
    term = find_sign_term(text, v)
    features = {
        "term": term,
        "checklist": checklist,
        "anatomy": loc["anatomy"],
        "anatomy_kinds": [a.removesuffix("_right").removesuffix("_left") for a in loc["anatomy"]],
        "references": refs,
        "anchor_ids": ids,
        "ordinal": _ordinal(text, v),
        "both": has_term(text, v.both_reference),
        "has_location": any(loc[k] for k in ("lesion_side", "lobe", "zone", "band")),
    }
    intent = choose_intent(score_intents(text, v), features)
    return Query(
        intent=intent,
        lang=lang,
        side=loc["side"],
        lobe=loc["lobe"],
        zone=loc["zone"],
        band=loc["band"],
        anatomy=loc["anatomy"],
        descriptors=tuple(_all_keys(text, v.descriptors)),
        references=refs,
        lesion_side=loc["lesion_side"],
        checklist=checklist if intent == "sign_checklist" else None,
        term=term if intent == "explain_term" else None,
        anchor_ids=ids,
        ordinal=features["ordinal"],
        other=has_term(text, v.other_reference),
        both=features["both"],
    )
