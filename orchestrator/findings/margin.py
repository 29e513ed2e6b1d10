"""Margin of a lesion: smooth, lobulated (notches at clock positions) or spiculated (radial
spikes with their count and lengths in mm).

Method: the mask is opened with a disc a little wider than a spicule; what the opening
removes and reaches out radially is a spike (its length is its reach beyond the core). The
core's contour is then checked for concavities (convexity defects) deep enough to be notches.

Clock positions: 12 o'clock is cranial (up), 3 o'clock the image's right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage, signal

from orchestrator.facts import Notch, PixelSpacing, Point, Spicule
from orchestrator.findings.geometry import disc, local_edt
from orchestrator.findings.windows import Window, origin, window

SPIKE_MIN_MM = 1.5  # a spike reaches at least this far beyond the core
SPIKE_MIN_FRAC = 0.12  # ... and at least this fraction of the core's radius
NOTCH_MIN_MM = 0.7
NOTCH_MIN_FRAC = 0.12  # notch depth relative to the core's mean radius
LOBULATION_FRAC = 0.22  # at least one notch this deep makes the margin lobulated
NOTCH_PX = 1.5  # pixel discretisation of a small disc's contour makes dips up to ~1.3 px deep
LOBULATED_MIN_NOTCHES = 1
PROFILE_BINS = 360
NOTCH_MAX_WIDTH_DEG = 90.0  # wider dips are undulation, not a notch
SPIKE_BASE_DEG = 14.0  # half-width of the profile bridged at each spicule base


@dataclass(frozen=True)
class Margin:
    margin: str  # smooth lobulated spiculated
    notches: tuple[Notch, ...]
    spicules: tuple[Spicule, ...]
    core_diameter_mm: float
    core: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros((0, 0), dtype=bool))
    # signed distance of the read from the smooth / irregular threshold (>= 0: irregular); the
    # raw score that ``orchestrator.findings.calibration`` turns into a probability. NaN: not graded
    score: float = float("nan")


def clock_of(center: Point, point: Point) -> int:
    """Clock hour of ``point`` seen from ``center``: 12 up (cranial), 3 the image's right."""
    dx = point[0] - center[0]
    dy = point[1] - center[1]
    deg = math.degrees(math.atan2(dx, -dy)) % 360.0
    hour = int(math.floor(deg / 30.0 + 0.5)) % 12
    return 12 if hour == 0 else hour


def core_of(mask: np.ndarray, spacing: PixelSpacing) -> tuple[np.ndarray, int]:
    """The mask with thin protrusions removed (opening), and the opening radius in pixels."""
    area = float(mask.sum())
    r_eq = math.sqrt(area / math.pi)
    px_mm = min(spacing.row_mm, spacing.col_mm)
    r_open = int(np.clip(round(max(1.6 / px_mm, 0.3 * r_eq)), 1, max(1, int(r_eq * 0.6))))
    pad = r_open + 2
    padded = np.pad(mask.astype(np.uint8), pad)
    core = cv2.morphologyEx(padded, cv2.MORPH_OPEN, disc(r_open))[pad:-pad, pad:-pad].astype(bool)
    if not core.any():
        return mask.copy(), 0
    # keep the largest core part
    lab, n = ndimage.label(core)
    if n > 1:
        sizes = ndimage.sum(core, lab, range(1, n + 1))
        core = lab == (1 + int(np.argmax(sizes)))
    return core, r_open


def find_spicules(mask: np.ndarray, core: np.ndarray, center: Point, spacing: PixelSpacing,
                  offset: tuple[int, int] = (0, 0)) -> list[Spicule]:
    """``offset``: the film's (x, y) of the masks' first pixel (they may be a window of it); the
    spicules' points are the film's."""
    residual = mask & ~core
    if not residual.any():
        return []
    dist = local_edt(~core, mask, (spacing.row_mm, spacing.col_mm))
    r_core = math.sqrt(float(core.sum()) * spacing.row_mm * spacing.col_mm / math.pi)
    min_len = max(SPIKE_MIN_MM, SPIKE_MIN_FRAC * r_core)
    lab, n = ndimage.label(residual, structure=np.ones((3, 3)))
    spikes: list[Spicule] = []
    core_pts = np.argwhere(core) + (offset[1], offset[0])
    for i in range(1, n + 1):
        comp = lab == i
        d = np.where(comp, dist, 0.0)
        length = float(d.max())
        if length < min_len:
            continue
        ty, tx = np.unravel_index(int(np.argmax(d)), d.shape)
        tip = (float(tx + offset[0]), float(ty + offset[1]))
        base = _nearest(core_pts, tip)
        spikes.append(Spicule(clock_of(center, tip), round(length, 1), base, tip))
    spikes.sort(key=lambda s: s.clock)
    return spikes


def _nearest(points_yx: np.ndarray, p: Point) -> Point:
    d = (points_yx[:, 1] - p[0]) ** 2 + (points_yx[:, 0] - p[1]) ** 2
    y, x = points_yx[int(np.argmin(d))]
    return (float(x), float(y))


def radial_profile(
    core: np.ndarray, center: Point, spacing: PixelSpacing, bins: int = PROFILE_BINS, hidden: np.ndarray | None = None,
    offset: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """r(θ) in mm of the core's outer contour seen from ``center``; bin j covers the angles
    [j, j+1) * 2π / bins, counted from the image's +x towards +y (downwards). Contour points
    in ``hidden`` (an edge cut where another opacity overlaps) are bridged over. ``offset``:
    the film's (x, y) of the masks' first pixel."""
    cs, _ = cv2.findContours(core.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(cs, key=cv2.contourArea)[:, 0, :]
    if hidden is not None:
        visible = ~hidden[c[:, 1], c[:, 0]]
        if visible.sum() >= len(c) // 3:
            c = c[visible]
    c = (c + offset).astype(np.float64)
    dx = (c[:, 0] - center[0]) * spacing.col_mm
    dy = (c[:, 1] - center[1]) * spacing.row_mm
    r = np.hypot(dx, dy)
    idx = (np.floor((np.arctan2(dy, dx) % (2 * np.pi)) / (2 * np.pi) * bins).astype(int)) % bins
    prof = np.full(bins, -1.0)
    np.maximum.at(prof, idx, r)
    filled = prof >= 0
    if not filled.any():
        return np.zeros(bins)
    pos = np.flatnonzero(filled)
    return np.interp(np.arange(bins), pos, prof[pos], period=bins)


def _profile_point(center: Point, r_mm: float, j: int, bins: int, spacing: PixelSpacing) -> Point:
    th = (j + 0.5) * 2 * np.pi / bins
    return (center[0] + r_mm * np.cos(th) / spacing.col_mm, center[1] + r_mm * np.sin(th) / spacing.row_mm)


def _mask_spike_bases(prof: np.ndarray, center: Point, spikes: list[Spicule], spacing: PixelSpacing) -> np.ndarray:
    """Bridge the profile over the angles where spicules leave the core (their bases are
    bumps of the core, not lobulation)."""
    bins = len(prof)
    keep = np.ones(bins, dtype=bool)
    for sp in spikes:
        th = math.atan2((sp.base_px[1] - center[1]) * spacing.row_mm, (sp.base_px[0] - center[0]) * spacing.col_mm)
        j = int(math.floor((th % (2 * math.pi)) / (2 * math.pi) * bins))
        w = max(2, int(bins * SPIKE_BASE_DEG / 360))
        keep[np.arange(j - w, j + w + 1) % bins] = False
    if keep.sum() < bins // 4:
        return prof
    pos = np.flatnonzero(keep)
    return np.interp(np.arange(bins), pos, prof[pos], period=bins)


def profile_minima(prof: np.ndarray, min_prominence: float) -> list[tuple[int, float, float, float]]:
    """Minima of a circular radial profile: (bin, prominence mm, width in degrees at half
    prominence, smoothed radius mm)."""
    bins = len(prof)
    k = max(1, bins // 120)
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    smooth = np.convolve(np.concatenate([prof[-k:], prof, prof[:k]]), kernel, mode="valid")
    tiled = np.concatenate([smooth, smooth, smooth])
    found, props = signal.find_peaks(-tiled, prominence=min_prominence, width=0, rel_height=0.5)
    out: list[tuple[int, float, float, float]] = []
    for i, prom, wid in zip(found, props["prominences"], props["widths"], strict=True):
        if bins <= i < 2 * bins:
            j = int(i - bins)
            out.append((j, float(prom), float(wid) * 360.0 / bins, float(smooth[j])))
    return out


def find_notches(
    core: np.ndarray,
    center: Point,
    spacing: PixelSpacing,
    spikes: list[Spicule] | None = None,
    hidden: np.ndarray | None = None,
    offset: tuple[int, int] = (0, 0),
) -> list[Notch]:
    """Concavities of the margin: narrow minima of the radial profile, deep enough."""
    if core.sum() < 12:
        return []
    prof = radial_profile(core, center, spacing, hidden=hidden, offset=offset)
    if spikes:
        prof = _mask_spike_bases(prof, center, spikes, spacing)
    r_mean = float(prof.mean())
    px_mm = max(spacing.row_mm, spacing.col_mm)
    min_depth = max(NOTCH_MIN_MM, NOTCH_PX * px_mm, NOTCH_MIN_FRAC * r_mean)
    deep = max(min_depth, LOBULATION_FRAC * r_mean)
    minima = [m for m in profile_minima(prof, min_depth) if m[2] <= NOTCH_MAX_WIDTH_DEG]
    if not any(prom >= deep for _, prom, _, _ in minima):
        return []  # undulation only: no notch deep enough to call the margin lobulated
    notches: list[Notch] = []
    for j, prom, _width, radius in minima:
        x, y = _profile_point(center, radius, j, len(prof), spacing)
        p = (round(float(x), 1), round(float(y), 1))
        notches.append(Notch(clock_of(center, p), round(prom, 1), p))
    notches.sort(key=lambda n_: n_.clock)
    return notches


SPICULE_SCORE_STEP = 0.1  # margin score per spicule beyond the 1.5 that separates one from two


def lobulation_score(
    core: np.ndarray,
    center: Point,
    spacing: PixelSpacing,
    spikes: list[Spicule] | None = None,
    hidden: np.ndarray | None = None,
    offset: tuple[int, int] = (0, 0),
) -> float:
    """How far the deepest notch is from the depth that makes a margin lobulated, in units of
    the core's mean radius: >= 0 exactly when ``find_notches`` finds the margin lobulated."""
    if core.sum() < 12:
        return -LOBULATION_FRAC
    prof = radial_profile(core, center, spacing, hidden=hidden, offset=offset)
    if spikes:
        prof = _mask_spike_bases(prof, center, spikes, spacing)
    r_mean = max(float(prof.mean()), 1e-6)
    px_mm = max(spacing.row_mm, spacing.col_mm)
    min_depth = max(NOTCH_MIN_MM, NOTCH_PX * px_mm, NOTCH_MIN_FRAC * r_mean)
    deep = max(min_depth, LOBULATION_FRAC * r_mean)
    proms = [prom for _, prom, width, _ in profile_minima(prof, min_depth) if width <= NOTCH_MAX_WIDTH_DEG]
    return (max(proms, default=0.0) - deep) / r_mean


def margin_score(lobulation: float, n_spicules: int) -> float:
    """One signed score for the read: the larger of the lobulation score and a spicule term
    (>= 0 from two spicules on, as ``assess_margin`` calls a margin spiculated)."""
    return max(lobulation, SPICULE_SCORE_STEP * (n_spicules - 1.5))


WINDOW_PAD = 3  # the window's margin round the mask: the edge distances of find_spicules reach 2 beyond it


def assess_margin(mask: np.ndarray, center: Point, spacing: PixelSpacing, hidden: np.ndarray | None = None) -> Margin:
    """``hidden``: where the lesion's edge is not its own (cut where another opacity overlaps).
    Read in the mask's window (every step is local to the mask: the same result as on the whole
    film); the points and the core are the film's."""
    win = window(mask, WINDOW_PAD)
    return _assess(mask, center, spacing, hidden, win)


def _assess(film_mask: np.ndarray, center: Point, spacing: PixelSpacing, film_hidden: np.ndarray | None,
            win: Window) -> Margin:
    mask, hidden, offset = film_mask[win], None if film_hidden is None else film_hidden[win], origin(win)
    core, _ = core_of(mask, spacing)
    spicules = find_spicules(mask, core, center, spacing, offset)
    if film_hidden is not None:
        spicules = [s for s in spicules if not film_hidden[int(s.tip_px[1]), int(s.tip_px[0])]]
    notches = find_notches(core, center, spacing, spicules, hidden, offset)
    core_d = 2 * math.sqrt(float(core.sum()) * spacing.row_mm * spacing.col_mm / math.pi)
    if len(spicules) >= 2:
        word = "spiculated"
    elif len(notches) >= LOBULATED_MIN_NOTCHES:
        word = "lobulated"
    else:
        word = "smooth"
    score = margin_score(lobulation_score(core, center, spacing, spicules, hidden, offset), len(spicules))
    whole = np.zeros(film_mask.shape, dtype=bool)
    whole[win] = core
    return Margin(word, tuple(notches), tuple(spicules), core_d, whole, round(score, 4))
