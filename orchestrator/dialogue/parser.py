"""Question → ``Query``: intent, language, location, anatomy, descriptors and references.

Vocabularies come from ``data/vocab.json`` (locations, intents, descriptors, references) and
from the sign ontology (``orchestrator/ontology/signs.json``: every sign's zh/en names and
synonyms are terms that ``explain_term`` recognises). Matching is deterministic: Chinese by
substring, English at word starts after a small typo correction against the vocabulary's
own words. Ties between intents are broken by a fixed order.

Keyword scores are then adjusted by cues (``vocab.json`` "cues", "sign_questions",
"relative_positions", "foreign_languages"): a diagnosis asked for without a disease is the
screening summary; a sign named with a presence question is ``assess_anatomy``; choices offered
("upper, middle or lower zone?") name no zone; a unit with a landmark or a second lesion is a
distance; "bigger than 1 cm" is a size threshold, not "the bigger one"; "which one is closer" and
"the nodule … than the strand" compare; "the one above it" points from the finding in focus; a
question in a language Hilum does not speak is out of scope for that reason.
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
    lang: str  # zh | en (for a language Hilum does not speak, ``foreign`` names it and the session's is used)
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
    relative: str | None = None  # "the one above it": above | below | left | right of the focused finding
    signs: tuple[str, ...] = ()  # assess_anatomy: the signs asked about ("is there a pneumothorax?")
    diagnosis: bool = False  # "what is the diagnosis?": answered by the screening summary, never a diagnosis
    foreign: str | None = None  # a language Hilum does not speak (ja, ko, es, fr, ...): out_of_scope says so
    size_op: str | None = None  # "bigger than 1 cm": gt | lt, with size_mm the threshold in mm
    size_mm: float | None = None
    yes_no: bool = False  # "is it in the inner band?" checks a place, "where is it?" asks one

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
            "relative": self.relative,
            "signs": list(self.signs),
            "diagnosis": self.diagnosis,
            "foreign": self.foreign,
            "size_op": self.size_op,
            "size_mm": self.size_mm,
            "yes_no": self.yes_no,
        }

    @staticmethod
    def from_state(data: dict[str, Any]) -> Query:
        tuples = ("anatomy", "descriptors", "references", "anchor_ids", "signs")
        kwargs = {k: (tuple(v) if k in tuples else v) for k, v in data.items() if k in Query.__dataclass_fields__}
        return Query(**kwargs)

    @property
    def sign(self) -> str | None:
        return self.signs[0] if self.signs else None

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
    cues: dict[str, Any] = field(default_factory=dict)
    relative_positions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sign_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    anatomy_states: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    checklist_cues: tuple[str, ...] = ()
    foreign: dict[str, Any] = field(default_factory=dict)


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
    signs = raw.get("sign_questions", {})
    cue_lists = [v for v in raw.get("cues", {}).values() if isinstance(v, list)]
    for values in (*signs.get("terms", {}).values(), *cue_lists, *raw.get("relative_positions", {}).values()):
        if isinstance(values, list):
            words.update(w for t in values for w in _LATIN_WORD.findall(str(t).lower()))
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
        cues={k: v for k, v in raw.get("cues", {}).items() if not k.startswith("_")},
        relative_positions={k: tuple(v) for k, v in raw.get("relative_positions", {}).items() if not k.startswith("_")},
        sign_terms=_tuples(signs.get("terms", {})),
        anatomy_states={k: (str(v["sign"]), tuple(v["states"])) for k, v in signs.get("anatomy_states", {}).items()},
        checklist_cues=tuple(signs.get("checklist_cues", ())),
        foreign={k: v for k, v in raw.get("foreign_languages", {}).items() if not k.startswith("_")},
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
    stripped = _strip_terms(text, vocab)
    zone_alt = _alternatives(stripped, vocab.zones, vocab.cues.get("zone_words_en", {}), vocab)
    band_alt = _alternatives(stripped, vocab.bands, vocab.cues.get("band_words_en", {}), vocab)
    lobe_alt = _lobe_alternatives(text, vocab)
    return {
        "side": side if not lobe_alt or sides else None,
        "lesion_side": lesion_side if not lobe_alt or sides else None,
        "lobe": None if lobe_alt else lobe,
        "zone": None if zone_alt else _first_key(stripped, vocab.zones),
        "band": None if band_alt else _first_key(text, vocab.bands),
        "anatomy": tuple(dict.fromkeys(names)),
        "asks_region": zone_alt or band_alt or lobe_alt,
    }


def _lobe_alternatives(text: str, vocab: Vocabulary) -> bool:
    """"the middle lobe or the lower lobe?" / "上叶还是下叶?": lobes offered as choices."""
    named = set(_all_keys(text, vocab.lobes))
    rest = text
    for terms in vocab.lobes.values():
        for t in sorted(terms, key=len, reverse=True):
            rest = rest.replace(t.lower(), " ")
    named |= {f"generic_{k}" for k, spec in vocab.lobe_by_side.items() if has_term(rest, tuple(spec["terms"]))}
    return len(named) >= 2 and any(c in text for c in vocab.cues.get("alternatives", ("还是", " or ")))


def _alternatives(text: str, table: dict[str, tuple[str, ...]], bare_en: dict[str, list[str]], vocab: Vocabulary) -> bool:
    """"upper, middle or lower zone?" / "内带还是外带?": two or more values of one location group
    offered as choices. The question asks which one, so it names none of them."""
    keys = set(_all_keys(text, table))
    if re.search(r"(?<![a-z])(" + "|".join(vocab.cues.get("region_nouns_en", ["zone"])) + r")(?![a-z])", text):
        keys |= {k for k, words in bare_en.items() if any(re.search(rf"(?<![a-z]){w}(?![a-z])", text) for w in words)}
    return len(keys) >= 2 and any(c in text for c in vocab.cues.get("alternatives", ("还是", " or ")))


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
    strong = s.get("explain_term", 0) >= 4
    # a weak cue ("what is", "是什么") asks for a term only when it names a sign and nothing on this film
    this_film = features["has_location"] or features["anatomy"] or features["relative"] or lesion_groups(features["descriptors"])
    if not features["term"] and not strong and (features["references"] or any(v > 0 for k, v in s.items() if k != "explain_term")):
        s["explain_term"] = 0.0
    elif features["term"] and s.get("explain_term", 0) >= 2 and not features["references"] and (strong or not this_film):
        s["explain_term"] += 6 if strong else 3
    if set(features["anatomy_kinds"]) & {"costophrenic_angle", "heart"} and not (features["references"] or features["checklist"]):
        s["assess_anatomy"] = s.get("assess_anatomy", 0) + 3
    if features["checklist"]:
        s["sign_checklist"] = s.get("sign_checklist", 0) + 2
    _cue_bonuses(s, scores, features)
    if features["anatomy"] and s.get("measure_relation", 0) > 0:
        s["measure_relation"] += 1
    if features["both"] and s.get("compare", 0) > 0:
        s["compare"] += 1
    best = max(s.values()) if s else 0.0
    if best < 1:  # nothing but a question frame ("is it …?") scored
        return _fallback_intent(features)
    return next(i for i in _TIE_ORDER if s.get(i, 0.0) == best)


def _cue_bonuses(s: dict[str, float], scores: dict[str, float], features: dict[str, Any]) -> None:
    """Adjust the keyword scores ``s`` in place by what the question's cues say it asks."""
    # "what is the diagnosis?" names no disease: the screening summary answers it (and says Hilum does not diagnose)
    if features["diagnosis"] and not features["checklist"]:
        s["screen"] = s.get("screen", 0) + 6
    # "is there a pneumothorax?" asks whether this film shows a sign, unless it asks for a disease's typical signs
    explains = bool(features["term"]) and s.get("explain_term", 0) >= 5 and not features["references"]
    if features["sign"] and not (features["checklist_cue"] or explains) and s.get("out_of_scope", 0) < 6:
        s["assess_anatomy"] = s.get("assess_anatomy", 0) + 6
    # "are both lung fields clear?" / "do you see any nodules?" about no lesion in particular: a screening question
    if not features["lesion_talk"] and features["whole_lungs_clear"]:
        s["screen"] = s.get("screen", 0) + 4
    if features["presence"] and features["descriptors"] and not (features["references"] or features["relative"]):
        s["screen"] = s.get("screen", 0) + 3
    # "how long are the spicules?" / "where are the notches?": a part of the margin, asked about by size or place
    if features["margin_part"]:
        s["describe_margin"] = s.get("describe_margin", 0) + max(s.get("size", 0), s.get("locate", 0))
    # "upper, middle or lower zone?" / "which lung zone?": the choices name no place; the question asks where
    if features["asks_region"] or features["which_region"]:
        s["locate"] = s.get("locate", 0) + 5
    # "is it in the inner band?": a place checked against the finding in focus
    if features["has_location"] and features["references"] and max(s.values(), default=0.0) < 2:
        s["locate"] = s.get("locate", 0) + 2
    if features["compare"]:
        s["compare"] = s.get("compare", 0) + 6
    # a unit ("how many cm") with a second place (the hilum, another lesion) measures the distance between them
    relational = bool(features["landmark"]) or features["pair"]
    if features["units"] and (features["landmark"] or (features["pair"] and s.get("measure_relation", 0) >= 2)):
        s["measure_relation"] += features["units"] + 1
        s["size"] = max(0.0, s.get("size", 0) - features["units"])
    if features["size_op"]:
        target = "measure_relation" if relational and s.get("measure_relation", 0) >= 2 else "size"
        s[target] = s.get(target, 0) + 5


def _fallback_intent(features: dict[str, Any]) -> str:
    if features["relative"] or features["other"]:
        return "locate"
    if features["references"]:
        return "describe_margin"
    if features["term"] and not (features["descriptors"] or features["has_location"]):
        return "explain_term"
    if features["has_location"] or features["anchor_ids"] or features["ordinal"] or features["descriptors"]:
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


_REGION_THIRD = re.compile(r"(?<![a-z])(?:(?:which|what|inner|middle|outer|upper|lower|medial|lateral) thirds?|thirds? of the)(?![a-z])")


def _ordinal(text: str, vocab: Vocabulary) -> int | None:
    """"the second opacity"; a third of the lung's width ("outer third", "which third") is not an ordinal."""
    plain = _REGION_THIRD.sub(" ", text)
    for terms in (*vocab.zones.values(), *vocab.bands.values()):
        for t in terms:
            plain = plain.replace(t.lower(), " ")
    key = _first_key(plain, vocab.ordinals)
    return int(key) if key else None


# --- cues: foreign language, signs, comparisons, thresholds ------------------------------------------

_FOREIGN_TOKEN = re.compile(r"[a-zà-ÿœß]+(?:[-'][a-zà-ÿœß]+)*")


def foreign_language(raw: str, vocab: Vocabulary) -> str | None:
    """The code of a language Hilum does not speak when the (normalised) question is in one, else None.
    By script (kana, hangul, …); for Latin script, by function words English does not use."""
    spec = vocab.foreign
    for code, pattern in spec.get("scripts", {}).items():
        if re.search(pattern, raw):
            return str(code)
    if _CJK.search(raw):
        return None
    tokens = _FOREIGN_TOKEN.findall(raw)
    english = set(spec.get("english_words", ()))
    n_en = sum(t in english for t in tokens)
    counts = sorted(((sum(t in set(words) for t in tokens), code) for code, words in spec.get("words", {}).items()),
                    reverse=True)
    if not counts:
        return None
    n, code = counts[0]
    odd = bool(re.search(spec.get("non_english_letters", r"$^"), raw))
    if (n >= 2 and n > n_en) or (odd and n >= 1 and n_en == 0):
        return str(code)
    return None


def find_sign_questions(text: str, anatomy_kinds: list[str], vocab: Vocabulary, lesion_talk: bool) -> tuple[str, ...]:
    """The signs a presence question names, in the order named: a sign's own name ("气胸", "effusion"),
    or an anatomy name with a state word ("肺门大小正常吗", "is the trachea midline?") when the question
    is not about a lesion. A name inside a longer one ("积液" in "胸腔积液") counts once."""
    spans: list[tuple[int, int, str]] = []
    for sign, terms in vocab.sign_terms.items():
        for term in terms:
            spans.extend((pos, pos + len(term), sign) for pos in find_term(text, term))
    kept = [sp for sp in spans if not any(o != sp and o[0] <= sp[0] and sp[1] <= o[1] and o[1] - o[0] > sp[1] - sp[0]
                                          for o in spans)]
    found = [sign for _, _, sign in sorted(kept)]
    if not lesion_talk:
        for kind in anatomy_kinds:
            spec = vocab.anatomy_states.get(kind)
            if spec and has_term(text, spec[1]):
                found.append(spec[0])
    return tuple(dict.fromkeys(found))


def _margin_part(text: str, vocab: Vocabulary) -> bool:
    if has_term(text, tuple(vocab.cues.get("margin_parts", ()))):
        return True
    stems = "|".join(re.escape(t) for t in vocab.cues.get("margin_parts_zh_stems", ()))
    after = "".join(vocab.cues.get("margin_parts_not_before", ()))
    return bool(stems) and bool(re.search(f"({stems})(?![{re.escape(after)}])" if after else f"({stems})", text))


_LESION_GROUPS: dict[str, str] = {"round": "round", "oval": "round", "nodule": "round", "mass": "round",
                                  "strand-like": "strand", "patchy": "patchy"}


def lesion_groups(descriptors: tuple[str, ...]) -> tuple[str, ...]:
    """Distinct kinds of lesion a question names ("the nodule … the strand" → two)."""
    return tuple(dict.fromkeys(_LESION_GROUPS[d] for d in descriptors if d in _LESION_GROUPS))


def _compare_cue(text: str, vocab: Vocabulary, pair: bool) -> bool:
    cues = vocab.cues
    comparative = has_term(text, tuple(cues.get("comparatives", ())))
    which = has_term(text, tuple(cues.get("which", ()))) and not has_term(text, tuple(cues.get("which_not", ())))
    if which and comparative:
        return True
    return pair and has_term(text, tuple(cues.get("than", ())))


def size_threshold(text: str, vocab: Vocabulary) -> tuple[str, float] | None:
    """"bigger than 1 cm" / "超过3厘米" → ("gt", 10.0); the threshold in mm."""
    for key in ("size_threshold_en", "size_threshold_zh"):
        pattern = vocab.cues.get(key)
        m = re.search(pattern, text) if pattern else None
        if m is None:
            continue
        value = float(m.group(1)) * (10.0 if m.group(2).startswith(("c", "厘", "公")) else 1.0)
        lower = re.search(r"smaller|shorter|less|under|below|at most|小于|不到|少于|不足|以下|<|≤", m.group(0))
        return ("lt" if lower else "gt"), value
    return None


_YES_NO = re.compile(r"^(?:is|are|does|do|was|has|have|can|could)\b|[吗么][?？!.。]*$|是否|是不是")
_CONNECTING_BAND = re.compile(r"(条索|索条|条带|strand|band)\S{0,2}\s?(相连|连接|相通|connect|join|link)")


def parse(question: str, vocab: Vocabulary | None = None) -> Query:
    """Parse one question. Never raises on odd input; an empty question is the engine's concern."""
    v = vocab or load_vocabulary()
    raw = normalise(question)
    lang = detect_lang(raw)
    foreign = foreign_language(raw, v)
    if foreign is not None:  # the question's language is that one: the engine answers in the session's
        return Query(intent="out_of_scope", lang=detect_lang(raw), foreign=foreign)
    text = correct_typos(raw, v.lexicon)
    loc = parse_location(text, v)
    ids = tuple(f"{m.group(1).upper()}{int(m.group(2))}" for m in _ANCHOR_ID.finditer(question))
    refs = tuple(dict.fromkeys(_references(text, v) + ids))
    checklist = _first_key(text, v.checklists)
    term = find_sign_term(text, v)
    threshold = size_threshold(text, v)
    descriptors = tuple(_all_keys(text, v.descriptors))
    if threshold is not None:  # "bigger than 1 cm" compares with a number, not with the other lesion
        descriptors = tuple(d for d in descriptors if d not in ("small", "large"))
    if _CONNECTING_BAND.search(text):  # "有没有条索相连" / "a band connecting it": the link, not a lesion
        descriptors = tuple(d for d in descriptors if d != "strand-like")
    both = has_term(text, v.both_reference)
    pair = len(set(ids)) >= 2 or both or len(lesion_groups(descriptors)) >= 2
    anatomy_kinds = [a.removesuffix("_right").removesuffix("_left") for a in loc["anatomy"]]
    relative = _first_key(text, v.relative_positions)
    lesion_talk = bool(refs or ids or lesion_groups(descriptors) or relative)
    signs = find_sign_questions(text, anatomy_kinds, v, lesion_talk)
    unit_terms = set(v.cues.get("unit_questions", ()))
    features = {
        "term": term,
        "checklist": checklist,
        "anatomy": loc["anatomy"],
        "anatomy_kinds": anatomy_kinds,
        "references": refs,
        "anchor_ids": ids,
        "ordinal": _ordinal(text, v),
        "both": both,
        "pair": pair,
        "descriptors": descriptors,
        "has_location": any(loc[k] for k in ("lesion_side", "lobe", "zone", "band")),
        "asks_region": loc["asks_region"],
        "relative": relative,
        "other": has_term(text, v.other_reference),
        "diagnosis": has_term(text, tuple(v.cues.get("diagnosis", ()))),
        "sign": signs[0] if signs else None,
        "checklist_cue": has_term(text, v.checklist_cues),
        "margin_part": _margin_part(text, v),
        "compare": _compare_cue(text, v, pair),
        "size_op": threshold[0] if threshold else None,
        "units": sum(w for t, w in v.intents.get("size", ()) if t in unit_terms and find_term(text, t)),
        "landmark": sorted(set(anatomy_kinds) & set(v.cues.get("relation_landmarks", ()))),
        "lesion_talk": lesion_talk,
        "whole_lungs_clear": has_term(text, tuple(v.cues.get("whole_lungs", ())))
        and has_term(text, tuple(v.cues.get("clear_words", ()))),
        "presence": has_term(text, tuple(v.cues.get("presence", ()))),
        "which_region": bool(v.cues.get("which_region")) and bool(re.search(v.cues["which_region"], text)),
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
        descriptors=descriptors,
        references=refs,
        lesion_side=loc["lesion_side"],
        checklist=checklist if intent == "sign_checklist" else None,
        term=term if intent == "explain_term" else None,
        anchor_ids=ids,
        ordinal=features["ordinal"],
        other=features["other"],
        both=both,
        relative=relative,
        signs=signs if intent == "assess_anatomy" else (),
        diagnosis=features["diagnosis"] and intent == "screen",
        size_op=threshold[0] if threshold and intent == "size" else None,
        size_mm=threshold[1] if threshold and intent == "size" else None,
        yes_no=bool(_YES_NO.search(raw)),
    )
