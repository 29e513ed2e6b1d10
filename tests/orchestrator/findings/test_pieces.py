"""Pieces of one lesion are one finding (issue 26): ``candidates.merge_pieces``.

The synthetic tests build a heatmap and a film by hand; the phantom tests run the committed
embedded encoder on phantom films and score the findings against the truth (which never feeds
the engine: ``analyse`` gets the encoder's maps and the film's spacing only).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import pytest

from orchestrator.facts import PixelSpacing
from orchestrator.findings.candidates import LINK_THRESHOLD, THRESHOLD, lesion_regions

SPACING = PixelSpacing(0.7, 0.7, "dicom")
SIZE = 160


def _band(angle_deg: float, length_mm: float, gap_mm: float, n: int = 3) -> np.ndarray:
    """``n`` parallel lines ``gap_mm`` apart at ``angle_deg`` (display convention), as a float image."""
    img = np.zeros((SIZE, SIZE), np.float32)
    th = math.radians(angle_deg)
    ux, uy = math.cos(th), -math.sin(th)  # along the lines (y grows downwards)
    nx, ny = -uy, ux
    half = length_mm / SPACING.col_mm / 2
    for k in range(n):
        off = (k - (n - 1) / 2) * gap_mm / SPACING.col_mm
        cx, cy = SIZE / 2 + off * nx, SIZE / 2 + off * ny
        p0 = (round(cx - half * ux), round(cy - half * uy))
        p1 = (round(cx + half * ux), round(cy + half * uy))
        cv2.line(img, p0, p1, 1.0, 3)
    return img


def _beads(mask_img: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """A soft heatmap of the band: ~0.3 along it (the pieces link at ``LINK_THRESHOLD``), ~1 on
    the kept beads (only those pass ``THRESHOLD``): what the half-resolution lesion head gives."""
    soft = cv2.GaussianBlur(mask_img, (0, 0), 2.0)
    soft = 0.35 * soft / soft.max()
    beads = cv2.GaussianBlur((mask_img * keep).astype(np.float32), (0, 0), 1.5)
    return np.maximum(soft, beads / beads.max())


def test_beads_of_one_band_of_strands_are_one_finding() -> None:
    band = _band(65.0, 25.0, 5.0)
    yy, _ = np.mgrid[:SIZE, :SIZE]
    keep = ((yy < 70) | (yy > 90)).astype(np.float32)  # the band's middle drops under 0.5
    heat = _beads(band, keep)
    film = 0.3 + 0.5 * cv2.GaussianBlur(band, (0, 0), 1.0)
    hm = cv2.GaussianBlur(heat, (0, 0), 0.7)
    pieces, _ = cv2.connectedComponents((hm >= THRESHOLD).astype(np.uint8))
    linked, _ = cv2.connectedComponents((hm >= LINK_THRESHOLD).astype(np.uint8))
    assert pieces - 1 >= 2 and linked - 1 == 1, "the test film must have pieces that link at the low level"
    regions = lesion_regions(heat, film, SPACING)
    assert len(regions) == 1, [(r.center, r.longest_mm) for r in regions]
    (one,) = regions
    assert one.strand_like and one.parts >= 2
    assert one.longest_mm >= 20.0, one.longest_mm  # the band's length, not a bead's


def _disc(cx: float, cy: float, r_px: float) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return (((xx - cx) ** 2 + (yy - cy) ** 2) <= r_px**2).astype(np.float32)


def test_two_round_nodules_linked_by_the_heatmap_stay_two() -> None:
    a, b = _disc(60, 80, 9), _disc(100, 80, 9)  # 6.3 mm radius each, 28 mm apart
    bridge = np.zeros((SIZE, SIZE), np.float32)
    bridge[76:85, 60:101] = 1.0
    heat = np.maximum(cv2.GaussianBlur(a + b, (0, 0), 1.0), 0.35 * bridge)
    film = 0.3 + 0.5 * cv2.GaussianBlur(a + b, (0, 0), 1.5)
    linked, _ = cv2.connectedComponents((cv2.GaussianBlur(heat, (0, 0), 0.7) >= LINK_THRESHOLD).astype(np.uint8))
    assert linked - 1 == 1, "the two nodules must link at the low level for this test to mean anything"
    regions = lesion_regions(heat, film, SPACING)
    assert len(regions) == 2
    assert all(not r.strand_like and r.parts == 1 for r in regions)


# --- the committed encoder on phantom films -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "scenario"), [
    (7, False), (7, True),
    # the scenario's other seed: the main weights alone find one finding too many, a 9.5 mm "nodule" on the aortic
    # knob (a false positive of their lesion map, not a piece of a lesion), which the second reader does not see
    (4, True),
], ids=["seed7", "seed7-scenario", "seed4-scenario"])
def test_seed7_finding_count_equals_the_truths_lesion_count(encoder: Any, second_reader: Any, seed: int,
                                                             scenario: bool) -> None:
    """Issue 26: seed 7's 25 mm strand came out as two findings ("A2 类圆形结节 10.7 × 4.6 mm" was
    a piece of it). Every truth lesion gets one finding and no finding is left over, the maps read as the service
    reads them (confirmed by the second reader); the scenario's other seed (4,
    tests/orchestrator/dialogue/test_scenario_e2e.py) is held to it too."""
    from encoder.phantom import generate_case, scenario_spec
    from evaluation.scoring import case_spacing, match_findings
    from orchestrator.contracts.preprocess import prepare_film
    from orchestrator.encoders.second_reader import confirmed
    from orchestrator.findings import analyse

    case = generate_case(seed, scenario_spec() if scenario else None)
    image, _ = prepare_film(case.image)
    maps = confirmed(encoder.encode(image), second_reader.encode(image), case_spacing(case))
    facts = analyse(maps, case_spacing(case))
    lesions = list(case.truth["lesions"])
    matches, extra = match_findings(facts, lesions)
    got = [(f.kind, f.center_px, f.longest_mm) for f in facts.findings]
    assert len(facts.findings) == len(lesions), got
    assert not extra and all(m.finding is not None for m in matches), got
    for m in matches:
        assert m.finding is not None and m.finding.side == m.truth["side"]
        if m.truth["type"] == "strand":  # one strand-like finding, as long as the strand within 20%
            assert m.finding.shape == "strand-like"
            assert abs(m.finding.longest_mm - m.truth["diameter_mm"]) <= 0.2 * m.truth["diameter_mm"], got
