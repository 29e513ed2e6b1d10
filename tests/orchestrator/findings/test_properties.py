"""Property tests (hypothesis) for the findings geometry: symmetric distances, clock positions
that rotate with the image, discs without notches, stars with one spike per point."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from evaluation.synthetic import disc_mask, lobulated_mask, star_mask
from orchestrator.facts import PixelSpacing
from orchestrator.findings.geometry import point_distance_mm
from orchestrator.findings.margin import assess_margin, clock_of
from orchestrator.findings.relations import nearest_points_mm

SHAPE = (128, 128)
spacings = st.builds(
    lambda r, c: PixelSpacing(r, c, "dicom"), st.floats(0.2, 1.5), st.floats(0.2, 1.5)
)
coords = st.floats(-1000, 1000, allow_nan=False)


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


@given(coords, coords, coords, coords, spacings)
def test_point_distance_is_symmetric(ax: float, ay: float, bx: float, by: float, sp: PixelSpacing) -> None:
    assert point_distance_mm((ax, ay), (bx, by), sp) == point_distance_mm((bx, by), (ax, ay), sp)
    assert point_distance_mm((ax, ay), (ax, ay), sp) == 0.0


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(st.floats(15, 110), st.floats(15, 110)),
    st.tuples(st.floats(15, 110), st.floats(15, 110)),
    st.floats(2, 12),
    st.floats(2, 12),
    spacings,
)
def test_mask_distance_is_symmetric(
    ca: tuple[float, float], cb: tuple[float, float], ra: float, rb: float, sp: PixelSpacing
) -> None:
    a, b = disc_mask(SHAPE, ca, ra), disc_mask(SHAPE, cb, rb)
    d_ab, pa, pb = nearest_points_mm(a, b, sp)
    d_ba, qb, qa = nearest_points_mm(b, a, sp)
    assert abs(d_ab - d_ba) < 1e-9
    assert d_ab >= 0.0
    # the reported points realise the distance
    assert abs(point_distance_mm(pa, pb, sp) - d_ab) < 1e-6


@given(st.floats(-50, 50), st.floats(-50, 50))
def test_clock_of_rotates_by_three_hours_per_quarter_turn(dx: float, dy: float) -> None:
    if abs(dx) + abs(dy) < 1e-3:
        return
    h = clock_of((0.0, 0.0), (dx, dy))
    # a quarter turn clockwise on the display: (x, y) -> (-y, x) with y pointing down
    h_rot = clock_of((0.0, 0.0), (-dy, dx))
    assert h_rot == (h + 3 - 1) % 12 + 1
    assert clock_of((0, 0), (0, -5)) == 12 and clock_of((0, 0), (5, 0)) == 3
    assert clock_of((0, 0), (0, 5)) == 6 and clock_of((0, 0), (-5, 0)) == 9


def _clock_distance(a: int, b: int) -> int:
    d = abs(a - b) % 12
    return min(d, 12 - d)


def _rotated_clocks(mask: np.ndarray, sp: PixelSpacing, turns: int) -> tuple[list[int], list[int], list[int]]:
    base = assess_margin(mask, _centroid(mask), sp)
    rot = np.rot90(mask, k=-turns)  # clockwise on the display
    rot_sp = sp if turns % 2 == 0 else PixelSpacing(sp.col_mm, sp.row_mm, sp.source)
    after = assess_margin(np.ascontiguousarray(rot), _centroid(rot), rot_sp)
    expected = sorted((n.clock + 3 * turns - 1) % 12 + 1 for n in base.notches)
    got = sorted(n.clock for n in after.notches)
    spikes = sorted((s.clock + 3 * turns - 1) % 12 + 1 for s in base.spicules), sorted(s.clock for s in after.spicules)
    return expected + spikes[0], got + spikes[1], [len(base.notches), len(after.notches)]


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 6), st.floats(0, 6.28), st.integers(1, 3), st.floats(14, 30))
def test_notch_clock_positions_rotate_with_the_image(lobes: int, phase: float, turns: int, radius: float) -> None:
    sp = PixelSpacing(0.7, 0.7, "dicom")
    mask = lobulated_mask(SHAPE, (64.3, 63.7), radius, lobes, 0.4, phase)
    expected, got, counts = _rotated_clocks(mask, sp, turns)
    assert counts[0] == counts[1] == lobes
    assert all(_clock_distance(a, b) <= 0 for a, b in zip(expected, got, strict=True)) or all(
        min(_clock_distance(a, g) for g in got) <= 1 for a in expected
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 9), st.floats(0, 6.28), st.integers(1, 3))
def test_spicule_clock_positions_rotate_with_the_image(points: int, phase: float, turns: int) -> None:
    sp = PixelSpacing(0.7, 0.7, "dicom")
    mask = star_mask(SHAPE, (64.2, 63.6), 14, points, 12, phase)
    expected, got, _ = _rotated_clocks(mask, sp, turns)
    assert len(expected) == len(got)
    assert all(min(_clock_distance(a, g) for g in got) <= 1 for a in expected)


@settings(max_examples=60, deadline=None)
@given(st.floats(3, 45), st.floats(0, 1), st.floats(0, 1), st.sampled_from([0.35, 0.5, 0.7, 1.0]))
def test_a_disc_has_no_notches_and_no_spikes(radius: float, fx: float, fy: float, mm: float) -> None:
    sp = PixelSpacing(mm, mm, "dicom")
    mask = disc_mask(SHAPE, (64 + fx, 64 + fy), radius)
    m = assess_margin(mask, _centroid(mask), sp)
    assert m.notches == () and m.spicules == () and m.margin == "smooth"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(3, 10),
    st.floats(8, 24),
    st.floats(2.5, 6),
    st.floats(0, 6.28),
    st.floats(2, 4),
    st.sampled_from([0.5, 0.7, 1.0]),
)
def test_a_star_has_as_many_spikes_as_points(
    points: int, radius: float, slender: float, phase: float, base_px: float, mm: float
) -> None:
    """Spikes 2-4 px wide at the base and 2.5-6 times as long as wide (a stubby bump is not a
    spicule; thinner spikes do not survive rasterisation)."""
    spike_px = slender * base_px
    assume(points * base_px <= math.pi * radius)  # bases cover at most half the rim: separate spikes
    sp = PixelSpacing(mm, mm, "dicom")
    half_width = math.degrees(base_px / 2 / radius)
    mask = star_mask(SHAPE, (64.3, 63.8), radius, points, spike_px, phase, half_width)
    m = assess_margin(mask, _centroid(mask), sp)
    assert len(m.spicules) == points
    assert m.margin == "spiculated"
    # lengths in mm are about the spike length beyond the disc
    assert all(abs(s.length_mm - spike_px * mm) <= 0.35 * spike_px * mm + mm for s in m.spicules)
