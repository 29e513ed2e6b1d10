"""Where each stated measurement lies, kept in the facts so that the answers can draw it: the two ends of a finding's
distance to the pleura and to the diaphragm, the two widths of the cardiothoracic ratio, a costophrenic angle's two
arms. Each drawn line measures what the answer states (before, the facts carried the numbers alone and the page drew a
dot, or nothing)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evaluation.synthetic import disc_mask, synthetic_maps
from orchestrator.facts import ImageFacts, PixelSpacing, Point, from_jsonable, to_jsonable
from orchestrator.findings import analyse
from orchestrator.findings.relations import nearest_ends

SHAPE = (512, 512)
SPACING = PixelSpacing(0.7, 0.7, "dicom")


@pytest.fixture(scope="module")
def facts() -> ImageFacts:
    return analyse(synthetic_maps([disc_mask(SHAPE, (110, 250), 9), disc_mask(SHAPE, (360, 300), 8)]), SPACING)


def _mm(a: Point, b: Point) -> float:
    return math.hypot((a[0] - b[0]) * SPACING.col_mm, (a[1] - b[1]) * SPACING.row_mm)


def test_a_findings_distances_carry_their_ends(facts: ImageFacts) -> None:
    half_px = 0.5 * SPACING.row_mm  # the pleura's distance is measured to the edge of the lung's last pixel
    for f in facts.findings:
        assert f.pleura_px is not None and f.diaphragm_px is not None
        assert _mm(*f.pleura_px) - half_px == pytest.approx(f.distance_to_pleura_mm, abs=0.15)
        assert _mm(*f.diaphragm_px) == pytest.approx(f.distance_to_diaphragm_mm, abs=0.15)
        (x, y), _ = f.pleura_px
        x0, y0, x1, y1 = f.bbox_px
        assert x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1  # one end on the lesion


def test_the_ratios_widths_and_the_angles_arms_are_where_they_were_measured(facts: ImageFacts) -> None:
    a = facts.anatomy
    assert a.heart_span_px is not None and a.thorax_span_px is not None
    for span, width in ((a.heart_span_px, a.heart_width_mm), (a.thorax_span_px, a.thorax_width_mm)):
        (x0, y0), (x1, y1) = span
        assert y0 == y1 and (x1 - x0) * SPACING.col_mm == pytest.approx(width, abs=0.05)  # horizontal, the width
    for c in a.costophrenic:
        assert c.wall_px is not None and c.floor_px is not None
        u = np.array([(c.wall_px[0] - c.point_px[0]) * SPACING.col_mm, (c.wall_px[1] - c.point_px[1]) * SPACING.row_mm])
        v = np.array([(c.floor_px[0] - c.point_px[0]) * SPACING.col_mm, (c.floor_px[1] - c.point_px[1]) * SPACING.row_mm])
        between = math.degrees(math.acos(float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))))
        assert between == pytest.approx(c.angle_deg, abs=0.1)  # the arms the degrees are measured between
        assert c.wall_px[1] < c.point_px[1]  # the wall arm goes up


def test_the_ends_survive_the_json_round_trip(facts: ImageFacts) -> None:
    back = from_jsonable(ImageFacts, json.loads(json.dumps(to_jsonable(facts))))
    assert back == facts and back.findings[0].pleura_px == facts.findings[0].pleura_px


def test_facts_stored_before_the_ends_load_without_them(facts: ImageFacts) -> None:
    doc = to_jsonable(facts)
    for f in doc["findings"]:
        del f["pleura_px"], f["diaphragm_px"]
    for c in doc["anatomy"]["costophrenic"]:
        del c["wall_px"], c["floor_px"]
    del doc["anatomy"]["heart_span_px"], doc["anatomy"]["thorax_span_px"]
    old = from_jsonable(ImageFacts, doc)
    assert old.findings[0].pleura_px is None and old.anatomy.heart_span_px is None
    assert old.anatomy.costophrenic[0].wall_px is None


def test_nearest_ends_of_two_masks() -> None:
    a, b = np.zeros(SHAPE, bool), np.zeros(SHAPE, bool)
    a[100:110, 100:110] = True
    b[100:110, 130:140] = True
    ends = nearest_ends(a, b, SPACING, 20 * 0.7)
    assert ends is not None and ends[0][0] == 109 and ends[1][0] == 130 and ends[0][1] == ends[1][1]
    assert nearest_ends(a, b, SPACING, float("nan")) is None
    assert nearest_ends(np.zeros(SHAPE, bool), b, SPACING, 5.0) is None
