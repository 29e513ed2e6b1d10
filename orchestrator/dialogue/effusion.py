"""How much fluid: how high an effusion-like opacity reaches up its side, and what an upright frontal film grades it.

The height is measured from the side's costophrenic angle (or the opacity's foot, whichever is lower) to the
opacity's top, as a share of the side's apex-to-angle height; the usual rough grading of an upright frontal film:
blunting and a low meniscus small, up to about the hilum moderate, above half the hemithorax large. A frontal film
grades an effusion only roughly and measures no volume (some 200 mL can lie behind a dome before the angle blunts; a
supine film spreads fluid behind the lung). Said by the sign answer ("is there an effusion?", "how much fluid?"), the
size answer, and as a row of the turn's and the report's measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.dialogue.words import pleural_space, word
from orchestrator.facts import Finding, ImageFacts

EFFUSION_GRADES: tuple[tuple[float, str, str], ...] = ((0.25, "少量", "small"), (0.5, "中量", "moderate"),
                                                       (1.01, "大量", "large"))
EXTENT_CAVEAT = ("正位片只能粗略分级积液,不能测量积液量(胸腔超声或CT可以)",
                 "a frontal film grades an effusion only roughly and measures no volume (pleural ultrasound or CT does)")


@dataclass(frozen=True)
class EffusionExtent:
    """How far up its side an effusion-like opacity reaches: mm above the angle (or the opacity's foot, whichever
    is lower), the share of the side's apex-to-angle height, and the grade an upright frontal film gives that."""

    height_mm: float
    share: float
    grade_zh: str
    grade_en: str


def effusion_extent(f: Finding, facts: ImageFacts) -> EffusionExtent | None:
    """None for a finding that is no effusion, or where the side's apex or angle was not found (the height has nothing
    to be a share of)."""
    if f.kind != "effusion":
        return None
    apex = facts.anatomy.apex_px.get(f.side)
    angle = next((c for c in facts.anatomy.costophrenic if c.side == f.side and c.state != "not_assessable"), None)
    if apex is None or angle is None:
        return None
    foot = max(angle.point_px[1], f.bbox_px[3])
    span = foot - apex[1]
    if span <= 0:
        return None
    share = min(max((foot - f.bbox_px[1]) / span, 0.0), 1.0)
    zh, en = next((z, e) for limit, z, e in EFFUSION_GRADES if share < limit)
    return EffusionExtent((foot - f.bbox_px[1]) * facts.spacing.row_mm, share, zh, en)


def effusion_measurement(anchor_id: str, f: Finding, facts: ImageFacts) -> dict[str, Any] | None:
    """The height as a row of the turn's (and the report's) measurements: mm above the angle, the share of the side's
    height and the upright-film grade; no points (the SR codes distances between two points; this is a height, which it
    does not carry)."""
    ext = effusion_extent(f, facts)
    if ext is None:
        return None
    return {"kind": "effusion_height", "of": anchor_id, "mm": round(ext.height_mm, 1), "share": round(ext.share, 2),
            "grade": ext.grade_en, "spacing_source": facts.spacing.source}


def effusion_heights(pairs: list[tuple[Any, Finding]] | tuple[tuple[Any, Finding], ...],
                     facts: ImageFacts) -> tuple[dict[str, Any], ...]:
    """The height rows of the effusions among (anchor, finding) pairs."""
    return tuple(m for a, f in pairs if (m := effusion_measurement(a.id, f, facts)) is not None)


def effusion_extent_text(f: Finding, facts: ImageFacts) -> tuple[str, str]:
    """(zh, en) of how high an effusion-like opacity reaches and what an upright film grades it ("自左肋膈角向上约
    41 mm...", "about 41 mm up from the left costophrenic angle..."), or empty where the height has no measure."""
    ext = effusion_extent(f, facts)
    if ext is None:
        return "", ""
    pct = round(ext.share * 100)
    side_zh, side_en = word("side", f.side, "zh"), word("side", f.side, "en")
    return (f"自{side_zh}肋膈角向上约{ext.height_mm:.0f} mm,约占{pleural_space(f.side, 'zh')}高度的{pct}%,"
            f"立位正位片上相当于{ext.grade_zh}积液",
            f"about {ext.height_mm:.0f} mm up from the {side_en} costophrenic angle ({pct}% of the {side_en} hemithorax's "
            f"height): on an upright frontal film, a {ext.grade_en} effusion")
