"""ImageFacts survive a JSON round trip unchanged (sessions live in Redis as JSON)."""

from __future__ import annotations

import json

from orchestrator.facts import (
    AnatomyFacts,
    AnatomyRegion,
    CostophrenicAngle,
    Density,
    Finding,
    HilumRelation,
    ImageFacts,
    Notch,
    PixelSpacing,
    Spicule,
    from_jsonable,
    to_jsonable,
)


def _facts() -> ImageFacts:
    finding = Finding(
        id="F1", kind="nodule", shape="round", center_px=(120.5, 260.0), bbox_px=(110, 250, 131, 271),
        polygon_px=((110.0, 260.0), (120.0, 250.0), (131.0, 260.0), (120.0, 271.0)), area_mm2=113.0,
        diameter_mm=12.0, longest_mm=13.1, shortest_mm=11.2, orientation_deg=30.0, side="right", lobe="RML",
        zone="middle", band="outer", margin="spiculated", notches=(Notch(10, 1.2, (112.0, 252.0)),),
        spicules=(Spicule(3, 4.8, (131.0, 260.0), (138.0, 260.0)),),
        density=Density(True, 0.21, False, False, False, "uncertain"), pleural_contact=False,
        distance_to_pleura_mm=18.0, distance_to_diaphragm_mm=60.0,
        hilum=HilumRelation("right", (200.0, 230.0), 47.2, 30.1, (131.0, 258.0), (180.0, 240.0), "no", "uncertain"),
        confidence=0.93,
    )
    anatomy = AnatomyFacts(
        regions=(AnatomyRegion("hilum_right", (200.0, 230.0), (185, 210, 215, 250)),),
        hilum_px={"right": (200.0, 230.0), "left": (310.0, 232.0)},
        costophrenic=(CostophrenicAngle("left", (420.0, 440.0), 38.0, "sharp"),),
        cardiothoracic_ratio=0.47, heart_width_mm=140.0, thorax_width_mm=300.0,
    )
    return ImageFacts((512, 512), PixelSpacing(0.7, 0.7, "estimated", "from thorax width"), anatomy, (finding,))


def test_image_facts_round_trip_through_json() -> None:
    facts = _facts()
    text = json.dumps(to_jsonable(facts))
    assert from_jsonable(ImageFacts, json.loads(text)) == facts
