"""Splitting opacities that overlap on the film (``candidates.split_merged``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from orchestrator.facts import PixelSpacing
from orchestrator.findings.candidates import measure, split_merged

SPACING = PixelSpacing(0.7, 0.7, "dicom")
YY, XX = np.mgrid[:200, :200]


def _disc(cx_px: float, r_mm: float) -> np.ndarray:
    return (XX - cx_px) ** 2 + (YY - 100) ** 2 <= (r_mm / SPACING.col_mm) ** 2


def _filled_waist(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """A closing fills the waist between two bodies, as the half-resolution lesion map does."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)


@pytest.mark.parametrize("fill_px", [0, 6, 12])
def test_two_similar_opacities_are_split_even_with_a_filled_waist(fill_px: int) -> None:
    both = _filled_waist(_disc(80, 10.0) | _disc(80 + 16 / SPACING.col_mm, 10.0), fill_px)
    parts = split_merged(measure(both, SPACING), SPACING)
    assert len(parts) == 2
    assert all(abs(p.diameter_mm - 20.0) <= 2.0 for p in parts), [p.diameter_mm for p in parts]
    centres = sorted(p.center[0] for p in parts)
    assert abs(centres[0] - 80) * SPACING.col_mm <= 1.5
    assert abs(centres[1] - (80 + 16 / SPACING.col_mm)) * SPACING.col_mm <= 1.5


def test_a_small_bump_on_one_opacity_is_not_split_off() -> None:
    bumped = _disc(80, 10.0) | _disc(80 + 13 / SPACING.col_mm, 4.5)
    assert len(split_merged(measure(bumped, SPACING), SPACING)) == 1
