"""Lesion candidates from the lesion heatmap: threshold, connected components, shape measures.

The heatmap may be soft and blurred (the encoder's lesion head runs at a fraction of the
working resolution); it is lightly smoothed and thresholded at 0.5, and each component keeps
its own mask, contour and measures in mm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from orchestrator.facts import Density, PixelSpacing, Point

THRESHOLD = 0.5
MIN_DIAMETER_MM = 3.0
SMOOTH_SIGMA_PX = 0.7
STRAND_ELONGATION = 2.5
STRAND_MAX_WIDTH_MM = 8.0
STRAND_MAX_ANGLE_DEG = 25.0
STRAND_MAX_THICKNESS_MM = 12.0
SPICULE_MAX_MM = 10.0
STRAND_MIN_LENGTH_MM = 15.0
STRAND_MAX_SPREAD = 0.9  # parallel strands up to this fraction of their length apart are one opacity


@dataclass(frozen=True, eq=False)
class Candidate:
    """One connected lesion region and its measures (pixels and mm)."""

    mask: np.ndarray  # bool (H, W)
    contour: np.ndarray  # (N, 2) float, x y, full resolution, closed implicitly
    center: Point
    bbox: tuple[float, float, float, float]
    area_mm2: float
    diameter_mm: float  # equivalent circle
    longest_mm: float
    shortest_mm: float
    orientation_deg: float  # of the long axis, 0 = image horizontal, counter-clockwise positive
    solidity: float
    peak: float  # heatmap maximum inside
    thickness_mm: float = 0.0  # diameter of the largest inscribed disc
    parts: int = 1  # > 1: parallel thin strands grouped into one strand-like opacity

    @property
    def elongation(self) -> float:
        return self.longest_mm / max(self.shortest_mm, 1e-6)


def lesion_mask(heatmap: np.ndarray) -> np.ndarray:
    hm = np.asarray(heatmap, dtype=np.float32)
    if SMOOTH_SIGMA_PX > 0:
        hm = cv2.GaussianBlur(hm, (0, 0), SMOOTH_SIGMA_PX)
    return hm >= THRESHOLD


def find_candidates(heatmap: np.ndarray, spacing: PixelSpacing) -> list[Candidate]:
    mask = lesion_mask(heatmap)
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    px_area = spacing.row_mm * spacing.col_mm
    min_area = math.pi * (MIN_DIAMETER_MM / 2) ** 2 / px_area
    out: list[Candidate] = []
    for lab in range(1, n):
        comp = labels == lab
        if comp.sum() < max(min_area, 4):
            continue
        cand = measure(comp, spacing, float(heatmap[comp].max()))
        if cand is not None:
            out.append(cand)
    return group_strands(out, spacing)


def is_thin(c: Candidate) -> bool:
    """Linear: elongated and narrow, or made of lines (no part thicker than a strand)."""
    if c.elongation >= STRAND_ELONGATION and c.shortest_mm <= STRAND_MAX_WIDTH_MM:
        return True
    if c.thickness_mm > STRAND_MAX_THICKNESS_MM:
        return False
    # a spiculated nodule reaches at most its body plus a spicule either side
    spiculated_reach = c.thickness_mm + 2 * min(SPICULE_MAX_MM, 2.0 + c.thickness_mm / 2) + 3.0
    return c.longest_mm >= max(STRAND_MIN_LENGTH_MM, spiculated_reach)


def _axis_offsets(a: Candidate, b: Candidate, spacing: PixelSpacing) -> tuple[float, float]:
    """(along, across) offset in mm of b's centre from a's, relative to a's long axis."""
    th = math.radians(a.orientation_deg)
    dx = (b.center[0] - a.center[0]) * spacing.col_mm
    dy = -(b.center[1] - a.center[1]) * spacing.row_mm
    return abs(dx * math.cos(th) + dy * math.sin(th)), abs(-dx * math.sin(th) + dy * math.cos(th))


def _parallel_neighbours(a: Candidate, b: Candidate, spacing: PixelSpacing) -> bool:
    dang = abs((a.orientation_deg - b.orientation_deg + 90) % 180 - 90)
    if dang > STRAND_MAX_ANGLE_DEG:
        return False
    length = max(a.longest_mm, b.longest_mm)
    along, across = _axis_offsets(a, b, spacing) if a.longest_mm >= b.longest_mm else _axis_offsets(b, a, spacing)
    return along <= 0.5 * length and across <= STRAND_MAX_SPREAD * length


def group_strands(cands: list[Candidate], spacing: PixelSpacing) -> list[Candidate]:
    """Thin, roughly parallel neighbouring components are one strand-like opacity (a band of
    linear strands); everything else is left as it is."""
    thin = [i for i, c in enumerate(cands) if is_thin(c)]
    parent = list(range(len(cands)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for k, i in enumerate(thin):
        for j in thin[k + 1 :]:
            if _parallel_neighbours(cands[i], cands[j], spacing):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(cands)):
        groups.setdefault(find(i), []).append(i)
    out: list[Candidate] = []
    for members in groups.values():
        if len(members) == 1:
            out.append(cands[members[0]])
            continue
        union = np.zeros_like(cands[members[0]].mask)
        for i in members:
            union |= cands[i].mask
        merged = measure(union, spacing, max(cands[i].peak for i in members), parts=len(members))
        out.append(merged if merged is not None else cands[members[0]])
    return out


def outer_contour(mask: np.ndarray) -> np.ndarray:
    """The outer contour (x, y) of the mask; of several parts, their convex hull."""
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not cs:
        return np.zeros((0, 2))
    if len(cs) > 1 and sum(len(k) for k in cs[1:]) > 0:
        pts = np.concatenate(cs)[:, 0, :]
        return cv2.convexHull(pts)[:, 0, :].astype(np.float64)
    return cs[0][:, 0, :].astype(np.float64)


def measure(mask: np.ndarray, spacing: PixelSpacing, peak: float = 1.0, parts: int = 1) -> Candidate | None:
    contour = outer_contour(mask)
    if len(contour) < 3:
        return None
    ys, xs = np.nonzero(mask)
    area_mm2 = float(mask.sum()) * spacing.row_mm * spacing.col_mm
    scale = np.array([spacing.col_mm, spacing.row_mm])
    pts_mm = contour * scale
    hull = cv2.convexHull(pts_mm.astype(np.float32))[:, 0, :].astype(np.float64)
    longest = _max_feret(hull)
    (rcx, rcy), (rw, rh), _ = cv2.minAreaRect(pts_mm.astype(np.float32))
    center = (float(xs.mean()), float(ys.mean()))
    if parts > 1:  # a band of strands: its length and width are the sides of its bounding rectangle
        longest = float(max(rw, rh))
        center = (rcx / spacing.col_mm, rcy / spacing.row_mm)
    shortest = float(min(rw, rh)) if min(rw, rh) > 0 else min(spacing.row_mm, spacing.col_mm)
    shortest = min(shortest + min(spacing.row_mm, spacing.col_mm), longest)
    hull_area = float(cv2.contourArea(hull.astype(np.float32)))
    solidity = min(1.0, area_mm2 / hull_area) if hull_area > 0 else 1.0
    return Candidate(
        mask=mask,
        contour=contour,
        center=center,
        bbox=(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())),
        area_mm2=area_mm2,
        diameter_mm=math.sqrt(4 * area_mm2 / math.pi),
        longest_mm=longest + min(spacing.row_mm, spacing.col_mm),
        shortest_mm=shortest,
        orientation_deg=_orientation(xs * spacing.col_mm, ys * spacing.row_mm),
        solidity=solidity,
        peak=peak,
        thickness_mm=_thickness(mask, spacing),
        parts=parts,
    )


def _thickness(mask: np.ndarray, spacing: PixelSpacing) -> float:
    ys, xs = np.nonzero(mask)
    sub = np.pad(mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 1)
    dist = ndimage.distance_transform_edt(sub, sampling=(spacing.row_mm, spacing.col_mm))
    return float(2 * dist.max())


def _max_feret(hull: np.ndarray) -> float:
    if len(hull) < 2:
        return 0.0
    d = hull[:, None, :] - hull[None, :, :]
    return float(np.sqrt((d**2).sum(-1)).max())


def _orientation(xs_mm: np.ndarray, ys_mm: np.ndarray) -> float:
    """Angle of the principal axis in degrees, 0 = horizontal, positive counter-clockwise as
    seen on the display (y grows downwards, so the sign of y is flipped)."""
    if len(xs_mm) < 3:
        return 0.0
    x = xs_mm - xs_mm.mean()
    y = -(ys_mm - ys_mm.mean())
    cxx, cyy, cxy = float((x * x).mean()), float((y * y).mean()), float((x * y).mean())
    theta = 0.5 * math.degrees(math.atan2(2 * cxy, cxx - cyy))
    return round(theta if theta > -90 else theta + 180, 1)


def shape_word(c: Candidate) -> str:
    """round / oval / strand-like / patchy."""
    if c.parts > 1 or is_thin(c):
        return "strand-like"
    if c.solidity < 0.75 and c.diameter_mm >= 15:
        return "patchy"
    if c.elongation < 1.35:
        return "round"
    return "oval"


def kind_guess(c: Candidate, shape: str, density: Density, basal_pleural: bool) -> str:
    """nodule, mass, strand, consolidation, calcified_nodule, cavity, effusion."""
    calcified, cavity = density.calcified, density.cavity
    if basal_pleural and c.longest_mm >= 30 and shape != "round":
        return "effusion"
    if shape == "strand-like":
        return "strand"
    if cavity:
        return "cavity"
    if calcified and c.diameter_mm < 30:
        return "calcified_nodule"
    if shape == "patchy" or (c.diameter_mm >= 30 and (c.solidity < 0.8 or not density.homogeneous)):
        return "consolidation"
    return "mass" if c.diameter_mm >= 30 else "nodule"
