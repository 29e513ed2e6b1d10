"""Ground-truth anatomy on the film: projected labels as multi-label masks, the hila, and the
zone / band of a point.

A projected mask is "some voxel of the structure lies on this ray" (more than half a voxel
after interpolation), so masks overlap freely (a pixel can be lung, rib and heart at once).

Hilum (there is no hilum label in the CT; definition, see also ``volume._hilum_roots``):
the hilum of a lung is where its main bronchus and pulmonary vessels enter it. In 3D, the
hilar root of a side is the part of the segmented airway below the carina plus the
pulmonary veins that lies outside the lung but within 12 mm of that side's lung, on that
side of the tracheal axis. ``hilum_right`` / ``hilum_left`` are the projections of those
roots, closed and dilated by ``HILUM_MARGIN_MM``; the hilum point of a side is the centroid
of its projected root (before dilation), in film pixels ``(x, y)``.

Zone and band (the definitions the findings layer should share):
- zone: upper / middle / lower third of the height of that side's projected lung field
  (its top row to its bottom row);
- band: inner / middle / outer third of the lung field's width on the point's row (its
  medial edge to its lateral edge; the lateral edge of the right lung is on the image's left).
"""

from __future__ import annotations

import cv2
import numpy as np

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom.geometry import Geometry
from encoder.phantom.volume import VOLUME_CHANNELS

HILUM_MARGIN_MM = 4.0
ZONES: tuple[str, ...] = ("upper", "middle", "lower")
BANDS: tuple[str, ...] = ("inner", "middle", "outer")


def _largest_component(mask: np.ndarray) -> np.ndarray:
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == best


def _hilum(root: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, tuple[float, float]]:
    if not root.any():
        return root.astype(bool), (float("nan"), float("nan"))
    ys, xs = np.nonzero(root)
    point = (float(xs.mean()), float(ys.mean()))
    r = max(1, round(HILUM_MARGIN_MM / spacing_mm))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    closed = cv2.morphologyEx(root.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    region = cv2.dilate(closed, kernel).astype(bool)
    return _largest_component(region), point


def film_masks(channel_counts: np.ndarray, geom: Geometry) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """Projected voxel counts (unwarped film) -> bool (C, H, W) in ANATOMY_CLASSES order + hilum points."""
    warped = {name: geom.apply_warp(channel_counts[c]) > 0.5 for c, name in enumerate(VOLUME_CHANNELS)}
    hilum_px: dict[str, tuple[float, float]] = {}
    for side in ("right", "left"):
        warped[f"hilum_{side}"], hilum_px[side] = _hilum(warped[f"hilum_{side}"], geom.spacing_mm)
    warped["lung_right"] = warped["RUL"] | warped["RML"] | warped["RLL"]
    warped["lung_left"] = warped["LUL"] | warped["LLL"]
    masks = np.stack([warped[name] for name in ANATOMY_CLASSES])
    return masks, hilum_px


def zone_band_many(masks: np.ndarray, side: str, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised zone/band indices (0..2 into ZONES / BANDS; -1 where the row has no lung)."""
    lung = masks[ANATOMY_CLASSES.index(f"lung_{side}")]
    rows_any = lung.any(axis=1)
    rows = np.nonzero(rows_any)[0]
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if len(rows) == 0:
        return np.full(xs.shape, -1), np.full(xs.shape, -1)
    top, bottom = float(rows.min()), float(rows.max())
    zone = np.clip(np.floor((ys - top) / max(bottom - top, 1.0) * 3), 0, 2).astype(int)
    width = lung.shape[1]
    left = np.where(rows_any, np.argmax(lung, axis=1), -1)
    right = np.where(rows_any, width - 1 - np.argmax(lung[:, ::-1], axis=1), -1)
    r = np.clip(np.rint(ys).astype(int), 0, lung.shape[0] - 1)
    le, re = left[r].astype(np.float64), right[r].astype(np.float64)
    span = np.maximum(re - le, 1.0)
    frac = (re - xs) / span if side == "right" else (xs - le) / span
    band = np.where(le >= 0, np.clip(np.floor(frac * 3), 0, 2), -1).astype(int)
    return zone, band


def zone_band(masks: np.ndarray, side: str, x: float, y: float) -> tuple[str, str]:
    """Zone and band of film point (x, y) within the ``side`` lung field (definitions above).

    A point on a row without lung of that side gets the nearest lung row's band.
    """
    lung = masks[ANATOMY_CLASSES.index(f"lung_{side}")]
    rows = np.nonzero(lung.any(axis=1))[0]
    if len(rows) == 0:
        return "middle", "middle"
    yy = float(rows[np.argmin(np.abs(rows - y))]) if not lung[int(np.clip(round(y), 0, lung.shape[0] - 1))].any() else y
    z, b = zone_band_many(masks, side, np.array([x]), np.array([yy]))
    zi = int(np.clip(np.floor((y - rows.min()) / max(float(rows.max() - rows.min()), 1.0) * 3), 0, 2))
    del z
    return ZONES[zi], BANDS[max(int(b[0]), 0)]
