"""Reads done in a lesion's (or region's) window give the film's numbers exactly: centroids,
regions, distances to the pleura and the diaphragm, density reads, margins and the gap to the
hilum, checked against the same computation on the whole film, for lesions in the middle, at
the film's edges and at its corners, with isotropic and anisotropic pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.synthetic import disc_mask, lobulated_mask, star_mask
from orchestrator.facts import PixelSpacing
from orchestrator.findings import density, margin, relations
from orchestrator.findings.geometry import region_of
from orchestrator.findings.windows import bounding_box, centroid, padded, window

SHAPE = (160, 200)
ISO = PixelSpacing(0.7, 0.7, "dicom")
ANISO = PixelSpacing(0.6, 0.85, "dicom")
# lesion centres: the middle, near an edge, in a corner, half off the film
CENTRES = [(100.0, 80.0), (6.0, 80.0), (194.0, 155.0), (3.0, 2.0), (120.0, 158.0)]


def _lesion(kind: str, center: tuple[float, float]) -> np.ndarray:
    if kind == "star":
        return star_mask(SHAPE, center, 9.0, 5, 7.0, phase=0.3)
    if kind == "lobulated":
        return lobulated_mask(SHAPE, center, 12.0, 4, 0.35)
    return disc_mask(SHAPE, center, 8.5)


def _film(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random(SHAPE, dtype=np.float32), (0, 0), 2.0)


def _lung() -> np.ndarray:
    m = np.zeros(SHAPE, dtype=bool)
    m[10:150, 0:150] = True
    m[40:90, 60:90] = False  # a hole: the nearest outside pixel is not always the film's edge
    return m


@given(st.integers(0, 2**31 - 1), st.floats(0.001, 0.2))
@settings(max_examples=40, deadline=None)
def test_centroid_and_box_equal_the_pixels_means_and_extremes(seed: int, fill: float) -> None:
    mask = np.random.default_rng(seed).random(SHAPE) < fill
    ys, xs = np.nonzero(mask)
    if not len(xs):
        assert bounding_box(mask) is None
        assert all(np.isnan(centroid(mask)))
        return
    assert centroid(mask) == (float(xs.mean()), float(ys.mean()))
    assert bounding_box(mask) == (xs.min(), ys.min(), xs.max(), ys.max())


def test_window_is_the_padded_box_clipped_to_the_film() -> None:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[2:5, 190:199] = True
    assert padded((190, 2, 198, 4), 3, SHAPE) == (slice(0, 8), slice(187, 200))
    assert window(mask, 3) == (slice(0, 8), slice(187, 200))
    assert window(np.zeros(SHAPE, dtype=bool), 3) == (slice(0, SHAPE[0]), slice(0, SHAPE[1]))


@pytest.mark.parametrize("center", CENTRES)
def test_region_equals_the_whole_films_moments_and_contour(center: tuple[float, float]) -> None:
    mask = _lesion("lobulated", center)
    region = region_of("x", mask)
    assert region is not None
    mo = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    assert region.center_px == (mo["m10"] / mo["m00"], mo["m01"] / mo["m00"])
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    poly = cv2.approxPolyDP(max(cs, key=cv2.contourArea), 1.5, True)
    assert region.polygon_px == tuple((float(p[0][0]), float(p[0][1])) for p in poly)


@pytest.mark.parametrize("spacing", [ISO, ANISO])
@pytest.mark.parametrize("center", CENTRES)
def test_distances_to_pleura_and_diaphragm_equal_the_whole_films_transform(
        center: tuple[float, float], spacing: PixelSpacing) -> None:
    mask, lung = _lesion("disc", center), _lung()
    inside = mask & lung
    if inside.any():
        film = float(relations.edt_mm(lung, spacing)[inside].min())
        assert relations.min_edt_mm(inside, lung, spacing) == film
    diaphragm = np.zeros(SHAPE, dtype=bool)
    diaphragm[150:, :] = True
    if mask.any() and not (mask & diaphragm).any():
        film = float(relations.edt_mm(~diaphragm, spacing)[mask].min())
        assert relations.distance_to_mask_mm(mask, diaphragm, spacing) == film


@pytest.mark.parametrize("spacing", [ISO, ANISO])
def test_a_distance_beyond_the_first_window_is_still_the_films(spacing: PixelSpacing) -> None:
    lung = np.ones(SHAPE, dtype=bool)
    lung[:, :2] = False  # the only outside: the first two columns, far from the lesion
    mask = disc_mask(SHAPE, (150.0, 80.0), 4.0)
    assert relations.min_edt_mm(mask, lung, spacing) == float(relations.edt_mm(lung, spacing)[mask].min())


@pytest.mark.parametrize("kind", ["disc", "star", "lobulated"])
@pytest.mark.parametrize("center", CENTRES)
def test_density_read_equals_the_read_on_the_whole_film(kind: str, center: tuple[float, float]) -> None:
    image, mask, lung = _film(1), _lesion(kind, center), _lung()
    if not mask.any():
        return
    others = disc_mask(SHAPE, (center[0] + 25.0, center[1]), 6.0) & ~mask
    ring = density.ring_mask(mask, lung, ISO, others)
    if not ring.any():
        return
    film = density._read(image, mask, ring, ISO, 14.0, linear=False)
    assert density.read_density(image, mask, lung, ISO, 14.0, others) == film


@pytest.mark.parametrize("spacing", [ISO, ANISO])
@pytest.mark.parametrize("kind", ["star", "lobulated"])
@pytest.mark.parametrize("center", CENTRES)
def test_margin_read_equals_the_read_on_the_whole_film(kind: str, center: tuple[float, float],
                                                     spacing: PixelSpacing) -> None:
    mask = _lesion(kind, center)
    if mask.sum() < 20:
        return
    ys, xs = np.nonzero(mask)
    c = (float(xs.mean()), float(ys.mean()))
    hidden = np.zeros(SHAPE, dtype=bool)
    hidden[:, : int(c[0])] = True  # half the edge cut by another opacity
    for cut in (None, hidden):
        film = margin._assess(mask, c, spacing, cut, (slice(0, SHAPE[0]), slice(0, SHAPE[1])))
        windowed = margin.assess_margin(mask, c, spacing, cut)
        assert windowed == film
        assert np.array_equal(windowed.core, film.core)


@pytest.mark.parametrize("center", CENTRES)
def test_gap_to_the_hilum_equals_the_whole_films(center: tuple[float, float]) -> None:
    mask = _lesion("disc", center)
    hilum = disc_mask(SHAPE, (90.0, 70.0), 6.0)
    if not mask.any():
        return
    gap, a, b = relations.nearest_points_mm(mask, hilum, ANISO)
    pa = np.argwhere(relations._edge(mask)).astype(np.float64)
    pb = np.argwhere(relations._edge(hilum)).astype(np.float64)
    scale = np.array([ANISO.row_mm, ANISO.col_mm])
    d = np.sqrt((((pa[:, None, :] - pb[None, :, :]) * scale) ** 2).sum(-1))
    assert gap == pytest.approx(float(d.min()), abs=1e-9)
    assert mask[int(a[1]), int(a[0])] and hilum[int(b[1]), int(b[0])]
    assert relations.point_distance_mm(a, b, ANISO) == pytest.approx(gap, abs=1e-9)
