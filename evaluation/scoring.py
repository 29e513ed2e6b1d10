"""Scoring the findings layer against phantom truth (``truth.json``): matching findings to
truth lesions and the accuracy table. The truth only scores; ``analyse`` never sees it.

Used by ``tests/evaluation``, ``tests/orchestrator/findings/test_pieces.py`` and ``loadtests/``
(``score_findings``, ``calibrate_confidence``, ``margin_threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import ANATOMY_CLASSES
from orchestrator.facts import Finding, ImageFacts, PixelSpacing

ROUND_TYPES: frozenset[str] = frozenset({"nodule", "mass", "calcified_nodule", "cavity"})
MARGIN_TYPES: frozenset[str] = frozenset({"nodule", "mass", "cavity", "calcified_nodule"})
MATCH_EXTRA_MM = 10.0  # a finding matches a lesion whose centre lies within its radius + this


def truth_maps(case: Any) -> AnatomyMaps:
    """A phantom case's truth masks as AnatomyMaps (the stand-in for the encoder's output)."""
    return AnatomyMaps(
        image=np.asarray(case.image, dtype=np.float32),
        anatomy=np.asarray(case.masks, dtype=np.float32),
        lesion=np.asarray(case.lesion_mask, dtype=np.float32),
        hilum_px={k: (float(v[0]), float(v[1])) for k, v in case.hilum_px.items()},
        class_names=ANATOMY_CLASSES,
    )


def case_spacing(case: Any) -> PixelSpacing:
    row_mm, col_mm = case.pixel_spacing_mm
    return PixelSpacing(float(row_mm), float(col_mm), "dicom", "phantom truth spacing")


@dataclass
class Match:
    truth: dict[str, Any]
    finding: Finding | None
    center_error_mm: float = float("nan")


def _inside(f: Finding, x: float, y: float) -> bool:
    x0, y0, x1, y1 = f.bbox_px
    return x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1


def match_findings(facts: ImageFacts, lesions: Sequence[dict[str, Any]]) -> tuple[list[Match], list[Finding]]:
    """Greedy one-to-one matching by centre distance; a lesion whose centre lies within a
    finding's box, or within its radius + ``MATCH_EXTRA_MM``, may match it."""
    sp = facts.spacing
    pairs: list[tuple[float, int, int]] = []
    for i, t in enumerate(lesions):
        tx, ty = t["center_px"]
        for j, f in enumerate(facts.findings):
            d = math.hypot((f.center_px[0] - tx) * sp.col_mm, (f.center_px[1] - ty) * sp.row_mm)
            if _inside(f, tx, ty) or d <= f.longest_mm / 2 + MATCH_EXTRA_MM:
                pairs.append((d, i, j))
    pairs.sort()
    used_t: dict[int, tuple[int, float]] = {}
    used_f: set[int] = set()
    for d, i, j in pairs:
        if i in used_t or j in used_f:
            continue
        used_t[i] = (j, d)
        used_f.add(j)
    matches = [
        Match(t, facts.findings[used_t[i][0]], used_t[i][1]) if i in used_t else Match(t, None)
        for i, t in enumerate(lesions)
    ]
    extra = [f for j, f in enumerate(facts.findings) if j not in used_f]
    return matches, extra


@dataclass
class Tally:
    name: str
    ok: int = 0
    total: int = 0
    errors: list[float] = field(default_factory=list)

    def add(self, good: bool, error: float | None = None) -> None:
        self.total += 1
        self.ok += int(good)
        if error is not None:
            self.errors.append(error)

    @property
    def rate(self) -> float:
        return self.ok / self.total if self.total else float("nan")


@dataclass
class Score:
    tallies: dict[str, Tally]
    false_positives: int
    films: int
    failures: list[str] = field(default_factory=list)
    count_mismatch: int = 0  # films whose number of findings differs from the truth's number of lesions
    pieces: int = 0  # unmatched findings lying on a matched lesion (a lesion split into pieces)
    swallowed: int = 0  # missed lesions lying in the box of a finding matched to another lesion (merged away)

    def rate(self, name: str) -> float:
        return self.tallies[name].rate


CRITERIA: tuple[tuple[str, str], ...] = (
    ("detected", "truth lesions matched by a finding"),
    ("laterality", "side right"),
    ("lobe", "lobe right"),
    ("lobe_or_overlap", "lobe right, or the true lobe named as overlapping"),
    ("lobe_flagged", "findings flagged 'lobes overlap here' (lobe an estimate)"),
    ("zone", "zone right"),
    ("band", "band right"),
    ("diameter_15", "diameter within 15% (round lesions)"),
    ("diameter_20", "diameter within 20% (round lesions)"),
    ("strand_length_20", "strand length (longest) within 20%"),
    ("margin_ge10", "margin right (nodule-like >= 10 mm)"),
    ("hilum_3mm", "centre-to-hilum within 3 mm"),
    ("hilum_5mm", "centre-to-hilum within 5 mm"),
    ("center_5mm", "centre within 5 mm"),
    ("kind", "kind right (nodule, mass, strand, ...)"),
    ("costophrenic", "costophrenic angle right (blunted on an effusion's side)"),
    ("calcified", "calcified flag right"),
    ("cavity", "cavity flag right"),
    ("air_bronchogram", "air bronchogram 'yes' in consolidations"),
    ("no_false_air", "no air bronchogram 'yes' in other lesions"),
    ("no_false_bubble", "no bubble lucency in solid lesions"),
)


def score(results: Iterable[tuple[ImageFacts, Sequence[dict[str, Any]]]]) -> Score:
    tallies = {name: Tally(name) for name, _ in CRITERIA}
    fps = films = mismatch = pieces = swallowed = 0
    failures: list[str] = []
    for facts, lesions in results:
        films += 1
        matches, extra = match_findings(facts, lesions)
        fps += len(extra)
        mismatch += int(len(facts.findings) != len(lesions))
        pieces += sum(1 for f in extra if _on_matched_lesion(f, matches, facts.spacing))
        swallowed += sum(1 for m in matches if m.finding is None and _in_matched_finding(m.truth, matches))
        for m in matches:
            _score_one(m, tallies, failures)
        fluid = {t["side"] for t in lesions if t["type"] == "effusion"}
        for cp in facts.anatomy.costophrenic:
            want = "blunted" if cp.side in fluid else "sharp"
            tallies["costophrenic"].add(cp.state == want)
            if cp.state != want:
                failures.append(f"costophrenic {cp.side}: want {want} got {cp.state} ({cp.angle_deg} deg)")
    return Score(tallies, fps, films, failures, mismatch, pieces, swallowed)


def _on_matched_lesion(f: Finding, matches: Sequence[Match], sp: PixelSpacing) -> bool:
    """An unmatched finding whose centre lies within a matched truth lesion's radius + ``MATCH_EXTRA_MM``."""
    for m in matches:
        if m.finding is None:
            continue
        tx, ty = m.truth["center_px"]
        d = math.hypot((f.center_px[0] - tx) * sp.col_mm, (f.center_px[1] - ty) * sp.row_mm)
        if d <= float(m.truth["diameter_mm"]) / 2 + MATCH_EXTRA_MM:
            return True
    return False


def _in_matched_finding(truth: dict[str, Any], matches: Sequence[Match]) -> bool:
    """A missed truth lesion whose centre lies in the box of a finding that matched another lesion."""
    tx, ty = truth["center_px"]
    return any(m.finding is not None and _inside(m.finding, tx, ty) for m in matches)


def margin_scored(truth: dict[str, Any]) -> bool:
    """Whether a truth lesion's margin is scored (``margin_ge10``): nodule-like, >= 10 mm, margin known."""
    return truth["type"] in MARGIN_TYPES and bool(truth.get("margin")) and float(truth["diameter_mm"]) >= 10


def _score_one(m: Match, t: dict[str, Tally], failures: list[str]) -> None:
    truth, f = m.truth, m.finding
    t["detected"].add(f is not None)
    if f is None:
        failures.append(f"missed {truth['type']} {truth['lobe']} {truth['diameter_mm']} mm")
        return
    for key in ("side", "lobe", "zone", "band"):
        good = getattr(f, key) == truth[key]
        t["laterality" if key == "side" else key].add(good)
        if not good:
            overlap = f" (overlap {'/'.join(f.lobe_overlap)})" if key == "lobe" and f.lobe_overlap else ""
            failures.append(f"{key}: {truth['type']} truth {truth[key]} got {getattr(f, key)}{overlap}")
    t["lobe_or_overlap"].add(truth["lobe"] in (f.lobe, *f.lobe_overlap))
    t["lobe_flagged"].add(bool(f.lobe_overlap))
    t["center_5mm"].add(m.center_error_mm <= 5.0, m.center_error_mm)
    kind, d_true = truth["type"], float(truth["diameter_mm"])
    if kind in ROUND_TYPES and d_true > 0:
        err = abs(f.diameter_mm - d_true) / d_true
        t["diameter_15"].add(err <= 0.15, err)
        t["diameter_20"].add(err <= 0.20, err)
        if err > 0.15:
            failures.append(f"diameter: {kind} truth {d_true} got {f.diameter_mm}")
    if kind == "strand" and d_true > 0:
        t["strand_length_20"].add(abs(f.longest_mm - d_true) / d_true <= 0.2)
    if margin_scored(truth):
        good = f.margin == truth["margin"]
        t["margin_ge10"].add(good)
        if not good:
            failures.append(f"margin: {kind} {d_true} mm truth {truth['margin']} got {f.margin}")
    if f.hilum is not None and kind != "effusion":
        err = abs(f.hilum.center_distance_mm - float(truth["distance_to_hilum_mm"]))
        t["hilum_3mm"].add(err <= 3.0, err)
        t["hilum_5mm"].add(err <= 5.0, err)
        if err > 3.0:
            failures.append(f"hilum distance: {kind} truth {truth['distance_to_hilum_mm']} got {f.hilum.center_distance_mm}")
    _score_density(truth, f, t, failures)


def _score_density(truth: dict[str, Any], f: Finding, t: dict[str, Tally], failures: list[str]) -> None:
    kind = truth["type"]
    t["kind"].add(f.kind == kind)
    if f.kind != kind:
        failures.append(f"kind: truth {kind} {truth['diameter_mm']} mm got {f.kind}")
    t["calcified"].add(f.density.calcified == bool(truth.get("calcified")))
    t["cavity"].add(f.density.cavity == bool(truth.get("cavitation")))
    if kind == "consolidation":
        t["air_bronchogram"].add(f.density.air_bronchogram == "yes")
    else:
        t["no_false_air"].add(f.density.air_bronchogram != "yes")
    if kind in ("nodule", "mass", "calcified_nodule"):
        t["no_false_bubble"].add(not f.density.bubble_lucency)


def format_table(scores: dict[str, Score]) -> str:
    """A markdown table: one row per criterion, one column per input (truth maps, encoder)."""
    names = list(scores)
    head = "| criterion | " + " | ".join(names) + " |"
    sep = "| --- | " + " | ".join("---" for _ in names) + " |"
    rows = [head, sep]
    for key, label in CRITERIA:
        cells = []
        for n in names:
            tl = scores[n].tallies[key]
            cells.append(f"{tl.rate:.1%} ({tl.ok}/{tl.total})" if tl.total else "–")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows.append("| false-positive findings | " + " | ".join(str(scores[n].false_positives) for n in names) + " |")
    rows.append("| false positives per film | "
                + " | ".join(f"{scores[n].false_positives / max(scores[n].films, 1):.2f}" for n in names) + " |")
    rows.append("| ... of them pieces of a matched lesion | " + " | ".join(str(scores[n].pieces) for n in names) + " |")
    rows.append("| lesions lost inside another lesion's finding | "
                + " | ".join(str(scores[n].swallowed) for n in names) + " |")
    rows.append("| films where findings != truth lesions | "
                + " | ".join(str(scores[n].count_mismatch) for n in names) + " |")
    rows.append("| films | " + " | ".join(str(scores[n].films) for n in names) + " |")
    return "\n".join(rows)
