"""The per-session anchor registry (A1, A2, … stable for the session) and reference resolution.

Kinds: ``finding`` (a lesion), ``anatomy`` (a named region such as the right hilum), ``point``
(a landmark without an area, e.g. a costophrenic angle) and ``relation`` (two anchors joined
by a measurement). Resolution: explicit ids first (A2 / F2), then ordinals and "the other",
then location and description score the finding anchors; "the one near the diaphragm" /
"离肺门最近的那个" picks the finding nearest to (or farthest from) a landmark when the distances
separate it from the rest, and asks back when they do not; other ties go to the most recently
mentioned; a tie that recency cannot break is ambiguous (the turn asks back); no candidate is
"none" (the turn says so plainly). A pair of "it" and "the other one" ("is it bigger than the
other one?") is the finding in focus, then the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal

from orchestrator.dialogue.parser import Query
from orchestrator.dialogue.words import pleural_space, word
from orchestrator.facts import AnatomyRegion, Finding, ImageFacts, Point
from orchestrator.findings.calibration import stated_kind
from orchestrator.findings.relations import share_within

Outcome = Literal["resolved", "ambiguous", "none"]


@dataclass(frozen=True)
class Anchor:
    id: str
    kind: str  # finding | anatomy | point | relation
    label_en: str
    label_zh: str
    center_px: Point
    bbox_px: tuple[float, float, float, float]
    polygon_px: tuple[Point, ...] = ()
    finding_id: str | None = None
    name: str | None = None  # anatomy name, e.g. hilum_right
    members: tuple[str, ...] = ()  # relation: the two anchor ids
    side: str | None = None
    lobe: str | None = None
    lobe_overlap: tuple[str, ...] = ()  # lobes it also projects over (frontal film: lobe is an estimate)
    zone: str | None = None
    band: str | None = None
    shape: str | None = None
    finding_kind: str | None = None
    margin: str | None = None  # the finding's margin, for "the spiculated one"
    contents: tuple[str, ...] = ()  # what the finding holds as its density reads it: "cavity", "calcified"
    diameter_mm: float | None = None
    # a finding's distances (mm) to landmarks, for "the one near the diaphragm": see ``landmark_distances``
    landmark_mm: tuple[tuple[str, float], ...] = ()
    created_turn: int = 1
    mentioned_turn: int = 1

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "label": self.label(lang),
            "center_px": [round(self.center_px[0], 1), round(self.center_px[1], 1)],
            "bbox_px": [round(v, 1) for v in self.bbox_px],
            "polygon_px": [[round(x, 1), round(y, 1)] for x, y in self.polygon_px],
        }
        if self.finding_id:
            d["finding_id"] = self.finding_id
        if self.name:
            d["name"] = self.name
        if self.members:
            d["members"] = list(self.members)
        return d

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "label_en": self.label_en, "label_zh": self.label_zh,
            "center_px": list(self.center_px), "bbox_px": list(self.bbox_px),
            "polygon_px": [list(p) for p in self.polygon_px], "finding_id": self.finding_id, "name": self.name,
            "members": list(self.members), "side": self.side, "lobe": self.lobe,
            "lobe_overlap": list(self.lobe_overlap), "zone": self.zone,
            "band": self.band, "shape": self.shape, "finding_kind": self.finding_kind, "margin": self.margin,
            "contents": list(self.contents),
            "diameter_mm": self.diameter_mm, "landmark_mm": [[k, v] for k, v in self.landmark_mm],
            "created_turn": self.created_turn, "mentioned_turn": self.mentioned_turn,
        }

    @staticmethod
    def from_state(d: dict[str, Any]) -> Anchor:
        return Anchor(
            **{
                **d,
                "center_px": (float(d["center_px"][0]), float(d["center_px"][1])),
                "bbox_px": tuple(float(v) for v in d["bbox_px"]),
                "polygon_px": tuple((float(p[0]), float(p[1])) for p in d["polygon_px"]),
                "members": tuple(d.get("members") or ()),
                "lobe_overlap": tuple(d.get("lobe_overlap") or ()),
                "contents": tuple(d.get("contents") or ()),
                "landmark_mm": tuple((str(k), float(v)) for k, v in d.get("landmark_mm") or ()),
            }
        )


@dataclass(frozen=True)
class Registry:
    anchors: tuple[Anchor, ...] = ()

    def get(self, anchor_id: str) -> Anchor | None:
        return next((a for a in self.anchors if a.id == anchor_id), None)

    def findings(self) -> tuple[Anchor, ...]:
        return tuple(a for a in self.anchors if a.kind == "finding")

    def for_finding(self, finding_id: str) -> Anchor | None:
        return next((a for a in self.anchors if a.finding_id == finding_id), None)

    def for_name(self, name: str) -> Anchor | None:
        return next((a for a in self.anchors if a.name == name and a.kind in ("anatomy", "point")), None)

    def next_id(self) -> str:
        return f"A{len(self.anchors) + 1}"


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    anchors: tuple[Anchor, ...] = ()
    candidates: tuple[Anchor, ...] = ()
    note: str = ""  # e.g. "description_mismatch"


# --- registration ------------------------------------------------------------------------------


def finding_label(f: Finding, lang: str) -> str:
    where = word("lobe", f.lobe, lang)
    if f.kind == "effusion":  # pleural fluid is named by its side, not by a lobe
        where = pleural_space(f.side, lang) if lang == "zh" else f"{word('side', f.side, lang)}-sided"
    what = word("kind", stated_kind(f), lang)
    shape = "" if f.kind in ("strand", "consolidation", "effusion") else word("shape", f.shape, lang)
    if lang == "zh":
        return f"{where}{shape}{what}"
    return " ".join(p for p in (where, shape, what) if p)


def landmark_distances(f: Finding) -> tuple[tuple[str, float], ...]:
    """The finding's distances in mm to the landmarks a question can pick it by: the pleura (the lung's edge,
    chest wall or mediastinal), the diaphragm, its hilum's centre, and the mediastinum (how far lateral of
    its hilum the centre lies: the horizontal part of the centre-to-hilum distance; 0 when medial of it).
    A distance the findings layer could not measure (NaN: no lung mask) is left out."""
    out = [("pleura", f.distance_to_pleura_mm), ("diaphragm", f.distance_to_diaphragm_mm)]
    if f.hilum is not None:
        (x, y), (hx, hy) = f.center_px, f.hilum.hilum_px
        px = math.hypot(x - hx, y - hy)
        lateral = (hx - x) if f.hilum.side == "right" else (x - hx)  # the patient's right is the image's left
        out += [("hilum", f.hilum.center_distance_mm),
                ("mediastinum", f.hilum.center_distance_mm * max(lateral, 0.0) / px if px > 0 else 0.0)]
    return tuple((k, round(float(v), 1)) for k, v in out if math.isfinite(v))


def add_finding(reg: Registry, f: Finding, turn: int) -> tuple[Registry, Anchor]:
    existing = reg.for_finding(f.id)
    if existing:
        return reg, existing
    a = Anchor(
        id=reg.next_id(), kind="finding", label_en=finding_label(f, "en"), label_zh=finding_label(f, "zh"),
        center_px=f.center_px, bbox_px=f.bbox_px, polygon_px=f.polygon_px, finding_id=f.id, side=f.side,
        lobe=f.lobe, lobe_overlap=f.lobe_overlap, zone=f.zone, band=f.band, shape=f.shape, finding_kind=f.kind,
        margin=f.margin, contents=tuple(c for c, held in (("cavity", f.density.cavity), ("calcified", f.density.calcified))
                                        if held),
        diameter_mm=f.diameter_mm, landmark_mm=landmark_distances(f), created_turn=turn, mentioned_turn=turn,
    )
    return Registry(reg.anchors + (a,)), a


def screening_registry(facts: ImageFacts) -> Registry:
    """The anchors a session starts with, before its screening turn: every finding, then both hila."""
    reg = Registry()
    for f in facts.findings:
        reg, _ = add_finding(reg, f, 1)
    for side in ("right", "left"):
        reg, _ = ensure_anatomy(reg, facts, f"hilum_{side}", 1)
    return reg


_POINT_LANDMARKS = ("apex_", "costophrenic_", "diaphragm_")


def _anatomy_geometry(facts: ImageFacts, name: str) -> tuple[str, Point, tuple[float, float, float, float], tuple[Point, ...]] | None:
    region = facts.anatomy.region(name)
    kind, _, side = name.rpartition("_")
    if region is not None:
        # a hilum's centre is its point, the one every distance to it is measured from (``HilumRelation.hilum_px``), not
        # its outline's centroid: the ruler drawn to A3 had run 85.6 mm where the answer said 100.7 mm
        centre = facts.anatomy.hilum_px.get(side, region.center_px) if kind == "hilum" else region.center_px
        return ("point" if name.startswith(_POINT_LANDMARKS) else "anatomy"), centre, region.bbox_px, region.polygon_px
    points: dict[str, dict[str, Point]] = {
        "hilum": facts.anatomy.hilum_px,
        "apex": facts.anatomy.apex_px,
        "diaphragm": facts.anatomy.diaphragm_dome_px,
        "costophrenic": {c.side: c.point_px for c in facts.anatomy.costophrenic},
    }
    p = points.get(kind, {}).get(side)
    if p is None:
        return None
    x, y = p
    return ("anatomy" if kind == "hilum" else "point"), p, (x - 8, y - 8, x + 8, y + 8), ()


def ensure_anatomy(reg: Registry, facts: ImageFacts, name: str, turn: int) -> tuple[Registry, Anchor | None]:
    existing = reg.for_name(name)
    if existing:
        return reg, existing
    geo = _anatomy_geometry(facts, name)
    if geo is None:
        return reg, None
    kind, center, bbox, poly = geo
    side = name.rpartition("_")[2] if name.endswith(("_right", "_left")) else None
    a = Anchor(
        id=reg.next_id(), kind=kind, label_en=word("anatomy", name, "en"), label_zh=word("anatomy", name, "zh"),
        center_px=center, bbox_px=bbox, polygon_px=poly, name=name, side=side, created_turn=turn, mentioned_turn=turn,
    )
    return Registry(reg.anchors + (a,)), a


def add_relation(reg: Registry, a: Anchor, b: Anchor, turn: int) -> tuple[Registry, Anchor]:
    for r in reg.anchors:
        if r.kind == "relation" and r.members == (a.id, b.id):
            return reg, r
    (ax, ay), (bx, by) = a.center_px, b.center_px
    rel = Anchor(
        id=reg.next_id(), kind="relation",
        label_en=f"{a.id} – {b.id} ({a.label_en} to {b.label_en})",
        label_zh=f"{a.id}–{b.id}({a.label_zh}至{b.label_zh})",
        center_px=((ax + bx) / 2, (ay + by) / 2),
        bbox_px=(min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)),
        polygon_px=(a.center_px, b.center_px), members=(a.id, b.id), created_turn=turn, mentioned_turn=turn,
    )
    return Registry(reg.anchors + (rel,)), rel


def mention(reg: Registry, ids: tuple[str, ...], turn: int, focus: str | None = None) -> Registry:
    """The anchors a turn spoke of, mentioned in it; ``focus``: the one of them the turn settled on ("which is the
    biggest?" -> the largest), the others counted as mentioned the turn before, so that "it" next means the focus."""
    wanted = set(ids)
    return Registry(tuple(replace(a, mentioned_turn=turn if focus is None or a.id == focus else turn - 1)
                          if a.id in wanted else a for a in reg.anchors))


# --- resolution --------------------------------------------------------------------------------

_DESCRIPTOR_FIT: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = MappingProxyType({
    # descriptor: (shapes, kinds, margins) that fit it
    "round": (("round", "oval"), ("nodule", "mass", "calcified_nodule"), ()),
    "oval": (("round", "oval"), ("nodule", "mass", "calcified_nodule"), ()),
    "strand-like": (("strand-like",), ("strand",), ()),
    "patchy": (("patchy",), ("consolidation",), ()),
    "nodule": (("round", "oval"), ("nodule", "calcified_nodule"), ()),
    "mass": ((), ("mass",), ()),
    # named as which finding ("the spiculated one", "钙化灶": parser cue descriptor_pointers)
    "spiculated": ((), (), ("spiculated",)),
    "smooth": ((), (), ("smooth",)),
    "lobulated": ((), (), ("lobulated",)),
    "calcified": ((), ("calcified_nodule",), ()),
    "cavitary": ((), ("cavity",), ()),
    "effusion": ((), ("effusion",), ()),  # "how big is the effusion?": the effusion-like opacity
    "consolidation": ((), ("consolidation",), ()),  # "which lobe is the consolidation in?"
})


# descriptors that name what a finding holds -> the kind it must be of ("the cavity" is a cavity or a nodule
# with one); Hilum reads no ground-glass component, so no finding holds one
_CONTENT_OF: Mapping[str, str] = MappingProxyType({"cavitary": "cavity", "calcified": "calcified",
                                                   "ground_glass": "ground_glass"})
CONTENT_DESCRIPTORS = frozenset(_CONTENT_OF)  # descriptors that name what a finding holds, not which finding


def holds_kind(a: Anchor, kind: str) -> bool:
    """Whether a finding is of a kind a question looks for ("any nodules?", "the cavity")."""
    if kind == "nodule":
        return a.finding_kind in ("nodule", "calcified_nodule")
    if kind == "cavity":
        return a.finding_kind == "cavity" or "cavity" in a.contents
    if kind == "calcified":
        return a.finding_kind == "calcified_nodule" or "calcified" in a.contents
    return a.finding_kind == kind


def fits_kinds(a: Anchor, kinds: tuple[str, ...]) -> bool:
    """"any nodules or masses?": of one of the kinds looked for; "calcified+nodule" (named together) is both."""
    return any(all(holds_kind(a, k) for k in token.split("+")) for token in kinds)


def _descriptor_fits(a: Anchor, descriptor: str) -> bool:
    shapes, kinds, margins = _DESCRIPTOR_FIT.get(descriptor, ((), (), ()))
    content = _CONTENT_OF.get(descriptor)
    return (a.shape in shapes or a.finding_kind in kinds or a.margin in margins
            or (content is not None and holds_kind(a, content)))


def content_wanted(q: Query) -> tuple[str, ...]:
    """"how big is the cavity?": the contents a question binds its finding by (none when it names the finding
    otherwise, or compares)."""
    if q.intent == "compare" or q.anchor_ids or q.ordinal is not None or q.other:
        return ()
    if q.intent == "measure_relation" and any(d in _DESCRIPTOR_FIT and d not in _CONTENT_OF and d not in _PREFERENCES
                                              for d in q.descriptors):
        return ()  # "how far is the cavity from the mass?": two findings, each named by its own word (``_pair``)
    return tuple(_CONTENT_OF[d] for d in q.descriptors if d in _CONTENT_OF)


def descriptor_misfits(a: Anchor, q: Query) -> tuple[str, ...]:
    """The shape words of the question that the bound finding does not fit ("the strand" bound to a nodule)."""
    return tuple(d for d in q.shape_descriptors if d in _DESCRIPTOR_FIT and not _descriptor_fits(a, d))


_LOBE_ZONES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "RUL": ("upper",), "RML": ("middle",), "RLL": ("lower", "middle"), "LUL": ("upper", "middle"), "LLL": ("lower", "middle"),
})


LOBES_AT_LEVEL: Mapping[str, tuple[str, str]] = MappingProxyType({"upper": ("RUL", "LUL"), "lower": ("RLL", "LLL")})


def _lobe_check(a: Anchor, lobe: str) -> int:
    """+2 same lobe; +1 a lobe it also projects over; 0 another lobe of the same side whose zone
    fits the one asked for (lobes on a frontal film are estimates); -1 otherwise."""
    if a.lobe == lobe:
        return 2
    if lobe in a.lobe_overlap:
        return 1
    if a.side == ("right" if lobe.startswith("R") else "left") and a.zone in _LOBE_ZONES.get(lobe, ()):
        return 0
    return -1


def location_score(a: Anchor, q: Query) -> tuple[int, int]:
    """(score, number of constraints) of the query's lobe/zone/band/descriptors against a finding anchor."""
    score, n = 0, 0
    if q.lobe:
        score, n = score + _lobe_check(a, q.lobe), n + 1
    elif q.lobe_level:  # "the one in the lower lobe": either side's
        score, n = score + max(_lobe_check(a, lobe) for lobe in LOBES_AT_LEVEL[q.lobe_level]), n + 1
    for want, have in ((q.zone, a.zone), (q.band, a.band)):
        if want:
            score, n = score + (1 if want == have else -1), n + 1
    for d in q.shape_descriptors:
        if d in _DESCRIPTOR_FIT and d not in _PREFERENCES:
            score, n = score + (1 if _descriptor_fits(a, d) else -1), n + 1
    return score, n


# descriptors that choose among candidates but never exclude one: a margin read at 512² is uncertain, so
# "the spiculated one" on a film whose one nodule reads lobulated still means that nodule (the answer then
# says what Hilum reads, ``descriptor_misfits``)
_PREFERENCES = frozenset({"spiculated", "smooth", "lobulated"})
# descriptors that name a finding by what a radiograph cannot read ("the solid one" / "实性的那个": solid or subsolid is
# settled on CT): they choose nothing, and where the rest of the question does not say which finding, it is asked
UNREAD_POINTERS = frozenset({"solid"})


def _preferred(pool: tuple[Anchor, ...], q: Query) -> tuple[Anchor, ...]:
    for d in q.shape_descriptors:
        if d in _PREFERENCES:
            fits = tuple(a for a in pool if _descriptor_fits(a, d))
            pool = fits or pool
        # "the round one" between a round and an oval nodule: both fit the word (an oval is read as roundish at 512²),
        # but one is what the screening called round
        if d in _EXACT_SHAPES and len(pool) > 1:
            exact = tuple(a for a in pool if a.shape == d)
            pool = exact if len(exact) == 1 else pool
        # "the nodule" among a round mass, a round cavity and a nodule: a round lesion of any kind fits the word (the
        # kind read at 512² can be off), but a finding of that very kind is the one meant
        if d in _EXACT_KINDS and len(pool) > 1:
            pool = tuple(a for a in pool if a.finding_kind in _EXACT_KINDS[d]) or pool
    return pool


_EXACT_SHAPES = frozenset({"round", "oval"})
_EXACT_KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType({"nodule": ("nodule", "calcified_nodule")})


def _most_recent(cands: tuple[Anchor, ...]) -> Resolution:
    if len(cands) == 1:
        return Resolution("resolved", cands)
    top = max(a.mentioned_turn for a in cands)
    recent = tuple(a for a in cands if a.mentioned_turn == top)
    if len(recent) == 1:
        return Resolution("resolved", recent, cands)
    return Resolution("ambiguous", (), recent)


def _by_size(cands: tuple[Anchor, ...], q: Query) -> Resolution | None:
    if "large" in q.descriptors or "small" in q.descriptors:
        # "the largest lesion": pleural fluid is not ranked with lesions (unless fluid is all there is to rank)
        lesions = tuple(a for a in cands if a.finding_kind != "effusion") or cands
        ordered = sorted(lesions, key=lambda a: a.diameter_mm or 0.0)
        pick = ordered[-1] if "large" in q.descriptors else ordered[0]
        return Resolution("resolved", (pick,), cands)
    return None


# landmark asked about -> (distance it is read from, +1 nearer is smaller / -1 nearer is larger). The heart
# border is read as the mediastinum's; the apex as the far end from the diaphragm (the lung's height is
# about the same for every finding, so the farthest from the diaphragm is the nearest to the apex)
_LANDMARK_DISTANCE: Mapping[str, tuple[str, int]] = MappingProxyType({
    "pleura": ("pleura", 1), "diaphragm": ("diaphragm", 1), "hilum": ("hilum", 1),
    "heart": ("mediastinum", 1), "mediastinum": ("mediastinum", 1), "apex": ("diaphragm", -1),
})
# two distances closer than this (in mm, or as a fraction of the larger) do not tell the findings apart
PROXIMITY_MIN_GAP_MM = 5.0
PROXIMITY_MIN_GAP_FRACTION = 0.2


def _separated(a: float, b: float) -> bool:
    gap = abs(a - b)
    return gap > PROXIMITY_MIN_GAP_MM and gap > PROXIMITY_MIN_GAP_FRACTION * max(abs(a), abs(b))


def _by_proximity(cands: tuple[Anchor, ...], q: Query) -> Resolution | None:
    """"the one near the diaphragm" / "离肺门最近的那个" / "the one further from the hilum": the finding
    nearest to (farthest from) the landmark, when its distance is clearly apart from every other
    candidate's (``_separated``); ambiguous when it is not. None when the question names no landmark
    cue or a candidate's distance is unknown."""
    spec = _LANDMARK_DISTANCE.get(q.landmark or "")
    if q.proximity not in ("near", "far") or spec is None or len(cands) < 2:
        return None
    key, sense = spec
    dist = {a.id: dict(a.landmark_mm).get(key) for a in cands}
    known = {k: d for k, d in dist.items() if d is not None}
    if len(known) < len(cands):
        return None
    smallest_first = (q.proximity == "near") == (sense > 0)
    ranked = sorted(cands, key=lambda a: known[a.id], reverse=not smallest_first)
    best = known[ranked[0].id]
    close = tuple(a for a in ranked if not _separated(known[a.id], best))
    if len(close) > 1:
        return Resolution("ambiguous", (), close, note="proximity_unclear")
    return Resolution("resolved", (ranked[0],), cands)


def _explicit(reg: Registry, q: Query) -> Resolution | None:
    picked: list[Anchor] = []
    for ref in q.anchor_ids:
        a = reg.get(ref) if ref.startswith("A") else reg.for_finding(ref)
        if a is not None and a not in picked:
            picked.append(a)
    if q.anchor_ids and not picked:
        return Resolution("none", (), reg.findings(), note="unknown_id")
    return Resolution("resolved", tuple(picked)) if picked else None


def _ordinal_or_other(findings: tuple[Anchor, ...], q: Query) -> Resolution | None:
    if q.not_descriptors:  # "not the round one, the other": the one that does not fit what is ruled out
        rest = tuple(a for a in findings if not any(_descriptor_fits(a, d) for d in q.not_descriptors))
        if len(rest) == 1:
            return Resolution("resolved", rest)
    if q.other and len(findings) == 1:  # "and the other one?" with one finding: there is no other
        return Resolution("none", (), findings, note="nothing_there")
    if q.other and len(findings) >= 2:
        top = max(a.mentioned_turn for a in findings)
        focus = [a for a in findings if a.mentioned_turn == top]
        rest = tuple(a for a in findings if a not in focus) if len(focus) == 1 else ()
        # "the upper one" … "the other one" among three or more: two or more others, which one is asked (recency had
        # picked one of them without a word)
        return Resolution("resolved", rest) if len(rest) == 1 else Resolution("ambiguous", (), rest or findings)
    if q.pair_pick:  # "the former" / "the latter"
        return _of_the_pair(findings, q.pair_pick)
    if q.ordinal and not q.has_location:
        n = ordinal_index(q.ordinal, len(findings))  # "the last one" / "最后一个": -1
        if n is not None:
            return Resolution("resolved", (findings[n],))
        return Resolution("none", (), findings, note="no_such_ordinal")
    return None


def ordinal_index(ordinal: int, count: int) -> int | None:
    """The index in the listed order of the finding an ordinal names (1: the first; -1: the last), None past the end."""
    n = ordinal - 1 if ordinal > 0 else count + ordinal
    return n if 0 <= n < count else None


def _of_the_pair(findings: tuple[Anchor, ...], pick: str) -> Resolution:
    """"The former" / "the latter" / "前一个": of the two findings last named together (in the order listed), or of the
    film's two; among more, which one is asked."""
    if len(findings) < 2:
        return Resolution("none", (), findings, note="nothing_there")
    top = max(a.mentioned_turn for a in findings)
    recent = tuple(a for a in findings if a.mentioned_turn == top)
    pair = recent if len(recent) == 2 else findings if len(findings) == 2 else ()
    if not pair:
        return Resolution("ambiguous", (), recent if len(recent) > 2 else findings)
    return Resolution("resolved", (pair[0] if pick == "former" else pair[1],), pair)


def _by_location(findings: tuple[Anchor, ...], q: Query) -> Resolution:
    pool = tuple(a for a in findings if q.lesion_side is None or a.side == q.lesion_side)
    if not pool:
        return Resolution("none", (), findings, note="nothing_there")
    scored = [(location_score(a, q), a) for a in pool]
    if any(n for (_, n), _ in scored):
        best = max(sc for (sc, _), _ in scored)
        if best <= 0:
            return Resolution("none", (), findings, note="nothing_there")
        pool = tuple(a for (sc, _), a in scored if sc == best)
    pool = _preferred(pool, q)
    if len(pool) == 1:
        return Resolution("resolved", pool)
    if UNREAD_POINTERS & set(q.descriptors) and not (_by_proximity(pool, q) or _by_size(pool, q)):
        return Resolution("ambiguous", (), pool, note="unread_descriptor")
    return _by_proximity(pool, q) or _by_size(pool, q) or _most_recent(pool)


def finding_in_focus(findings: tuple[Anchor, ...]) -> Anchor | None:
    """The finding the conversation is on: the one mentioned last, when only one was."""
    if not findings:
        return None
    top = max(a.mentioned_turn for a in findings)
    focus = [a for a in findings if a.mentioned_turn == top]
    return focus[0] if len(focus) == 1 else None


# image-axis direction of "above / below / left / right of it": left and right are the patient's
# (on a PA film the patient's left is the image's right)
_DIRECTIONS: Mapping[str, tuple[int, int]] = MappingProxyType({"above": (1, -1), "below": (1, 1), "left": (0, 1), "right": (0, -1)})


def _relative(reg: Registry, findings: tuple[Anchor, ...], q: Query) -> Resolution | None:
    """"the one above it" / "它下面那个": the nearest other finding in that direction from the named or
    focused one, by image position; compared ("how does the one above it compare?"), it and that one."""
    if q.relative not in _DIRECTIONS or q.both:  # "上面那个和下面那个": both are named, neither beside the other
        return None
    named = [a for a in (reg.get(i) if i.startswith("A") else reg.for_finding(i) for i in q.anchor_ids) if a is not None]
    if q.relative_ranked and not named:  # "the lower one" / "上面那个" / "which is lower?": by height among them all
        return by_height(findings, q)
    base = named[0] if named else finding_in_focus(findings)
    res = _toward(findings, base, q.relative)
    if res is not None and base is not None and res.outcome == "resolved" and q.intent == "compare":
        return replace(res, anchors=(*res.anchors, base))
    return res


def at_one_height(a: Anchor, b: Anchor) -> bool:
    """Whether two findings lie at about one height: the centre of either lies within the other's height on the film."""
    return a.bbox_px[1] <= b.center_px[1] <= a.bbox_px[3] or b.bbox_px[1] <= a.center_px[1] <= b.bbox_px[3]


def by_height(findings: tuple[Anchor, ...], q: Query) -> Resolution:
    """"the lower one" / "上面那个" / "which is the higher one?": the lowest (highest) of the findings the rest of the
    question leaves (its lung, its kind), wherever the finding in focus lies; asked back where the first two lie at
    about one height (``at_one_height``). Compared ("which is lower?"), every one of them, the one picked first."""
    pool = tuple(a for a in findings if q.lesion_side is None or a.side == q.lesion_side) or findings
    kinds = [d for d in q.shape_descriptors if d in _DESCRIPTOR_FIT and d not in _PREFERENCES]
    pool = tuple(a for a in pool if all(_descriptor_fits(a, d) for d in kinds)) or pool
    ranked = sorted(pool, key=lambda a: a.center_px[1], reverse=q.relative == "below")
    if q.intent == "compare":
        return Resolution("resolved", tuple(ranked), pool)
    if len(ranked) >= 2 and at_one_height(ranked[0], ranked[1]):
        return Resolution("ambiguous", (), tuple(a for a in ranked if at_one_height(ranked[0], a)), note="same_height")
    return Resolution("resolved", tuple(ranked[:1]), pool)


def _toward(findings: tuple[Anchor, ...], base: Anchor | None, direction: str) -> Resolution | None:
    """The nearest finding in ``direction`` from ``base``; with no base, the one furthest that way (up or down)."""
    axis, sign = _DIRECTIONS[direction]
    if base is None:  # no finding in focus: "the upper one" is the one furthest that way
        if direction in ("left", "right") or len(findings) < 2:
            return None  # the side words already say which lung
        ranked = sorted(findings, key=lambda a: a.center_px[axis] * sign)
        return Resolution("resolved", (ranked[-1],), findings)
    there = [a for a in findings if a.id != base.id and (a.center_px[axis] - base.center_px[axis]) * sign > 0]
    if not there:
        return Resolution("none", (), findings, note="nothing_there")
    def dist(a: Anchor) -> float:
        return (a.center_px[0] - base.center_px[0]) ** 2 + (a.center_px[1] - base.center_px[1]) ** 2
    return Resolution("resolved", (min(there, key=dist),), tuple(there))


def _pair(findings: tuple[Anchor, ...], q: Query) -> Resolution | None:
    """"the nodule … the strand": each kind of lesion named binds its own finding (distance, comparison)."""
    picked: list[Anchor] = []
    for d in q.shape_descriptors:
        fits = [a for a in findings if d in _DESCRIPTOR_FIT and _descriptor_fits(a, d) and a not in picked]
        if len(fits) > 1 and d in _EXACT_KINDS:  # "the mass and the nodule": the one read as a nodule
            fits = [a for a in fits if a.finding_kind in _EXACT_KINDS[d]] or fits
        if len(fits) == 1:
            picked.append(fits[0])
    return Resolution("resolved", tuple(picked)) if len(picked) >= 2 else None


def _it_and_other(findings: tuple[Anchor, ...], focus: Anchor | None, q: Query) -> Resolution | None:
    """"is it bigger than the other one?" / "它离另一个多远?" / "is A1 bigger than the other one?": the finding in focus
    (or named) first, then the other one. With two others or more "the other one" names none of them: a comparison sets
    the first against each (note ``each_other``: the answer says so), a distance asks which (the more recently mentioned
    had been taken, without a word)."""
    if not (q.it_and_other and focus is not None and len(findings) >= 2):
        return None
    others = tuple(a for a in findings if a.id != focus.id)
    if len(others) == 1:
        return Resolution("resolved", (focus, others[0]), findings)
    if q.intent == "compare":
        return Resolution("resolved", (focus, *others), findings, note="each_other")
    return Resolution("ambiguous", (), others)


def _named_and_other(findings: tuple[Anchor, ...], explicit: Resolution, q: Query) -> Resolution:
    """The findings named by id; "is A1 bigger than the other one?" / "A1离另一个多远": the one named against the other
    (``_it_and_other``; it had been "only one candidate region")."""
    named = explicit.anchors[0] if explicit.outcome == "resolved" and len(explicit.anchors) == 1 else None
    if q.intent in ("compare", "measure_relation") and named is not None and named.kind == "finding":
        return _it_and_other(findings, named, q) or explicit
    return explicit


def _two_named(findings: tuple[Anchor, ...], focus: Anchor | None, q: Query) -> Resolution | None:
    """A distance or a comparison of two findings named by their kinds (``_pair``) or as "it" and "the other one"
    (``_it_and_other``); with nothing in focus among three or more, which "it" is, asked (the first listed had been
    taken)."""
    pair = _pair(findings, q) or _it_and_other(findings, focus, q)
    if pair is None and q.it_and_other and focus is None and len(findings) > 2:
        return Resolution("ambiguous", (), findings)
    return pair


def resolve_findings(reg: Registry, q: Query, want_all: bool = False) -> Resolution:
    """Which finding anchor(s) the question is about."""
    findings = reg.findings()
    relative = _relative(reg, findings, q)
    if relative is not None:
        return relative
    explicit = _explicit(reg, q)
    if explicit is not None:
        return _named_and_other(findings, explicit, q)
    if not findings:
        return Resolution("none", (), (), note="no_findings")
    discussed = _under_discussion(findings, q)
    if discussed is not None:
        return discussed
    wanted = content_wanted(q)
    if wanted:  # among the findings that hold it, by the rest of what the question says; none when none does
        held = tuple(a for a in findings if all(holds_kind(a, k) for k in wanted))
        if not held:
            return Resolution("none", (), findings, note="nothing_there")
        findings = held
        q = replace(q, descriptors=tuple(d for d in q.descriptors if d not in _CONTENT_OF))
    findings = _of_size_named(findings, q)
    focus = finding_in_focus(findings)
    if q.intent == "locate" and q.yes_no and q.references and q.has_location and focus is not None and focus.mentioned_turn > 1:
        return Resolution("resolved", (focus,))  # "is it in the inner band?": checked against the finding in focus
    pair = _two_named(findings, focus, q) if q.intent in ("measure_relation", "compare") else None
    if pair is not None:
        return pair
    if want_all or q.both:
        return Resolution("resolved", findings) if len(findings) >= 2 else Resolution("resolved", findings)
    special = _ordinal_or_other(findings, q)
    if special is not None:
        return special
    return _by_location_or_named(findings, q)


def _under_discussion(findings: tuple[Anchor, ...], q: Query) -> Resolution | None:
    """"really? it looks bigger to me, like 15 mm" / "the radiologist measured it at 2 cm": a size the reader states is
    said of the finding in focus, never a pointer to another whose size is near it (nor is "bigger" "the bigger one");
    None where nothing is in focus or the question names a finding otherwise."""
    focus = finding_in_focus(findings)
    if q.stated_mm is None or focus is None or focus.mentioned_turn <= 1:
        return None
    if (q.has_location or q.ordinal is not None or q.other or q.relative or q.proximity or q.shape_descriptors
            or q.both):
        return None
    return Resolution("resolved", (focus,))


# how far a size named ("the 12 mm one") may be from a finding's measured diameter and still say it is that one
SIZE_NAMED_TOLERANCE = 0.25


def _of_size_named(findings: tuple[Anchor, ...], q: Query) -> tuple[Anchor, ...]:
    """"the 12 mm one" / "那个12毫米的": the findings whose diameter is within ``SIZE_NAMED_TOLERANCE`` of the size
    named; all of them when none is (a size quoted from elsewhere may be measured otherwise, so it rules none out)."""
    if q.size_named_mm is None:
        return findings
    fit = tuple(a for a in findings if a.diameter_mm
                and abs(a.diameter_mm - q.size_named_mm) <= SIZE_NAMED_TOLERANCE * a.diameter_mm)
    return fit or findings


def _by_location_or_named(findings: tuple[Anchor, ...], q: Query) -> Resolution:
    """``_by_location``; where nothing lies in the place a yes/no question checks ("is the stripe in the
    lingula?"), the one finding its other words name, wherever it lies (the answer says where that is)."""
    res = _by_location(findings, q)
    if res.outcome == "none" and q.zone in LOBES_AT_LEVEL and not (q.lobe or q.lobe_level or q.band):
        # "右上肺那个结节" / "the nodule in the right upper lung": said of the upper lobe as often as of the upper zone;
        # with nothing in the zone, the one finding of that lobe is meant (the answer says which zone it lies in)
        lobe = replace(q, zone=None, lobe_level=q.zone)
        by_lobe = _by_location(findings, lobe)
        if (by_lobe.outcome == "resolved" and len(by_lobe.anchors) == 1
                and by_lobe.anchors[0].lobe in LOBES_AT_LEVEL[q.zone]):  # its own lobe, not one it projects over
            return by_lobe
    if res.outcome == "none" and q.place_checked and q.shape_descriptors:
        anywhere = _by_location(findings, replace(q, side=None, lesion_side=None, lobe=None, zone=None, band=None))
        if anywhere.outcome == "resolved" and len(anywhere.anchors) == 1:
            return anywhere
    return res


_UPPER_REGIONS = frozenset({"apex", "subclavicular"})


def in_scope(a: Anchor, q: Query, facts: ImageFacts) -> bool:
    """Hard location filter for a scoped screening question ("右上肺有病灶吗?", "anything retrocardiac?")."""
    if q.lesion_side and a.side != q.lesion_side:
        return False
    if q.lobe and a.lobe != q.lobe and q.lobe not in a.lobe_overlap:
        return False
    if q.lobe_level and not q.lobe and not any(a.lobe == lb or lb in a.lobe_overlap for lb in LOBES_AT_LEVEL[q.lobe_level]):
        return False
    if (q.zone and a.zone != q.zone) or (q.band and a.band != q.band):
        return False
    for raw in q.anatomy:
        base = raw.removesuffix("_right").removesuffix("_left")
        if base in _UPPER_REGIONS and a.zone != "upper":
            return False
        region = facts.anatomy.region(base) if base == "retrocardiac" else None
        if region is not None and not _lies_in(region, a, facts):
            return False
    return True


# the share of a finding's area within a region's outline from which it lies in the region
LIES_IN_SHARE = 1 / 3


def _lies_in(region: AnatomyRegion, a: Anchor, facts: ImageFacts) -> bool:
    """Whether a finding lies in a region: a third of its area lies within the region's outline (a finding centred
    there, or a mass partly behind the heart); its centre in the region's bounding box where either has no outline.
    The box alone had put an upper-zone nodule "in the retrocardiac region" of a real film, whose heart map reached up
    the left lung; an outline merely touching had put the SCENARIO film's strand there, lateral to the heart border
    with 4% of it behind."""
    if len(region.polygon_px) < 3 or len(a.polygon_px) < 3:
        x0, y0, x1, y1 = region.bbox_px
        return x0 <= a.center_px[0] <= x1 and y0 <= a.center_px[1] <= y1
    return share_within(a.polygon_px, region.polygon_px, facts.image_size) >= LIES_IN_SHARE


def is_scoped(q: Query) -> bool:
    return q.has_location or any(
        r.removesuffix("_right").removesuffix("_left") in (_UPPER_REGIONS | {"retrocardiac"}) for r in q.anatomy
    )


def landmark_sides(q: Query) -> tuple[str, ...]:
    """The sides of the sided landmarks a question names ("above the left hemidiaphragm" → left)."""
    return tuple(dict.fromkeys(a.rpartition("_")[2] for a in q.anatomy if a.endswith(("_right", "_left"))))


def screen_subjects(reg: Registry, q: Query, facts: ImageFacts) -> tuple[Anchor, ...]:
    """The findings a screening question covers: in the region asked about, on the side of a sided landmark
    named, and of the kinds looked for; besides the one in focus when the question says so."""
    sides = () if q.lesion_side else landmark_sides(q)
    # "右中叶除了这个还有别的病灶吗" / "anything else besides this one?": not the finding in focus
    besides = finding_in_focus(reg.findings()) if q.besides_focus else None
    return tuple(a for a in reg.findings() if in_scope(a, q, facts) and not (sides and a.side not in sides)
                 and not (q.kinds and not fits_kinds(a, q.kinds)) and a is not besides)


def _mentioned(reg: Registry, mention: str, q: Query | None = None) -> Anchor | None:
    """The finding one of ``Query.mentions`` names, when it names exactly one ("rel:below" of "the lower one": the lowest
    of them all where ``q`` ranks by height, ``Query.relative_ranked``)."""
    findings = reg.findings()
    focus = finding_in_focus(findings)
    if mention[:1] in "AF" and mention[1:].isdigit():
        return reg.get(mention) if mention.startswith("A") else reg.for_finding(mention)
    kind, _, value = mention.partition(":")
    if kind == "ord":
        n = ordinal_index(int(value), len(findings))
        return findings[n] if n is not None else None
    if mention == "focus":
        return focus
    if mention == "other":
        rest = [a for a in findings if a is not focus]
        return rest[0] if focus is not None and len(rest) == 1 else None
    if kind == "rel" and q is not None and q.relative_ranked and value in ("above", "below"):
        ranked = by_height(findings, replace(q, relative=value, intent="locate", lesion_side=None, descriptors=()))
        return ranked.anchors[0] if len(ranked.anchors) == 1 else None
    if kind == "rel":
        res = _toward(findings, focus, value)
        return res.anchors[0] if res is not None and len(res.anchors) == 1 else None
    if kind == "side":
        fits = [a for a in findings if a.side == value]
    elif kind == "lobe":
        fits = [a for a in findings if a.lobe == value or value in a.lobe_overlap]
    elif kind == "d":
        fits = [a for a in findings if value not in _DESCRIPTOR_FIT or _descriptor_fits(a, value)]
    else:
        return None
    return fits[0] if len(fits) == 1 else None


def named_findings(reg: Registry, q: Query) -> tuple[Anchor, ...]:
    """The findings the question names, in the order named ("compare A2 and A1", "the strand vs the nodule")."""
    out: list[Anchor] = []
    for mention in q.mentions:
        # "is A1 bigger than the other one?": other than the one named (not than the one in focus)
        rest = [a for a in reg.findings() if a not in out]
        a = (rest[0] if len(rest) == 1 else None) if mention == "other" and out else _mentioned(reg, mention, q)
        if a is not None and a.kind == "finding" and a not in out:
            out.append(a)
    return tuple(out)


def in_named_order(res: Resolution, named: tuple[Anchor, ...]) -> Resolution:
    """A resolution of two or more findings listed as the question named them, the rest after."""
    if res.outcome != "resolved" or len(res.anchors) < 2 or not named:
        return res
    first = tuple(a for a in named if a in res.anchors)
    return replace(res, anchors=first + tuple(a for a in res.anchors if a not in first))
