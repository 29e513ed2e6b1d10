"""orchestrator/findings/geometry.py's mask operations."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from orchestrator.findings.geometry import CP_REACH_MM, Lung, _cp_point, dilate, erode


def test_opencv_erode_and_dilate_are_scipys_binary_morphology() -> None:
    """The fast masks ops (geometry.erode / dilate) give scipy.ndimage's answers, borders included."""
    rng = np.random.default_rng(1)
    for _ in range(30):
        m = rng.random((64, 80)) < rng.uniform(0.2, 0.9)
        m[0, :] = True  # a full edge row: the outside of the image counts as False for both
        assert (erode(m) == ndimage.binary_erosion(m)).all()
        for k in (1, 2, 8):
            assert (dilate(m, k) == ndimage.binary_dilation(m, iterations=k)).all()


def _left_lung_over_a_recess(stop_row: int) -> tuple[Lung, dict[int, int]]:
    """A left lung field (image right, lateral wall at column 300) over a floor that is flat medially and
    dips at 45 degrees into a lateral recess whose tip is at row 300, column 300; the field follows the
    floor but ends at ``stop_row`` (as a field drawn to the dome ends short of the recess's tip)."""
    size = 400
    top = {c: 260 + max(0, c - 260) for c in range(150, 301)}
    ys, xs = np.mgrid[:size, :size]
    floor = np.array([top.get(c, 0) for c in range(size)])
    mask = (ys >= 100) & (xs >= 150) & (xs <= 300) & (ys < floor[None, :]) & (ys < stop_row)
    return Lung("left", mask, 100, int(np.nonzero(mask.any(axis=1))[0].max())), top


def test_the_recess_is_found_when_the_field_stops_just_short_of_its_tip() -> None:
    """A field drawn to the dome (visible-field weights) can end a few pixels above the recess's tip; the
    costophrenic point is still the tip, not a point further up the floor towards its flat part (where
    the angle opens and a sharp recess reads as blunt)."""
    reach = round(CP_REACH_MM / 0.7)  # 6 px
    lung, top = _left_lung_over_a_recess(stop_row=296)  # 4 px short of the tip
    assert _cp_point(lung, top, reach) == (300, 300)
    assert _cp_point(lung, top, 0) == (296, 296)  # the row just above the floor alone slides up the slope
    lung, top = _left_lung_over_a_recess(stop_row=290)  # 10 px short: the reach goes 6 px down, not to the tip
    assert _cp_point(lung, top, reach) == (296, 296) and _cp_point(lung, top, 0) == (290, 290)
    lung, top = _left_lung_over_a_recess(stop_row=400)  # a field that runs on to the floor: unchanged
    assert _cp_point(lung, top, reach) == _cp_point(lung, top, 0) == (300, 300)
