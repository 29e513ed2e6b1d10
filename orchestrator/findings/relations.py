"""Relations of a lesion to anatomy: centre-to-hilum distance, the gap to the nearest hilar
structure, whether a soft-tissue band connects them, distance to the pleura and diaphragm.
All distances in mm with the film's pixel spacing (row and column spacing may differ).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from orchestrator.facts import HilumRelation, PixelSpacing, Point, Tri
from orchestrator.findings.geometry import Geometry, dilate, erode, point_distance_mm

CONTACT_MM = 1.0
BAND_FRACTION = 0.5  # the path must stay this fraction of the lesion contrast above the lung


def nearest_points_mm(a: np.ndarray, b: np.ndarray, spacing: PixelSpacing) -> tuple[float, Point, Point]:
    """Smallest distance in mm between two bool masks (0 when they touch/overlap), and the two
    points (x, y) realising it. Symmetric: swapping a and b swaps the points only."""
    if (a & b).any():
        ys, xs = np.nonzero(a & b)
        p = (float(xs[0]), float(ys[0]))
        return 0.0, p, p
    pa = np.argwhere(_edge(a)).astype(np.float64)
    pb = np.argwhere(_edge(b)).astype(np.float64)
    scale = np.array([spacing.row_mm, spacing.col_mm])
    tree = cKDTree(pb * scale)
    d, j = tree.query(pa * scale)
    i = int(np.argmin(d))
    ya, xa = pa[i]
    yb, xb = pb[int(j[i])]
    return float(d[i]), (float(xa), float(ya)), (float(xb), float(yb))


def _edge(m: np.ndarray) -> np.ndarray:
    e = m & ~erode(m)
    return e if e.any() else m


@dataclass(frozen=True, eq=False)
class DistanceMaps:
    """Distance transforms computed once per film: inside each lung (to its pleura) and to
    the diaphragm, in mm."""

    lung: dict[str, np.ndarray]
    diaphragm: np.ndarray | None


def edt_mm(inside: np.ndarray, spacing: PixelSpacing) -> np.ndarray:
    """Distance in mm from each True pixel to the nearest False one (OpenCV's exact transform
    when the spacing is isotropic, SciPy's otherwise)."""
    if abs(spacing.row_mm - spacing.col_mm) < 1e-9:
        d = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return d.astype(np.float64) * spacing.row_mm
    return ndimage.distance_transform_edt(inside, sampling=(spacing.row_mm, spacing.col_mm))


def distance_maps(geom: Geometry) -> DistanceMaps:
    lungs = {s: edt_mm(lung.mask, geom.spacing) for s, lung in geom.lungs.items() if lung.present}
    diaphragm = geom.mask("diaphragm")
    to_diaphragm = edt_mm(~diaphragm, geom.spacing) if diaphragm.any() else None
    return DistanceMaps(lungs, to_diaphragm)


def distance_to_outside_mm(mask: np.ndarray, region: np.ndarray, spacing: PixelSpacing, dist: np.ndarray | None = None) -> float:
    """Smallest distance from the mask to the outside of ``region`` (e.g. the lung's pleura);
    ``dist``: the region's precomputed distance transform."""
    if not region.any():
        return 0.0
    inside = mask & region
    if not inside.any():
        return 0.0
    if dist is None:
        dist = ndimage.distance_transform_edt(region, sampling=(spacing.row_mm, spacing.col_mm))
    return float(max(0.0, dist[inside].min() - 0.5 * min(spacing.row_mm, spacing.col_mm)))


def distance_to_mask_mm(mask: np.ndarray, target: np.ndarray, spacing: PixelSpacing, dist: np.ndarray | None = None) -> float:
    """Smallest distance from the mask to ``target`` (0 when they touch); ``dist``: the
    precomputed distance transform of the target's outside."""
    if not target.any() or not mask.any():
        return float("nan")
    if (mask & target).any():
        return 0.0
    if dist is None:
        dist = ndimage.distance_transform_edt(~target, sampling=(spacing.row_mm, spacing.col_mm))
    return float(dist[mask].min())


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
    near = dilate(mask, 8) & ~mask
    bg = float(np.median(image[near])) if near.any() else float(np.median(image))
    if contrast <= 0.02:
        return "uncertain"
    lowest = float(vals.min())
    if lowest >= bg + BAND_FRACTION * contrast:
        return "yes"
    if lowest <= bg + 0.15 * contrast:
        return "no"
    return "uncertain"
