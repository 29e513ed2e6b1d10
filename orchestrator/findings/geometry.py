"""Anatomy geometry from the encoder's maps: lungs, lobes, zones, bands, hila, apices,
costophrenic angles, cardiac silhouette, mediastinum, retrocardiac area, diaphragm domes.

Zone and band follow the phantom's definitions (``encoder.phantom.anatomy``):
- zone: upper / middle / lower third of the height of that side's lung field;
- band: inner / middle / outer third of the lung field's width on the point's row, from its
  medial edge to its lateral edge (the right lung's lateral edge is on the image's left).

Coordinates are ``(x, y)`` = (column, row); the patient's right is on the image's left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.facts import AnatomyRegion, CostophrenicAngle, PixelSpacing, Point

ZONES: tuple[str, ...] = ("upper", "middle", "lower")
BANDS: tuple[str, ...] = ("inner", "middle", "outer")
SIDE_LOBES: dict[str, tuple[str, ...]] = {"right": ("RUL", "RML", "RLL"), "left": ("LUL", "LLL")}
CP_ARM_MM = 18.0  # length of the arms that measure a costophrenic angle
CP_BLUNT_DEG = 80.0  # above this the angle reads as blunted
MIN_LUNG_PX = 200
# where an upper and a lower projected lobe overlap on a column, the fraction of the overlap
# (from the lower lobe's top) above which a point is called the upper lobe; fitted on phantom
# films (seeds 100-249), see loadtests/score_findings.py
LOBE_SPLIT: dict[tuple[str, str], float] = {
    ("RUL", "RML"): 0.0, ("RML", "RLL"): 0.3, ("RUL", "RLL"): 0.35, ("LUL", "LLL"): 0.3,
}


@dataclass(frozen=True, eq=False)
class Lung:
    """One lung field as a bool mask with its row extent."""

    side: str
    mask: np.ndarray
    top: int
    bottom: int

    @property
    def present(self) -> bool:
        return self.bottom > self.top

    def zone(self, y: float) -> str:
        frac = (y - self.top) / max(self.bottom - self.top, 1)
        return ZONES[int(np.clip(math.floor(frac * 3), 0, 2))]

    def row_edges(self, y: float) -> tuple[float, float] | None:
        """(left, right) image columns of the lung on row ``y`` (the next filled row below if empty)."""
        row = int(np.clip(round(y), self.top, self.bottom))
        while row <= self.bottom:
            cols = np.flatnonzero(self.mask[row])
            if len(cols):
                return float(cols.min()), float(cols.max())
            row += 1
        return None

    def band(self, x: float, y: float) -> str:
        edges = self.row_edges(y)
        if edges is None:
            return "middle"
        left, right = edges
        width = max(right - left, 1.0)
        frac = (right - x) / width if self.side == "right" else (x - left) / width
        return BANDS[int(np.clip(math.floor(frac * 3), 0, 2))]

    def medial_fraction(self, x: float, y: float) -> float:
        edges = self.row_edges(y)
        if edges is None:
            return 0.5
        left, right = edges
        width = max(right - left, 1.0)
        return (right - x) / width if self.side == "right" else (x - left) / width


@dataclass(frozen=True, eq=False)
class Geometry:
    """Everything the findings layer needs to place a lesion in the chest."""

    maps: AnatomyMaps
    spacing: PixelSpacing
    lungs: dict[str, Lung]
    midline_x: float
    hilum_px: dict[str, Point]
    lobe_cy: dict[str, float] = field(default_factory=dict)  # mean row of each lobe present

    def lung(self, side: str) -> Lung:
        return self.lungs[side]

    def mask(self, name: str) -> np.ndarray:
        return self.maps.mask(name)

    def side_of_point(self, x: float, y: float) -> str:
        """The side a point lies on: by lung membership, then by the midline."""
        h, w = self.maps.shape
        xi, yi = int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))
        inside = [s for s, lung in self.lungs.items() if lung.mask[yi, xi]]
        if len(inside) == 1:
            return inside[0]
        return "right" if x < self.midline_x else "left"

    def side_of_mask(self, mask: np.ndarray) -> str:
        """Side of a region: the lung it overlaps most; ties and no overlap go by its centroid."""
        overlaps = {s: int((lung.mask & mask).sum()) for s, lung in self.lungs.items()}
        if overlaps["right"] != overlaps["left"]:
            return max(overlaps, key=lambda s: overlaps[s])
        ys, xs = np.nonzero(mask)
        return self.side_of_point(float(xs.mean()), float(ys.mean()))

    def lobe_of(self, mask: np.ndarray, side: str, center: Point) -> str:
        """Lobe of a lesion centred at ``center``. Projected lobes overlap on a PA film; where
        an upper and a lower lobe both cover the centre, the split lies at a fixed fraction
        of their overlap on that column (``LOBE_SPLIT``: the anterior upper lobe thins
        towards its lower edge, the posterior lower lobe thickens towards the base)."""
        h, w = self.maps.shape
        xi, yi = int(np.clip(round(center[0]), 0, w - 1)), int(np.clip(round(center[1]), 0, h - 1))
        lobes = [lb for lb in SIDE_LOBES[side] if lb in self.lobe_cy]
        here = [lb for lb in lobes if self.maps.channel(lb)[yi, xi] >= 0.5]
        if not here:
            here = [lb for lb in lobes if (self.maps.channel(lb)[mask] >= 0.5).any()]
        if not here:
            return self._lobe_by_height(side, center[1])
        here.sort(key=lambda lb: self.lobe_cy[lb])
        current = here[0]
        for lower in here[1:]:
            upper_col = np.flatnonzero(self.maps.channel(current)[:, xi] >= 0.5)
            lower_col = np.flatnonzero(self.maps.channel(lower)[:, xi] >= 0.5)
            if len(upper_col) == 0 or len(lower_col) == 0:
                continue
            top, bottom = float(lower_col.min()), float(upper_col.max())
            if center[1] > top + LOBE_SPLIT.get((current, lower), 0.3) * (bottom - top):
                current = lower
        return current

    def _lobe_by_height(self, side: str, y: float) -> str:
        zone = self.lungs[side].zone(y)
        if side == "left":
            return "LUL" if zone != "lower" else "LLL"
        return {"upper": "RUL", "middle": "RML", "lower": "RLL"}[zone]

    def distance_mm(self, a: Point, b: Point) -> float:
        return point_distance_mm(a, b, self.spacing)


def point_distance_mm(a: Point, b: Point, spacing: PixelSpacing) -> float:
    """Euclidean distance in mm between two pixel points; symmetric by construction."""
    dx = (a[0] - b[0]) * spacing.col_mm
    dy = (a[1] - b[1]) * spacing.row_mm
    return float(math.hypot(dx, dy))


def _lung(maps: AnatomyMaps, side: str) -> Lung:
    mask = largest_component(maps.mask(f"lung_{side}"))
    rows = np.flatnonzero(mask.any(axis=1))
    if mask.sum() < MIN_LUNG_PX or len(rows) == 0:
        return Lung(side, mask, 0, 0)
    return Lung(side, mask, int(rows.min()), int(rows.max()))


def largest_component(mask: np.ndarray) -> np.ndarray:
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == best


def _midline(maps: AnatomyMaps, lungs: dict[str, Lung]) -> float:
    for name in ("spine", "trachea", "mediastinum"):
        m = maps.mask(name)
        if m.sum() > 50:
            return float(np.nonzero(m)[1].mean())
    r, l_ = lungs["right"], lungs["left"]
    if r.present and l_.present:
        return float((np.nonzero(r.mask)[1].max() + np.nonzero(l_.mask)[1].min()) / 2)
    return maps.shape[1] / 2.0


def _hilum_points(maps: AnatomyMaps, lungs: dict[str, Lung]) -> dict[str, Point]:
    points: dict[str, Point] = {}
    given = maps.hilum_px or {}
    for side in ("right", "left"):
        p = given.get(side)
        if p is not None and all(math.isfinite(v) for v in p):
            points[side] = (float(p[0]), float(p[1]))
            continue
        m = maps.mask(f"hilum_{side}")
        if m.any():
            ys, xs = np.nonzero(m)
            points[side] = (float(xs.mean()), float(ys.mean()))
        elif lungs[side].present:  # fallback: medial third, at mid height of the lung
            lung = lungs[side]
            y = lung.top + 0.45 * (lung.bottom - lung.top)
            edges = lung.row_edges(y) or (0.0, 0.0)
            x = edges[1] - 0.1 * (edges[1] - edges[0]) if side == "right" else edges[0] + 0.1 * (edges[1] - edges[0])
            points[side] = (float(x), float(y))
    return points


def build_geometry(maps: AnatomyMaps, spacing: PixelSpacing) -> Geometry:
    lungs = {side: _lung(maps, side) for side in ("right", "left")}
    lobe_cy: dict[str, float] = {}
    for lobes in SIDE_LOBES.values():
        for lb in lobes:
            rows = np.nonzero(maps.mask(lb))[0]
            if len(rows) >= MIN_LUNG_PX // 4:
                lobe_cy[lb] = float(rows.mean())
    return Geometry(maps, spacing, lungs, _midline(maps, lungs), _hilum_points(maps, lungs), lobe_cy)


# --- regions ---------------------------------------------------------------------------------


def polygon_of(mask: np.ndarray, epsilon_px: float = 1.5) -> tuple[Point, ...]:
    """Outer contour of the mask's largest part, simplified."""
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not cs:
        return ()
    c = max(cs, key=cv2.contourArea)
    c = cv2.approxPolyDP(c, epsilon_px, True)
    return tuple((float(p[0][0]), float(p[0][1])) for p in c)


def region_of(name: str, mask: np.ndarray, with_polygon: bool = True) -> AnatomyRegion | None:
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    bbox = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
    poly = polygon_of(mask) if with_polygon else ()
    return AnatomyRegion(name, (float(xs.mean()), float(ys.mean())), bbox, poly)


def point_region(name: str, p: Point, radius: float = 4.0) -> AnatomyRegion:
    x, y = p
    return AnatomyRegion(name, (x, y), (x - radius, y - radius, x + radius, y + radius), ())


def zone_masks(lung: Lung) -> dict[str, np.ndarray]:
    """The three zones of one lung as masks."""
    out: dict[str, np.ndarray] = {}
    h = lung.bottom - lung.top
    for i, zone in enumerate(ZONES):
        m = np.zeros_like(lung.mask)
        y0 = lung.top + int(math.ceil(i * h / 3))
        y1 = lung.top + int(math.ceil((i + 1) * h / 3)) if i < 2 else lung.bottom + 1
        m[y0:y1] = lung.mask[y0:y1]
        out[zone] = m
    return out


def apex(lung: Lung) -> Point | None:
    if not lung.present:
        return None
    cols = np.flatnonzero(lung.mask[lung.top])
    return (float(cols.mean()), float(lung.top))


def retrocardiac_mask(geom: Geometry) -> np.ndarray:
    return geom.mask("heart") & geom.lungs["left"].mask


def diaphragm_dome(geom: Geometry, side: str) -> Point | None:
    """Highest point of the lung's lower border (the dome), over its middle columns."""
    lung = geom.lungs[side]
    if not lung.present:
        return None
    cols = np.flatnonzero(lung.mask.any(axis=0))
    c0, c1 = int(cols.min()), int(cols.max())
    span = c1 - c0
    best: Point | None = None
    h = lung.mask.shape[0]
    rows = np.arange(h)
    for c in range(c0 + span // 5, c1 - span // 5 + 1):
        col = lung.mask[:, c]
        if not col.any():
            continue
        bottom = float(rows[col].max())
        if best is None or bottom < best[1]:
            best = (float(c), bottom)
    return best


# --- costophrenic angles ---------------------------------------------------------------------


def costophrenic(geom: Geometry, side: str) -> CostophrenicAngle:
    lung = geom.lungs[side]
    if not lung.present:
        return CostophrenicAngle(side, (0.0, 0.0), 0.0, "not_assessable")  # type: ignore[arg-type]
    cs, _ = cv2.findContours(lung.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(cs, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    # the bottom-lateral extreme: lateral is the image's left for the right lung
    lateral = -contour[:, 0] if side == "right" else contour[:, 0]
    score = contour[:, 1] + 0.6 * lateral
    i = int(np.argmax(score))
    p = contour[i]
    h = lung.mask.shape[0]
    if p[1] >= h - 2:
        return CostophrenicAngle(side, (float(p[0]), float(p[1])), 0.0, "not_assessable")  # type: ignore[arg-type]
    angle = _arm_angle(contour, i, geom.spacing)
    state = "blunted" if angle > CP_BLUNT_DEG else "sharp"
    return CostophrenicAngle(side, (float(p[0]), float(p[1])), round(angle, 1), state)  # type: ignore[arg-type]


def _arm_angle(contour: np.ndarray, i: int, spacing: PixelSpacing) -> float:
    """Angle at contour[i] between the two arms ``CP_ARM_MM`` along the contour either way."""
    n = len(contour)
    scale = np.array([spacing.col_mm, spacing.row_mm])
    seg = np.linalg.norm(np.diff(np.vstack([contour, contour[:1]]), axis=0) * scale, axis=1)

    def walk(step: int) -> np.ndarray:
        dist, j = 0.0, i
        for _ in range(n - 1):
            k = (j + step) % n
            dist += float(seg[j if step > 0 else k])
            j = k
            if dist >= CP_ARM_MM:
                break
        return contour[j]

    a = (walk(1) - contour[i]) * scale
    b = (walk(-1) - contour[i]) * scale
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 180.0
    cos = float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))
    return math.degrees(math.acos(cos))


# --- heart and thorax ------------------------------------------------------------------------


def widths_mm(geom: Geometry) -> tuple[float | None, float | None]:
    """(heart width, thorax width) in mm: the heart's widest horizontal extent and the widest
    outer-to-outer extent of both lung fields."""
    col_mm = geom.spacing.col_mm
    heart = geom.mask("heart")
    heart_w = None
    if heart.sum() > 50:
        cols = np.flatnonzero(heart.any(axis=0))
        heart_w = float(cols.max() - cols.min() + 1) * col_mm
    lungs = geom.lungs["right"].mask | geom.lungs["left"].mask
    thorax_w = None
    if geom.lungs["right"].present and geom.lungs["left"].present:
        rows = np.flatnonzero(lungs.any(axis=1))
        best = 0
        for r in rows:
            cols = np.flatnonzero(lungs[r])
            best = max(best, int(cols.max() - cols.min() + 1))
        thorax_w = float(best) * col_mm
    return heart_w, thorax_w
