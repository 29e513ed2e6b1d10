"""Lesion candidates from the lesion heatmap: threshold, connected components, shape measures.

The heatmap may be soft and blurred (the encoder's lesion head runs at a fraction of the
working resolution); it is lightly smoothed and thresholded at 0.5, and a region counts as a
lesion only where the heatmap reaches ``DETECT_PEAK`` somewhere inside it. That gate was fitted
on validation seeds 50-199 (never trained on, never used for the reported figures on 0-49)
with the shipped stage-D weights (encoder/weights/TRAINING.md): every matched lesion >= 8 mm
but one peaked at a raw sigmoid >= 0.995, while most false positives were small regions
(4-10 mm) peaking at 0.92-0.98; a raw gate of 0.98 removed 22 of the 39 false positives and one
nodule (peak 0.95). On the calibrated map the encoder delivers (odds / 4, see
``orchestrator.encoders.postprocess``) that gate is 0.92.
Truth maps (peak 1) pass unchanged. Each component keeps its own mask, contour and measures
in mm.

One lesion can leave several regions at 0.5 (a band of strands comes out of the half-resolution
map as beads). :func:`merge_pieces` joins regions that the heatmap still connects at
``LINK_THRESHOLD`` when their union reads as one strand-like opacity (a band of parallel lines,
:func:`is_strand_like`); two round opacities side by side never do (their union's edges run in
every direction), so they stay two findings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy import ndimage

from orchestrator.facts import Density, PixelSpacing, Point
from orchestrator.findings.windows import origin, window

THRESHOLD = 0.5
DETECT_PEAK = 0.92  # on the calibrated map (orchestrator.encoders.postprocess): a raw sigmoid of ~0.98
MIN_DIAMETER_MM = 3.0
MASS_MM = 30.0  # a round opacity this wide or wider is a mass, smaller a nodule
SMOOTH_SIGMA_PX = 0.7
SPLIT_MIN_RADIUS_MM = 2.5
SPLIT_NECK = 0.75  # the waist's half-width is at most this fraction of each body's radius
SPLIT_NECK_EQUAL = 0.9  # ... or of this fraction where the bodies are of similar size (see _neck)
SPLIT_EQUAL_RATIO = 0.6
SPLIT_SEPARATION = 0.7
STRAND_ELONGATION = 2.5
STRAND_MAX_WIDTH_MM = 8.0
STRAND_MAX_ANGLE_DEG = 25.0
STRAND_MAX_THICKNESS_MM = 12.0
SPICULE_MAX_MM = 10.0
STRAND_COHERENCE = 0.4
STRAND_BAND_THICKNESS = 0.5  # a band of strands is at most this thick for its length
STRAND_MIN_LENGTH_MM = 15.0
STRAND_MAX_SPREAD = 0.9  # parallel strands up to this fraction of their length apart are one opacity
# regions the smoothed heatmap joins at this level may be pieces of one lesion (merge_pieces). Fitted on
# validation seeds 50-129 (default mix) and 50-89 (scenario case), never on 0-49: strand pieces join at
# 0.2-0.4, while the closest pair of separate nodules there (and seed 7's two LUL nodules) join below 0.2.
LINK_THRESHOLD = 0.2


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
    rect_mm: tuple[float, float] = (0.0, 0.0)  # long and short side of the minimum-area rectangle
    hidden_edge: np.ndarray | None = None  # where the edge was cut from an overlapping opacity
    parts: int = 1  # > 1: parallel thin strands grouped into one strand-like opacity
    strand_like: bool = False  # set by lesion_regions (is_strand_like, judged once per region)

    @property
    def elongation(self) -> float:
        return self.longest_mm / max(self.shortest_mm, 1e-6)


def smoothed(heatmap: np.ndarray) -> np.ndarray:
    """The heatmap as the thresholds read it: lightly smoothed (``SMOOTH_SIGMA_PX``)."""
    hm = np.asarray(heatmap, dtype=np.float32)
    return cv2.GaussianBlur(hm, (0, 0), SMOOTH_SIGMA_PX) if SMOOTH_SIGMA_PX > 0 else hm


def lesion_mask(heatmap: np.ndarray, detect_peak: float = DETECT_PEAK) -> np.ndarray:
    """Pixels of the lesions: the smoothed heatmap cut at ``THRESHOLD``, keeping only the
    regions whose peak reaches ``detect_peak`` (``DETECT_PEAK``, see the module docstring; another
    gate only where an evaluation sweeps it, ``encoder.evaluate``'s FROC)."""
    hm = smoothed(heatmap)
    mask = hm >= THRESHOLD
    if not mask.any():
        return mask
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)  # a region's peak reaches DETECT_PEAK iff one of its pixels does
    keep[np.unique(labels[hm >= detect_peak])] = True
    keep[0] = False
    return keep[labels]


def find_candidates(heatmap: np.ndarray, spacing: PixelSpacing, detect_peak: float = DETECT_PEAK) -> list[Candidate]:
    mask = lesion_mask(heatmap, detect_peak)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    px_area = spacing.row_mm * spacing.col_mm
    min_area = math.pi * (MIN_DIAMETER_MM / 2) ** 2 / px_area
    out: list[Candidate] = []
    for lab in range(1, n):
        if stats[lab, cv2.CC_STAT_AREA] < max(min_area, 4):
            continue
        x, y, w, h = (int(v) for v in stats[lab, :4])
        box = (slice(y, y + h), slice(x, x + w))
        comp = np.zeros(mask.shape, dtype=bool)
        comp[box] = labels[box] == lab
        cand = measure(comp, spacing, float(heatmap[box][comp[box]].max()))
        if cand is not None:
            out.append(cand)
    return group_strands(out, spacing)


def lesion_regions(heatmap: np.ndarray, image: np.ndarray, spacing: PixelSpacing,
                   detect_peak: float = DETECT_PEAK) -> list[Candidate]:
    """The lesions the findings layer describes: :func:`find_candidates`, with round opacities
    that overlap on the film split apart (strand-like ones are kept whole). Each one carries
    ``strand_like``, so the morphology downstream does not judge it again. Pieces of one
    strand-like opacity are joined (:func:`merge_pieces`)."""
    out: list[Candidate] = []
    for c in find_candidates(heatmap, spacing, detect_peak):
        if is_strand_like(c, image):
            out.append(replace(c, strand_like=True))
            continue
        parts = split_merged(c, spacing)
        if len(parts) == 1:  # not split: split_merged hands back the region itself
            out.append(c)
        else:
            out += [replace(p, strand_like=is_strand_like(p, image)) for p in parts]
    return merge_pieces(out, heatmap, image, spacing)


def merge_pieces(cands: list[Candidate], heatmap: np.ndarray, image: np.ndarray, spacing: PixelSpacing) -> list[Candidate]:
    """Join regions that are pieces of one lesion: the smoothed heatmap connects them at
    ``LINK_THRESHOLD`` and their union is strand-like (long enough, a band, its edges parallel:
    :func:`is_strand_like` judged on the union as one region). Pairs are joined greedily, the
    closest first, until no pair qualifies; a joined group is measured as a band of ``parts``
    regions (its length and width the sides of its bounding rectangle, as :func:`as_strand`)."""
    if len(cands) < 2:
        return cands
    low, _ = ndimage.label(smoothed(heatmap) >= LINK_THRESHOLD, structure=np.ones((3, 3)))
    groups: list[tuple[list[Candidate], int]] = [([c], _link_label(c, low)) for c in cands]
    while True:
        best: tuple[float, int, int, Candidate] | None = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if groups[i][1] == 0 or groups[i][1] != groups[j][1]:
                    continue
                d = _gap_px(groups[i][0], groups[j][0])
                if best is not None and d >= best[0]:
                    continue
                union = _union([*groups[i][0], *groups[j][0]])
                whole = measure(union, spacing, max(c.peak for c in (*groups[i][0], *groups[j][0])))
                if whole is not None and is_strand_like(whole, image):
                    best = (d, i, j, whole)
        if best is None:
            break
        _, i, j, _ = best
        groups[i] = ([*groups[i][0], *groups[j][0]], groups[i][1])
        del groups[j]
    out: list[Candidate] = []
    for members, _ in groups:
        if len(members) == 1:
            out.append(members[0])
            continue
        merged = measure(_union(members), spacing, max(c.peak for c in members), parts=len(members))
        out.append(replace(merged, strand_like=True) if merged is not None else members[0])
    return out


def _link_label(c: Candidate, low: np.ndarray) -> int:
    """The ``LINK_THRESHOLD`` component a region lies in (0 where it lies in none)."""
    labels = low[c.mask]
    labels = labels[labels > 0]
    return int(np.bincount(labels).argmax()) if labels.size else 0


def _union(members: list[Candidate]) -> np.ndarray:
    union = np.zeros_like(members[0].mask)
    for c in members:
        union |= c.mask
    return union


def _gap_px(a: list[Candidate], b: list[Candidate]) -> float:
    """Distance between the nearest centres of two groups, in pixels (orders the joins)."""
    return min(math.dist(p.center, q.center) for p in a for q in b)


def split_merged(c: Candidate, spacing: PixelSpacing) -> list[Candidate]:
    """Two round opacities that overlap on the film make one component with a waist. Cut it
    (watershed on the distance to the edge) where the waist is narrower than ``SPLIT_NECK`` of
    the smaller body's radius (``SPLIT_NECK_EQUAL`` for bodies of similar size); lobulation
    notches and spicules are far from that. The looser neck for similar bodies was fitted on
    validation seeds 100-159 with the stage-C encoder's maps, where touching opacities come out of
    the half-resolution lesion map with a filled-in waist (encoder/weights/TRAINING.md)."""
    # everything below runs on the candidate's padded bounding box (a few % of the film), offset back
    ys, xs = np.nonzero(c.mask)
    if not len(ys):
        return [c]
    h, w = c.mask.shape
    y0, x0 = max(int(ys.min()) - 2, 0), max(int(xs.min()) - 2, 0)  # as geometry.local_edt pads
    box = (slice(y0, min(int(ys.max()) + 3, h)), slice(x0, min(int(xs.max()) + 3, w)))
    dist = ndimage.distance_transform_edt(c.mask[box], sampling=(spacing.row_mm, spacing.col_mm))
    dmax = float(dist.max())
    if dmax < 2 * SPLIT_MIN_RADIUS_MM:
        return [c]
    for level in np.linspace(0.25, 0.85, 13) * dmax:
        lab, n = ndimage.label(dist >= level)
        if n < 2:
            continue
        peaks = ndimage.maximum(dist, lab, range(1, n + 1))
        seeds = [i + 1 for i, p in enumerate(peaks) if p >= SPLIT_MIN_RADIUS_MM and level <= _neck(p, float(max(peaks))) * p]
        if len(seeds) >= 2 and _separate_bodies(dist, lab, seeds, spacing):
            return _power_split(c, dist, lab, seeds, spacing, (y0, x0))
    return [c]


def _neck(radius: float, largest: float) -> float:
    """How wide a waist (a fraction of this body's radius) still separates it: ``SPLIT_NECK``,
    or ``SPLIT_NECK_EQUAL`` for a body about as large as the largest one (two opacities of
    similar size that overlap broadly; a bump on one body is never that large)."""
    return SPLIT_NECK_EQUAL if radius >= SPLIT_EQUAL_RATIO * largest else SPLIT_NECK


def _separate_bodies(dist: np.ndarray, lab: np.ndarray, seeds: list[int], spacing: PixelSpacing) -> bool:
    """The two largest seeds are two bodies: their centres lie apart by most of their radii."""
    peaks = sorted(((float(dist[lab == s].max()), s) for s in seeds), reverse=True)[:2]
    pos = [ndimage.maximum_position(dist, lab, s) for _, s in peaks]
    (y0, x0), (y1, x1) = pos
    d = math.hypot((x1 - x0) * spacing.col_mm, (y1 - y0) * spacing.row_mm)
    return d >= SPLIT_SEPARATION * (peaks[0][0] + peaks[1][0])


def _power_split(c: Candidate, dist: np.ndarray, lab: np.ndarray, seeds: list[int], spacing: PixelSpacing,
                 offset: tuple[int, int] = (0, 0)) -> list[Candidate]:
    """Assign each pixel to the body whose circle (centre at its distance peak, radius the peak
    value) it lies deepest in: the power diagram, exact for two overlapping discs. ``dist`` and
    ``lab`` cover the box at ``offset`` (y, x) of the film."""
    ys, xs = np.nonzero(c.mask)
    px, py = xs * spacing.col_mm, ys * spacing.row_mm
    power = []
    for s in seeds:
        by, bx = ndimage.maximum_position(dist, lab, s)
        r = float(dist[by, bx])
        cy, cx = by + offset[0], bx + offset[1]
        power.append((px - cx * spacing.col_mm) ** 2 + (py - cy * spacing.row_mm) ** 2 - r**2)
    owner = np.argmin(np.stack(power), axis=0)
    out = []
    for k in range(len(seeds)):
        part = np.zeros_like(c.mask)
        part[ys[owner == k], xs[owner == k]] = True
        cand = _split_part(c.mask, part, spacing, c.peak)
        if cand is not None:
            out.append(cand)
    return out if len(out) >= 2 else [c]


def _split_part(whole: np.ndarray, part: np.ndarray, spacing: PixelSpacing, peak: float) -> Candidate | None:
    """One of two overlapping round opacities: its size and centre come from a circle fitted
    to its own free edge (the cut edge, where the other one covers it, is left out)."""
    cand = measure(part, spacing, peak)
    if cand is None:
        return None
    outside = ~whole
    near_outside = ndimage.binary_dilation(outside, structure=np.ones((3, 3)))
    edge = np.argwhere(part & near_outside)  # (row, col) on the free edge
    fit = _fit_circle(edge[:, 1] * spacing.col_mm, edge[:, 0] * spacing.row_mm) if len(edge) >= 8 else None
    if fit is None:
        return cand
    cx, cy, r = fit
    hidden = ndimage.binary_dilation(part & ~near_outside & ~ndimage.binary_erosion(part), iterations=2)
    if not (0.5 * cand.diameter_mm <= 2 * r <= 2.0 * cand.longest_mm):
        return replace(cand, hidden_edge=hidden)
    return replace(cand, center=(cx / spacing.col_mm, cy / spacing.row_mm), diameter_mm=2 * r,
                   longest_mm=max(cand.longest_mm, 2 * r), hidden_edge=hidden)


def _fit_circle(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares (Kasa) circle through points: centre x, y and radius."""
    a = np.stack([x, y, np.ones_like(x)], axis=1)
    b = x**2 + y**2
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    cx, cy = sol[0] / 2, sol[1] / 2
    r2 = sol[2] + cx**2 + cy**2
    return (float(cx), float(cy), math.sqrt(r2)) if r2 > 0 else None


def is_thin(c: Candidate) -> bool:
    """Linear: elongated and narrow, or made of lines (no part thicker than a strand)."""
    if c.elongation >= STRAND_ELONGATION and c.shortest_mm <= STRAND_MAX_WIDTH_MM:
        return True
    if c.thickness_mm > STRAND_MAX_THICKNESS_MM:
        return False
    # a spiculated nodule reaches at most its body plus a spicule either side
    spiculated_reach = c.thickness_mm + 2 * min(SPICULE_MAX_MM, 2.0 + c.thickness_mm / 2) + 3.0
    return c.longest_mm >= max(STRAND_MIN_LENGTH_MM, spiculated_reach)


def orientation_coherence(image: np.ndarray, mask: np.ndarray) -> float:
    """How parallel the image's edges inside the mask are: the coherence of the mask-averaged
    structure tensor, 0 (edges in every direction, a round opacity) to 1 (parallel lines)."""
    ys, xs = np.nonzero(mask)
    pad = 4
    y0, y1 = max(0, ys.min() - pad), min(mask.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(mask.shape[1], xs.max() + pad + 1)
    g = cv2.GaussianBlur(np.asarray(image[y0:y1, x0:x1], dtype=np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
    m = mask[y0:y1, x0:x1]
    jxx, jyy, jxy = float((gx * gx)[m].mean()), float((gy * gy)[m].mean()), float((gx * gy)[m].mean())
    trace = jxx + jyy
    return math.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / trace if trace > 1e-12 else 0.0


def as_strand(c: Candidate) -> Candidate:
    """A strand-like opacity is measured by its bounding rectangle: length x width."""
    return replace(c, longest_mm=c.rect_mm[0], shortest_mm=c.rect_mm[1])


def is_strand_like(c: Candidate, image: np.ndarray) -> bool:
    """Thin, or a band of parallel lines (overlapping strands fill a band whose edges run one way)."""
    if c.parts > 1 or is_thin(c):
        return True
    if c.longest_mm < STRAND_MIN_LENGTH_MM or c.thickness_mm > STRAND_BAND_THICKNESS * c.longest_mm:
        return False
    return orientation_coherence(image, c.mask) >= STRAND_COHERENCE


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


def outer_contour(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The outer contour (x, y) of the mask, ``offset`` added; of several parts, their convex hull."""
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=offset)
    if not cs:
        return np.zeros((0, 2))
    if len(cs) > 1 and sum(len(k) for k in cs[1:]) > 0:
        pts = np.concatenate(cs)[:, 0, :]
        return cv2.convexHull(pts)[:, 0, :].astype(np.float64)
    return cs[0][:, 0, :].astype(np.float64)


def equivalent_diameter_mm(pixels: int, spacing: PixelSpacing) -> float:
    """The diameter of the circle as large as ``pixels`` pixels (a region's "equivalent circle")."""
    return math.sqrt(4 * pixels * spacing.row_mm * spacing.col_mm / math.pi)


def measure(mask: np.ndarray, spacing: PixelSpacing, peak: float = 1.0, parts: int = 1) -> Candidate | None:
    """The region's outline, centre, sizes and shape numbers, read in its bounding box (a pixel of
    background round it for the contour; coordinates are the film's)."""
    win = window(mask, 1)
    part = mask[win]
    x0, y0 = origin(win)
    contour = outer_contour(part, (x0, y0))
    if len(contour) < 3:
        return None
    ys, xs = np.nonzero(part)
    ys, xs = ys + y0, xs + x0
    area_mm2 = float(part.sum()) * spacing.row_mm * spacing.col_mm
    scale = np.array([spacing.col_mm, spacing.row_mm])
    pts_mm = contour * scale
    hull = cv2.convexHull(pts_mm.astype(np.float32))[:, 0, :].astype(np.float64)
    longest = _max_feret(hull)
    (rcx, rcy), (rw, rh), _ = cv2.minAreaRect(pts_mm.astype(np.float32))
    px = min(spacing.row_mm, spacing.col_mm)
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
        diameter_mm=equivalent_diameter_mm(int(part.sum()), spacing),
        longest_mm=longest + min(spacing.row_mm, spacing.col_mm),
        shortest_mm=shortest,
        orientation_deg=_orientation(xs * spacing.col_mm, ys * spacing.row_mm),
        solidity=solidity,
        peak=peak,
        thickness_mm=_thickness(part, spacing),
        rect_mm=(float(max(rw, rh)) + px, float(min(rw, rh)) + px),
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
    return "mass" if c.diameter_mm >= MASS_MM else "nodule"
