"""Relations of a lesion to anatomy: centre-to-hilum distance, the gap to the nearest hilar
structure, whether a soft-tissue band connects them, distance to the pleura and diaphragm.
All distances in mm with the film's pixel spacing (row and column spacing may differ).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

import cv2
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from orchestrator.facts import HilumRelation, Overlying, PixelSpacing, Point, Tri
from orchestrator.findings.geometry import Geometry, dilate, erode, point_distance_mm
from orchestrator.findings.windows import bounding_box, origin, padded, window

CONTACT_MM = 1.0
# what a finding is said to be projected over: the first of these covering at least OVERLIE_SHARE of its region (the
# phantom's order for a lesion placed hidden, encoder/phantom/case.py HIDING_CLASSES)
OVERLYING: tuple[Overlying, ...] = get_args(Overlying)  # ("diaphragm", "heart", "mediastinum"), in that order
OVERLIE_SHARE = 0.5
BAND_FRACTION = 0.5  # the path must stay this fraction of the lesion contrast above the lung


def nearest_points_mm(a: np.ndarray, b: np.ndarray, spacing: PixelSpacing) -> tuple[float, Point, Point]:
    """Smallest distance in mm between two bool masks (0 when they touch/overlap), and the two
    points (x, y) realising it. Symmetric: swapping a and b swaps the points only."""
    win = window(a | b, 1)  # read round both (a pixel of background for the edges), as on the film
    a, b, (x0, y0) = a[win], b[win], origin(win)
    if (a & b).any():
        ys, xs = np.nonzero(a & b)
        p = (float(xs[0] + x0), float(ys[0] + y0))
        return 0.0, p, p
    pa = (np.argwhere(_edge(a)) + (y0, x0)).astype(np.float64)
    pb = (np.argwhere(_edge(b)) + (y0, x0)).astype(np.float64)
    scale = np.array([spacing.row_mm, spacing.col_mm])
    tree = cKDTree(pb * scale)
    d, j = tree.query(pa * scale)
    i = int(np.argmin(d))
    ya, xa = pa[i]
    yb, xb = pb[int(j[i])]
    return float(d[i]), (float(xa), float(ya)), (float(xb), float(yb))


def outline_gap_mm(a: tuple[Point, ...], b: tuple[Point, ...], shape: tuple[int, int],
                   spacing: PixelSpacing) -> tuple[float, Point, Point]:
    """``nearest_points_mm`` of two outlines (polygons in working pixels, (x, y)) on a film of ``shape`` (h, w):
    the gap between their edges in mm (0 where they touch or overlap in projection) and its two ends."""
    return nearest_points_mm(filled(a, shape), filled(b, shape), spacing)


def filled(poly: tuple[Point, ...], shape: tuple[int, int]) -> np.ndarray:
    """The polygon (working pixels, (x, y)) filled on a film of ``shape`` (h, w)."""
    m = np.zeros((int(shape[0]), int(shape[1])), np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(poly, np.float64)).astype(np.int32)], 1)
    return m.astype(bool)


def share_within(a: tuple[Point, ...], b: tuple[Point, ...], shape: tuple[int, int]) -> float:
    """The share of outline ``a``'s area that lies within outline ``b`` in projection (0 for an empty ``a``)."""
    inside = filled(a, shape)
    area = int(inside.sum())
    return float((inside & filled(b, shape)).sum()) / area if area else 0.0


def _edge(m: np.ndarray) -> np.ndarray:
    e = m & ~erode(m)
    return e if e.any() else m


def edt_mm(inside: np.ndarray, spacing: PixelSpacing) -> np.ndarray:
    """Distance in mm from each True pixel to the nearest False one (OpenCV's exact transform
    when the spacing is isotropic, SciPy's otherwise)."""
    if abs(spacing.row_mm - spacing.col_mm) < 1e-9:
        d = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return d.astype(np.float64) * spacing.row_mm
    return ndimage.distance_transform_edt(inside, sampling=(spacing.row_mm, spacing.col_mm))


FIRST_PAD_PX = 24  # the first window's margin round the mask (doubled until the answer is inside it)


def min_edt_mm(mask: np.ndarray, region: np.ndarray, spacing: PixelSpacing, outside: bool = False) -> float:
    """The smallest, over the mask's pixels, of the distance to the nearest pixel not in ``region``
    (of ``~region`` when ``outside``): ``edt_mm(region)[mask].min()``, read in a window round the
    mask. A pixel beyond a window padded by ``pad`` lies at least ``pad + 1`` pixels from every
    mask pixel, so an answer within ``pad`` pixels is the film's; otherwise (or when the window has
    no pixel outside the region, where the transforms have nothing to measure to) the window
    doubles."""
    box = bounding_box(mask)
    if box is None:
        return float("inf")
    step = min(spacing.row_mm, spacing.col_mm)
    pad = FIRST_PAD_PX
    while True:
        win = padded(box, pad, mask.shape)
        part = ~region[win] if outside else region[win]
        whole = win[0].stop - win[0].start == mask.shape[0] and win[1].stop - win[1].start == mask.shape[1]
        if whole or not part.all():
            d = float(edt_mm(part, spacing)[mask[win]].min())
            if whole or d <= pad * step:
                return d
        pad *= 2


def projected_over(mask: np.ndarray, structures: Mapping[str, np.ndarray]) -> Overlying | None:
    """The first of ``OVERLYING`` whose map (``structures``: name -> bool mask) covers at least ``OVERLIE_SHARE`` of
    the region ``mask``; None where none does (the open lung field)."""
    win = window(mask, 0)
    part = mask[win]
    size = int(part.sum())
    if not size:
        return None
    return next((name for name in OVERLYING
                 if name in structures and int((part & structures[name][win]).sum()) >= OVERLIE_SHARE * size), None)


def distance_to_outside_mm(mask: np.ndarray, region: np.ndarray, spacing: PixelSpacing) -> float:
    """Smallest distance from the mask to the outside of ``region`` (e.g. the lung's pleura)."""
    inside = mask & region
    if not inside.any():
        return 0.0
    return float(max(0.0, min_edt_mm(inside, region, spacing) - 0.5 * min(spacing.row_mm, spacing.col_mm)))


def nearest_ends(mask: np.ndarray, target: np.ndarray, spacing: PixelSpacing,
                 reach_mm: float) -> tuple[Point, Point] | None:
    """The two points (x, y) realising the smallest distance from ``mask`` to ``target`` (``nearest_points_mm``),
    looked for within ``reach_mm`` of the mask (and a few pixels more): the ends of a distance already measured
    (``distance_to_outside_mm`` with ``target`` the region's outside, ``distance_to_mask_mm``), to draw it. None where
    the distance is not finite or nothing of either lies in that window."""
    box = bounding_box(mask)
    if box is None or not np.isfinite(reach_mm):
        return None
    win = padded(box, int(np.ceil(reach_mm / min(spacing.row_mm, spacing.col_mm))) + 3, mask.shape)
    a, b = mask[win], target[win]
    if not a.any() or not b.any():
        return None
    _, p, q = nearest_points_mm(a, b, spacing)
    x0, y0 = origin(win)
    return (p[0] + x0, p[1] + y0), (q[0] + x0, q[1] + y0)


def distance_to_mask_mm(mask: np.ndarray, target: np.ndarray, spacing: PixelSpacing) -> float:
    """Smallest distance from the mask to ``target`` (0 when they touch)."""
    if not target.any() or not mask.any():
        return float("nan")
    if (mask & target).any():
        return 0.0
    return min_edt_mm(mask, target, spacing, outside=True)


def hilum_relation(
    geom: Geometry, side: str, mask: np.ndarray, center: Point, image: np.ndarray, contrast: float
) -> HilumRelation | None:
    hp = geom.hilum_px.get(side)
    if hp is None:
        return None
    hilum = geom.mask(f"hilum_{side}")
    if not hilum.any():
        hilum = np.zeros_like(mask)
        h, w = mask.shape
        hilum[int(np.clip(round(hp[1]), 0, h - 1)), int(np.clip(round(hp[0]), 0, w - 1))] = True
    gap, p_from, p_to = nearest_points_mm(mask, hilum, geom.spacing)
    connected = _band(image, mask, p_from, p_to, gap, contrast)
    return HilumRelation(
        side=side,  # type: ignore[arg-type]
        hilum_px=hp,
        center_distance_mm=round(point_distance_mm(center, hp, geom.spacing), 1),
        gap_mm=round(gap, 1),
        gap_from_px=p_from,
        gap_to_px=p_to,
        connected=connected,
        bronchus_cut_off="uncertain",
    )


def _band(image: np.ndarray, mask: np.ndarray, a: Point, b: Point, gap_mm: float, contrast: float) -> Tri:
    """Is there a continuous soft-tissue band along the gap? Reads the image along the line."""
    if gap_mm <= CONTACT_MM:
        return "yes"
    n = max(int(np.hypot(b[0] - a[0], b[1] - a[1])) * 2, 2)
    xs = np.linspace(a[0], b[0], n)
    ys = np.linspace(a[1], b[1], n)
    h, w = image.shape
    vals = image[np.clip(np.round(ys).astype(int), 0, h - 1), np.clip(np.round(xs).astype(int), 0, w - 1)]
    win = window(mask, 9)  # the ring 8 pixels round the lesion, read in its box
    near = dilate(mask[win], 8) & ~mask[win]
    bg = float(np.median(image[win][near])) if near.any() else float(np.median(image))
    if contrast <= 0.02:
        return "uncertain"
    lowest = float(vals.min())
    if lowest >= bg + BAND_FRACTION * contrast:
        return "yes"
    if lowest <= bg + 0.15 * contrast:
        return "no"
    return "uncertain"
