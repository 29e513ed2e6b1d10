"""Anatomy variety (issue 21, the ``anatomy`` rendering family): one CT, many chests.

The phantom projects one patient's CT. This module varies the patient: a smooth displacement
field in the film plane moves the lung fields, domes, heart, mediastinum and spine, a fat layer
of drawn thickness thickens the body, and a scale turns the adult into a child. It is a
**film-plane approximation of a 3-D deformation**: the displacement acts on the projected line
integral (soft tissue, bone and lesion attenuation together), on every anatomy mask, on the lesion
masks and on every truth coordinate (lesion centres, contours, boxes, hilum points), so film and
truth move as one; what a true 3-D deformation would add (depth-dependent overlap, parallax) is
not modelled.

Components (forward displacement ``u`` in film pixels, summed; the film's border stays fixed):

==========================  =====================================================================
lung height                 the rows from the lung apex to the domes stretch by ``lung_height``;
                            the abdomen below takes up the difference
lung width (per side)       the columns from the midline to each lung's lateral edge stretch by
                            ``lung_width_right`` / ``_left``; the chest wall and arm take it up
domes (per side)            each hemidiaphragm's dome moves down by ``dome_*_mm`` (up if negative)
                            and its lateral costophrenic recess by ``recess_*_mm``: flatter or
                            steeper domes, sharper or blunter costophrenic angles
mediastinal width           the band between the lungs above the heart widens by
                            ``mediastinum_width``; the lungs beside it narrow
heart                       scaled by ``heart_scale`` about its centroid and moved by
                            ``heart_shift_mm``, fading out over 1.4 heart radii around it
spine                       the spinal column (with the trachea and mediastinum over it) shifts
                            sideways by ``spine_shift_mm`` plus a scoliotic bow ``spine_curve_mm``
==========================  =====================================================================

Not displacements:

- **habitus**: a fat layer ``habitus_mm`` thick (front, back and sides) added to the line integral:
  each film row is an ellipse of the body's width (AP depth 0.72 of it) grown by the layer, so the
  flanks thicken most and the body outline widens;
- **child**: ``child_scale < 1`` makes the film a child's chest of that size: the same pixels, a
  pixel spacing ``child_scale`` times the adult's (a smaller field of view), a relatively larger
  heart and wider upper mediastinum (drawn with it), and lesions that keep their physical size
  (their 3-D size is divided by ``child_scale`` before they are drawn in the adult CT).

The ranges (``ANATOMY_RANGES``, drawn by :func:`draw_anatomy`) are set so that the phantom's
film-visible lung fields cover those of 434 real films (``loadtests/lung_shapes.py``: the real
masks steer the ranges, nothing else). The field never folds: the summed field is checked for a
Jacobian determinant of at least ``MIN_JACOBIAN`` everywhere and scaled down until it passes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom.geometry import Geometry
from encoder.phantom.volume import MU_WATER

MIN_JACOBIAN = 0.35
FILM = 512  # the film size the pixel constants of the field are set for (others scale them)
CHILD_PROBABILITY = 0.15
HABITUS_PROBABILITY = 0.6
MU_FAT = 0.9 * MU_WATER  # -100 HU
# Uniform ranges of the drawn anatomy. The supine CT's right dome sits high (domes, recesses and
# widths were steered by loadtests/lung_shapes.py: 434 real lung masks against the phantom's
# film-visible lung fields; the CT's own patient is 1.0 / 0 everywhere).
ANATOMY_RANGES: dict[str, tuple[float, float]] = {
    "lung_width": (0.88, 1.12),  # both lungs; each side then x its own extra
    "width_right_extra": (0.84, 1.12), "width_left_extra": (0.86, 1.02),  # lung width / height ratios
    "lung_height": (0.78, 1.2),  # lung height / thorax width
    "dome_right_mm": (5.0, 60.0), "dome_left_mm": (-25.0, 20.0),  # dome offset, right/left areas
    "recess_right_mm": (-45.0, 10.0), "recess_left_mm": (0.0, 35.0),  # costophrenic angles
    "mediastinum_width": (0.9, 1.7),  # the gap between the lungs above the heart
    "heart_scale": (0.85, 1.25), "heart_shift_x_mm": (-12.0, 12.0), "heart_shift_y_mm": (-10.0, 10.0),
    "spine_shift_mm": (-9.0, 9.0), "spine_curve_mm": (-7.0, 7.0),
    "habitus_mm": (4.0, 40.0),  # in HABITUS_PROBABILITY of the adults
    "child_scale": (0.5, 0.8), "child_heart": (1.05, 1.2), "child_mediastinum": (1.0, 1.3),
}
BODY_DEPTH_RATIO = 0.72  # AP semi-axis / lateral semi-axis of the body's cross-section
BODY_LINE_MIN = 0.2  # soft line integral above which a pixel is body (about 10 mm of water)


@dataclass(frozen=True)
class AnatomyParams:
    """One film's anatomy. The defaults are the CT's own patient (no change)."""

    lung_height: float = 1.0
    lung_width_right: float = 1.0
    lung_width_left: float = 1.0
    dome_right_mm: float = 0.0  # > 0: the dome lower
    dome_left_mm: float = 0.0
    recess_right_mm: float = 0.0  # > 0: the lateral costophrenic recess lower
    recess_left_mm: float = 0.0
    mediastinum_width: float = 1.0
    heart_scale: float = 1.0
    heart_shift_mm: tuple[float, float] = (0.0, 0.0)  # (image right, down)
    spine_shift_mm: float = 0.0  # > 0: towards the image's right
    spine_curve_mm: float = 0.0
    habitus_mm: float = 0.0
    child_scale: float = 1.0

    def as_truth(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: ([round(float(x), 3) for x in v] if isinstance(v, (list, tuple)) else round(float(v), 3))
                for k, v in d.items()}


def draw_anatomy(rng: np.random.Generator) -> AnatomyParams:
    """One film's anatomy, every parameter drawn in a fixed order (ranges: ``ANATOMY_RANGES``)."""
    u = rng.uniform
    r = ANATOMY_RANGES
    width = float(u(*r["lung_width"]))
    params: dict[str, Any] = {
        "lung_height": float(u(*r["lung_height"])),
        "lung_width_right": width * float(u(*r["width_right_extra"])),
        "lung_width_left": width * float(u(*r["width_left_extra"])),
        "dome_right_mm": float(u(*r["dome_right_mm"])), "dome_left_mm": float(u(*r["dome_left_mm"])),
        "recess_right_mm": float(u(*r["recess_right_mm"])), "recess_left_mm": float(u(*r["recess_left_mm"])),
        "mediastinum_width": float(u(*r["mediastinum_width"])),
        "heart_scale": float(u(*r["heart_scale"])),
        "heart_shift_mm": (float(u(*r["heart_shift_x_mm"])), float(u(*r["heart_shift_y_mm"]))),
        "spine_shift_mm": float(u(*r["spine_shift_mm"])), "spine_curve_mm": float(u(*r["spine_curve_mm"])),
        "habitus_mm": float(u(*r["habitus_mm"])) if rng.random() < HABITUS_PROBABILITY else 0.0,
    }
    child = bool(rng.random() < CHILD_PROBABILITY)
    scale, heart_extra, med_extra = (float(u(*r[k])) for k in ("child_scale", "child_heart", "child_mediastinum"))
    if child:  # smaller, relatively larger heart and (thymus) upper mediastinum, no fat layer
        params.update(child_scale=scale, heart_scale=min(params["heart_scale"] * heart_extra, 1.4),
                      mediastinum_width=min(params["mediastinum_width"] * med_extra, 1.9), habitus_mm=0.0,
                      lung_height=params["lung_height"] * 0.95)
    return AnatomyParams(**params)


# -- smooth profiles -------------------------------------------------------------------------
def smoothstep(t: np.ndarray | float) -> np.ndarray:
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def plateau(t: np.ndarray, lo: float, hi: float, ramp: float) -> np.ndarray:
    """1 on [lo, hi], 0 beyond ``ramp`` outside it, smooth in between."""
    ramp = max(ramp, 1e-3)
    return smoothstep((t - lo + ramp) / ramp) * (1.0 - smoothstep((t - hi) / ramp))


def stretch(n: int, lo: float, hi: float, band: tuple[float, float], factor: float,
            take_up: list[tuple[float, float]], ramp: float = 12.0) -> np.ndarray:
    """1-D displacement on 0..n-1: the coordinates in ``band`` stretch by ``factor``, those in the
    ``take_up`` bands shrink to compensate, so that ``lo`` and ``hi`` stay where they are (and
    everything outside [lo, hi] too). Monotone while the take-up factor stays positive."""
    t = np.arange(n, dtype=np.float64)
    inside = (t >= lo) & (t <= hi)
    w = plateau(t, band[0], band[1], ramp) * inside
    w_take = sum((plateau(t, a, b, ramp) for a, b in take_up), np.zeros(n)) * inside
    w_take = np.minimum(w_take, 1.0 - np.minimum(w, 1.0))
    area, area_take = float(w.sum()), float(w_take.sum())
    if area < 1.0 or area_take < 1.0:
        return np.zeros(n)
    c = (factor - 1.0) * area / area_take
    c = min(c, 0.6)  # the take-up band never shrinks below 40 %
    sigma = 1.0 + (factor - 1.0) * w - c * w_take
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (sigma[1:] + sigma[:-1]))])
    disp = np.zeros(n)
    lo_i, hi_i = max(int(np.ceil(lo)), 0), min(int(np.floor(hi)), n - 1)
    if hi_i - lo_i < 2:
        return disp
    seg = cum[lo_i : hi_i + 1] - cum[lo_i]
    seg *= (hi_i - lo_i) / max(seg[-1], 1e-6)  # ends fixed exactly
    disp[lo_i : hi_i + 1] = lo_i + seg - t[lo_i : hi_i + 1]
    return disp


# -- landmarks -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Landmarks:
    """Where the anatomy lies on the undeformed film (pixels)."""

    top: float  # lung apex row
    bottom: float  # lowest lung row
    midline: float  # column of the spinal column
    spine_half: float  # half-width of the spinal column
    lateral_right: float  # outer edge of the right lung (image left)
    lateral_left: float
    dome_right: tuple[float, float]  # (column, row) of each dome's top
    dome_left: tuple[float, float]
    recess_right: float  # row of each lateral costophrenic recess (lowest lung row above the domes' mask)
    recess_left: float
    heart: tuple[float, float, float]  # centroid x, y and equivalent radius
    heart_top: float
    gap_half: float  # half the gap between the lungs above the heart


def _mask(masks: np.ndarray, name: str) -> np.ndarray:
    return np.asarray(masks[ANATOMY_CLASSES.index(name)], dtype=bool)


def _dome(lung: np.ndarray, below: np.ndarray) -> tuple[float, float]:
    """Top of the sub-diaphragmatic region under the middle third of a lung: (column, row)."""
    cols = np.nonzero(lung.any(axis=0))[0]
    lo, hi = int(cols.min()), int(cols.max())
    mid = np.arange(lo + (hi - lo) // 4, hi - (hi - lo) // 4 + 1)
    tops = np.array([np.argmax(below[:, c]) if below[:, c].any() else lung.shape[0] - 1 for c in mid])
    k = int(np.argmin(tops))
    return float(mid[k]), float(tops[k])


def _recess(lung: np.ndarray, below: np.ndarray, side: str, dome_row: float) -> float:
    """Lowest row of the lung above the sub-diaphragmatic region in the lung's lateral 30 %."""
    cols = np.nonzero(lung.any(axis=0))[0]
    lo, hi = int(cols.min()), int(cols.max())
    width = hi - lo + 1
    sl = slice(lo, lo + max(int(0.3 * width), 1)) if side == "right" else slice(hi + 1 - max(int(0.3 * width), 1), hi + 1)
    open_lung = lung[:, sl] & ~below[:, sl]
    rows = np.nonzero(open_lung.any(axis=1))[0]
    return float(max(rows.max(), dome_row)) if len(rows) else dome_row


def landmarks(masks: np.ndarray) -> Landmarks:
    lr, ll = _mask(masks, "lung_right"), _mask(masks, "lung_left")
    lungs = lr | ll
    rows = np.nonzero(lungs.any(axis=1))[0]
    top, bottom = float(rows.min()), float(rows.max())
    spine = _mask(masks, "spine").astype(np.uint8)
    tall = 2 * round(20 * masks.shape[-1] / FILM) + 1
    column = cv2.morphologyEx(spine, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, tall))).astype(bool)
    column[: int(top)] = False
    column[int(bottom) + 1 :] = False
    if column.sum() < 100:
        column = spine.astype(bool)
    cx = np.nonzero(column)[1]
    midline = float(np.median(cx)) if len(cx) else lungs.shape[1] / 2
    widths = column.sum(axis=1)
    spine_half = float(np.median(widths[widths > 0])) / 2 if (widths > 0).any() else 20.0
    dia = _mask(masks, "diaphragm")
    heart = _mask(masks, "heart")
    hy, hx = np.nonzero(heart)
    if len(hx):
        heart_c = (float(hx.mean()), float(hy.mean()), float(np.sqrt(len(hx) / np.pi)))
        heart_top = float(hy.min())
    else:
        heart_c = (midline + 30.0, (top + bottom) / 2 + 60.0, 60.0)
        heart_top = (top + bottom) / 2
    gaps = []
    for r in range(int(top + 0.25 * (heart_top - top)), int(heart_top)):
        if lr[r].any() and ll[r].any():
            gaps.append(np.nonzero(ll[r])[0].min() - np.nonzero(lr[r])[0].max())
    gap_half = max(float(np.median(gaps)) / 2 if gaps else spine_half, spine_half)
    dome_r, dome_l = _dome(lr, dia), _dome(ll, dia)
    return Landmarks(top=top, bottom=bottom, midline=midline, spine_half=spine_half,
                     lateral_right=float(np.nonzero(lr.any(axis=0))[0].min()),
                     lateral_left=float(np.nonzero(ll.any(axis=0))[0].max()),
                     dome_right=dome_r, dome_left=dome_l,
                     recess_right=_recess(lr, dia, "right", dome_r[1]), recess_left=_recess(ll, dia, "left", dome_l[1]),
                     heart=heart_c, heart_top=heart_top, gap_half=gap_half)


# -- the displacement field --------------------------------------------------------------------
def _bump_rows(ys: np.ndarray, top: float, row: float, n: int) -> np.ndarray:
    """0 at the lung apex rising to 1 at ``row``, falling back to 0 at the film's lower edge."""
    hold = 10.0 * n / FILM
    return np.where(ys < row, smoothstep((ys - top) / max(row - top, 1.0)),
                    1.0 - smoothstep((ys - row - hold) / max(n - 1.0 - hold - row, 1.0)))


def _dome_field(xs: np.ndarray, ys: np.ndarray, n: int, lm: Landmarks, side: str, dome_px: float,
                recess_px: float) -> np.ndarray:
    """Vertical displacement moving one hemidiaphragm: its dome by ``dome_px`` and its lateral
    costophrenic recess by ``recess_px`` (down > 0). Two bumps: one under the dome, one at the
    lateral chest wall; each grows from the lung apex to its row and fades out below it towards
    the film's lower edge (the abdomen takes the shift up)."""
    dx, dy = lm.dome_right if side == "right" else lm.dome_left
    lateral = lm.lateral_right if side == "right" else lm.lateral_left
    recess_row = lm.recess_right if side == "right" else lm.recess_left
    sign = -1.0 if side == "right" else 1.0  # lateral direction in x
    edge = 0.0 if side == "right" else n - 1.0
    grid = np.arange(n, dtype=np.float64)
    k = n / FILM

    def across(knots: list[tuple[float, float]]) -> np.ndarray:
        kx, kw = (np.asarray(v) for v in zip(*sorted(knots), strict=True))
        return np.interp(xs, grid, ndimage.gaussian_filter1d(np.interp(grid, kx, kw), 8.0 * k))

    inner = lm.midline + sign * lm.spine_half
    outside = lateral + sign * 30.0 * k
    dome_w = across([(lm.midline, 0.0), (inner, 0.3), (dx, 1.0), (lateral, 0.15), (outside, 0.0), (edge, 0.0)])
    recess_w = across([(lm.midline, 0.0), (dx, 0.0), (lateral, 1.0), (outside, 0.6), (edge, 0.0)])
    return (dome_px * dome_w * _bump_rows(ys, lm.top, dy, n)
            + recess_px * recess_w * _bump_rows(ys, lm.top, max(recess_row, dy), n))


def _heart_field(xs: np.ndarray, ys: np.ndarray, lm: Landmarks, scale: float,
                 shift_px: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    cx, cy, radius = lm.heart
    far = 2.4 * radius
    dx, dy = xs - cx, ys - cy
    r = np.hypot(dx, dy)
    fade = 1.0 - smoothstep((r - radius) / (far - radius))
    # radial: r -> scale * r inside the heart, back to r at ``far``
    gain = np.where(r < 1e-6, scale - 1.0, (scale - 1.0) * np.minimum(r, radius) * fade / np.maximum(r, 1e-6))
    return gain * dx + shift_px[0] * fade, gain * dy + shift_px[1] * fade


def _spine_field(xs: np.ndarray, ys: np.ndarray, lm: Landmarks, shift_px: float, curve_px: float,
                 k: float = 1.0) -> np.ndarray:
    band = plateau(xs, lm.midline - lm.spine_half - 4 * k, lm.midline + lm.spine_half + 4 * k, 45.0 * k)
    t = np.clip((ys - lm.top) / max(lm.bottom - lm.top, 1.0), 0.0, 1.0)
    along = plateau(ys, lm.top, lm.bottom, 60.0 * k)
    return (shift_px + curve_px * np.sin(np.pi * t)) * band * along


GRID_STEP = 4  # the field is computed (and inverted) every GRID_STEP pixels and interpolated between


def displacement(params: AnatomyParams, lm: Landmarks, n: int, spacing_mm: float,
                 step: int = GRID_STEP) -> tuple[np.ndarray, np.ndarray]:
    """Forward displacement (ux, uy) in pixels at the grid points ``0, step, 2 step, ...`` (up to
    and including the last pixel's side), before the folding check."""
    m = -(-(n - 1) // step) + 1
    coords = np.arange(m, dtype=np.float64) * step
    ys, xs = np.meshgrid(coords, coords, indexing="ij")
    full = np.arange(n, dtype=np.float64)
    px = 1.0 / spacing_mm
    k = n / FILM  # the pixel constants below are for a 512-pixel film
    ramp = 12.0 * k
    dome_row = max(lm.dome_right[1], lm.dome_left[1])
    # lung height: apex to domes stretch, the abdomen takes it up
    vy = stretch(n, lm.top, n - 1, (lm.top, (lm.dome_right[1] + lm.dome_left[1]) / 2), params.lung_height,
                 [(dome_row + 25.0 * k, n - 1)], ramp)
    uy = np.broadcast_to(np.interp(coords, full, vy)[:, None], (m, m)).copy()
    # lung widths, each side about the midline; chest wall and arm take them up
    vx = stretch(n, 0, lm.midline, (lm.lateral_right, lm.midline - lm.gap_half), params.lung_width_right,
                 [(0, lm.lateral_right - 8.0 * k)], ramp)
    vx += stretch(n, lm.midline, n - 1, (lm.midline + lm.gap_half, lm.lateral_left), params.lung_width_left,
                  [(lm.lateral_left + 8.0 * k, n - 1)], ramp)
    ux = np.broadcast_to(np.interp(coords, full, vx)[None, :], (m, m)).copy()
    # mediastinal width above the heart: the band between the lungs widens, the lungs narrow
    vm = stretch(n, lm.lateral_right, lm.lateral_left, (lm.midline - lm.gap_half, lm.midline + lm.gap_half),
                 params.mediastinum_width, [(lm.lateral_right, lm.midline - lm.gap_half - 10.0 * k),
                                            (lm.midline + lm.gap_half + 10.0 * k, lm.lateral_left)], ramp)
    upper = plateau(coords, lm.top - 40.0 * k, lm.heart_top, 50.0 * k)
    ux += upper[:, None] * np.interp(coords, full, vm)[None, :]
    for side, dome, recess in (("right", params.dome_right_mm, params.recess_right_mm),
                               ("left", params.dome_left_mm, params.recess_left_mm)):
        uy += _dome_field(xs, ys, n, lm, side, dome * px, recess * px)
    hx, hy = _heart_field(xs, ys, lm, params.heart_scale,
                          (params.heart_shift_mm[0] * px, params.heart_shift_mm[1] * px))
    ux += hx
    uy += hy
    ux += _spine_field(xs, ys, lm, params.spine_shift_mm * px, params.spine_curve_mm * px, k)
    # the film's border stays where it is
    e = max(8.0 * k, 2.0)
    edge = plateau(xs, e, n - 1 - e, e) * plateau(ys, e, n - 1 - e, e)
    return ux * edge, uy * edge


def jacobian_det(ux: np.ndarray, uy: np.ndarray, step: float = 1.0) -> np.ndarray:
    dux_dy, dux_dx = np.gradient(ux, step)
    duy_dy, duy_dx = np.gradient(uy, step)
    return (1.0 + dux_dx) * (1.0 + duy_dy) - dux_dy * duy_dx


def _upsample(a: np.ndarray, n: int, step: int) -> np.ndarray:
    """Grid values at 0, step, ... -> every pixel of an n x n film (bilinear, corners aligned)."""
    q = (np.arange(n, dtype=np.float32) / step)
    mx, my = np.meshgrid(q, q)
    return cv2.remap(a.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _invert(ux: np.ndarray, uy: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward displacement on the grid: for each grid point q, p - q where p + u(p) = q (Newton)."""
    m = ux.shape[0]
    q = np.arange(m, dtype=np.float32) * step
    qx, qy = np.meshgrid(q, q)
    dux_dy, dux_dx = np.gradient(ux, step)
    duy_dy, duy_dx = np.gradient(uy, step)
    fields = [a.astype(np.float32) for a in (ux, uy, 1.0 + dux_dx, dux_dy, duy_dx, 1.0 + duy_dy)]
    px, py = qx.copy(), qy.copy()
    top = float((m - 1) * step)
    for _ in range(15):
        s = [cv2.remap(a, px / step, py / step, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for a in fields]
        rx, ry = px + s[0] - qx, py + s[1] - qy
        det = s[2] * s[5] - s[3] * s[4]
        det = np.where(np.abs(det) < 1e-3, np.float32(1e-3), det)
        px = np.clip(px - (s[5] * rx - s[3] * ry) / det, 0.0, top)
        py = np.clip(py - (-s[4] * rx + s[2] * ry) / det, 0.0, top)
    return px - qx, py - qy


@dataclass(frozen=True, eq=False)
class Deformation:
    """A forward displacement field on the film (computed on a grid of ``step`` pixels) and its
    inverse, the resampling maps."""

    ux: np.ndarray  # float32 (m, m) grid: source pixel p goes to p + u(p)
    uy: np.ndarray
    det: np.ndarray = field(repr=False)  # (m, m) Jacobian determinant of the forward map
    map_x: np.ndarray = field(repr=False)  # float32 (n, n): output pixel q samples source (map_x, map_y)
    map_y: np.ndarray = field(repr=False)
    step: int = GRID_STEP
    shrink: float = 1.0  # how much the drawn field was scaled down to avoid folding

    @classmethod
    def from_grid(cls, ux: np.ndarray, uy: np.ndarray, n: int, step: int = GRID_STEP,
                  shrink: float = 1.0) -> Deformation:
        bx, by = _invert(ux, uy, step)
        q = np.arange(n, dtype=np.float32)
        map_x = q[None, :] + _upsample(bx, n, step)
        map_y = q[:, None] + _upsample(by, n, step)
        det = jacobian_det(ux, uy, step).astype(np.float32)
        return cls(ux.astype(np.float32), uy.astype(np.float32), det, map_x.astype(np.float32),
                   map_y.astype(np.float32), step, shrink)

    def _at(self, grid: np.ndarray, xy: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(grid, [xy[:, 1] / self.step, xy[:, 0] / self.step], order=1, mode="nearest")

    def forward(self, xy: np.ndarray) -> np.ndarray:
        """Source film points (N, 2) as (x, y) -> where the deformation puts them."""
        xy = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        return np.stack([xy[:, 0] + self._at(self.ux, xy), xy[:, 1] + self._at(self.uy, xy)], axis=1)

    def area_scale(self, xy: np.ndarray) -> np.ndarray:
        """Jacobian determinant (area ratio) at source film points (N, 2)."""
        return self._at(self.det, np.atleast_2d(np.asarray(xy, dtype=np.float64)))

    def apply(self, img: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        return cv2.remap(np.asarray(img, dtype=np.float32), self.map_x, self.map_y, interpolation,
                         borderMode=cv2.BORDER_REPLICATE)

    def apply_masks(self, masks: np.ndarray) -> np.ndarray:
        """bool (..., H, W) -> bool, each mask resampled and cut at one half."""
        flat = np.asarray(masks).reshape(-1, *masks.shape[-2:])
        out = np.empty(flat.shape, dtype=bool)
        for k in range(0, len(flat), 4):  # cv2 resamples up to 4 channels at once
            chunk = np.ascontiguousarray(flat[k : k + 4].transpose(1, 2, 0), dtype=np.float32)
            res = self.apply(chunk).reshape(*flat.shape[-2:], -1)
            out[k : k + 4] = res.transpose(2, 0, 1) >= 0.5
        return out.reshape(masks.shape)


def build_deformation(params: AnatomyParams, masks: np.ndarray, spacing_mm: float) -> Deformation:
    """The deformation of ``params`` for a film whose (undeformed) truth masks are ``masks``."""
    n = masks.shape[-1]
    lm = landmarks(masks)
    ux, uy = displacement(params, lm, n, spacing_mm)
    shrink = 1.0
    while float(jacobian_det(ux * shrink, uy * shrink, GRID_STEP).min()) < MIN_JACOBIAN and shrink > 0.05:
        shrink *= 0.8
    return Deformation.from_grid(ux * shrink, uy * shrink, n, GRID_STEP, shrink)


# -- habitus -------------------------------------------------------------------------------
def habitus_line(soft: np.ndarray, spacing_mm: float, fat_mm: float) -> np.ndarray:
    """Line integral of a fat layer ``fat_mm`` thick around the body (film of soft line integrals)."""
    if fat_mm <= 0:
        return np.zeros_like(soft, dtype=np.float32)
    body = soft > BODY_LINE_MIN
    n_y, n_x = body.shape
    has = body.any(axis=1)
    left = np.where(has, np.argmax(body, axis=1), 0).astype(np.float64)
    right = np.where(has, n_x - 1 - np.argmax(body[:, ::-1], axis=1), 0).astype(np.float64)
    rows = np.nonzero(has)[0]
    if len(rows) < 2:
        return np.zeros_like(soft, dtype=np.float32)
    # smooth the outline along the rows (shoulders, arms) before modelling the cross-section
    left = ndimage.gaussian_filter1d(np.interp(np.arange(n_y), rows, left[rows]), 6.0)
    right = ndimage.gaussian_filter1d(np.interp(np.arange(n_y), rows, right[rows]), 6.0)
    centre = (left + right) / 2
    a = np.maximum((right - left) / 2 * spacing_mm, 1.0)[:, None]  # mm
    b = BODY_DEPTH_RATIO * a
    x = (np.arange(n_x)[None, :] - centre[:, None]) * spacing_mm

    def path(semi_a: np.ndarray, semi_b: np.ndarray) -> np.ndarray:
        return 2.0 * semi_b * np.sqrt(np.clip(1.0 - (x / semi_a) ** 2, 0.0, None))

    added = path(a + fat_mm, b + fat_mm) - path(a, b)
    added[~has] = 0.0
    # rows fade in and out at the ends of the body (no step at the film's top or bottom body row)
    fade = ndimage.gaussian_filter1d(has.astype(np.float64), 4.0)[:, None]
    return (MU_FAT * added * fade).astype(np.float32)


# -- the film frame lesions and truth are drawn in --------------------------------------------
@dataclass(frozen=True, eq=False)
class FilmFrame:
    """The case geometry followed by the anatomy deformation: what ``place`` and the lesion truth
    need of a geometry (``film_of``, ``spacing_mm``, ``size``), and the warp of film images."""

    geom: Geometry
    deformation: Deformation
    params: AnatomyParams

    @property
    def size(self) -> int:
        return self.geom.size

    @property
    def spacing_mm(self) -> float:
        """The final film's pixel spacing (a child's film: smaller)."""
        return self.geom.spacing_mm * self.params.child_scale

    @property
    def lesion_scale(self) -> float:
        """Physical lesion size / its size drawn in the adult CT."""
        return self.params.child_scale

    def film_of(self, xyz_mm: np.ndarray) -> np.ndarray:
        return self.deformation.forward(self.geom.film_of(xyz_mm))

    def warp(self, img: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """An unwarped film image (as projected) -> the final film: the inspiration warp and the
        deformation in one resampling."""
        g = self.geom
        my = self.deformation.map_y
        if abs(g.inspiration - 1.0) > 1e-9:
            my = np.where(my > g.pivot_row, g.pivot_row + (my - g.pivot_row) / g.inspiration, my).astype(np.float32)
        return cv2.remap(np.asarray(img, dtype=np.float32), self.deformation.map_x, my, interpolation,
                         borderMode=cv2.BORDER_REPLICATE)

    def length_scale(self, xyz_mm: np.ndarray) -> float:
        """Final-film millimetres per CT millimetre at a 3-D point (the local film scale)."""
        det = float(self.deformation.area_scale(self.geom.film_of(np.atleast_2d(xyz_mm)))[0])
        return float(np.sqrt(max(det, 1e-6))) * self.params.child_scale

    def habitus(self, soft: np.ndarray) -> np.ndarray:
        """The fat layer's line integral on the final film (``soft``: the unwarped soft line integral)."""
        if self.params.habitus_mm <= 0:
            return np.zeros((self.size, self.size), dtype=np.float32)
        return habitus_line(self.warp(soft), self.spacing_mm, self.params.habitus_mm)


def deform_anatomy(params: AnatomyParams, geom: Geometry, masks: np.ndarray,
                   hilum: dict[str, tuple[float, float]]) -> tuple[FilmFrame, np.ndarray, dict[str, tuple[float, float]]]:
    """-> the film frame, the deformed truth masks and the moved hilum points."""
    deformation = build_deformation(params, masks, geom.spacing_mm)
    warped = deformation.apply_masks(masks)
    idx = {name: ANATOMY_CLASSES.index(name) for name in ANATOMY_CLASSES}
    warped[idx["lung_right"]] = warped[idx["RUL"]] | warped[idx["RML"]] | warped[idx["RLL"]]
    warped[idx["lung_left"]] = warped[idx["LUL"]] | warped[idx["LLL"]]
    moved = {}
    for side, (x, y) in hilum.items():
        fx, fy = deformation.forward(np.array([[x, y]]))[0]
        moved[side] = (float(fx), float(fy))
    return FilmFrame(geom, deformation, params), warped, moved
