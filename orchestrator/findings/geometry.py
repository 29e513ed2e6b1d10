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
from functools import cached_property

import cv2
import numpy as np
from scipy import ndimage

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.facts import AnatomyRegion, CostophrenicAngle, PixelSpacing, PleuraPart, Point
from orchestrator.findings.blank_film import blank_pixels
from orchestrator.findings.windows import bounding_box, centroid, centroid_in, origin, padded

ZONES: tuple[str, ...] = ("upper", "middle", "lower")
BANDS: tuple[str, ...] = ("inner", "middle", "outer")
SIDE_LOBES: dict[str, tuple[str, ...]] = {"right": ("RUL", "RML", "RLL"), "left": ("LUL", "LLL")}
CP_ARM_MM = 18.0  # length of the arms that measure a costophrenic angle
CP_REACH_MM = 4.0  # how far above the floor a field may end and still mark the recess (validation seeds 50-109:
# visible-field weights, stage O, 95 -> 109 of 120 angles right; the shipped weights unchanged at 119; 4-16 mm the same)
CP_BLUNT_DEG = 80.0  # above this the angle reads as blunted
# below this the arms nearly coincide: no recess a film shows (the real checking films' angles lie at 10-79 degrees; a
# floor taken from a stray patch gave 3), so the angle is not assessable rather than sharp
CP_MIN_DEG = 5.0
MIN_LUNG_PX = 200
MIDLINE_MARGIN = 0.08  # of the image width: beyond this from the midline, the side is certain
# where an upper and a lower projected lobe overlap on a column, the fraction of the overlap
# (from the lower lobe's top) above which a point is called the upper lobe; fitted on phantom
# films (seeds 60-249 of two phantom versions), scored with loadtests/score_findings.py
LOBE_SPLIT: dict[tuple[str, str], float] = {
    ("RUL", "RML"): 0.0, ("RML", "RLL"): 0.3, ("RUL", "RLL"): 0.4, ("LUL", "LLL"): 0.25,
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

    def border_part(self, x: float, y: float) -> PleuraPart:
        """Which part of the field's border a point on or just outside it lies against: its floor in the point's
        column ("diaphragm"), its inner edge on the point's row ("mediastinum", the heart's border included), else
        the chest wall (its outer edge, and the apex). The nearest of the three, in pixels."""
        edges = self.row_edges(y)
        col = np.flatnonzero(self.mask[:, int(np.clip(round(x), 0, self.mask.shape[1] - 1))])
        floor = abs(y - col.max()) if col.size else math.inf
        if edges is None:
            return "diaphragm" if math.isfinite(floor) else "chest_wall"
        left, right = edges
        outer, inner = (left, right) if self.side == "right" else (right, left)
        near = {"chest_wall": abs(x - outer), "mediastinum": abs(x - inner), "diaphragm": floor}
        return min(near, key=lambda part: near[part])  # type: ignore[return-value]


DIAPHRAGM_PART_MIN = 0.2  # a part of the diaphragm map this small against its largest part is a stray patch


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

    @cached_property
    def recess_lungs(self) -> dict[str, Lung]:
        """Each lung with its costophrenic recess, for the angle (``costophrenic``): the lung field joined with its
        side's lobes. Weights that draw a lung field as a film shows it stop the field at the dome
        (``encoder/visible_lungs.py``) and leave the recess behind the dome to the lobes, which they draw whole;
        where a field runs on behind the dome itself, the lobes add little to it."""
        return {side: _lung(self.maps, side, with_lobes=True) for side in self.lungs}

    @cached_property
    def blank(self) -> np.ndarray:
        """Where the film is blank (``blank_film.blank_pixels``), made once per film."""
        return blank_pixels(self.maps.image)

    @cached_property
    def floor(self) -> np.ndarray:
        """What the lung fields stand on (``floor_mask``), made once per film."""
        return floor_mask(self)

    @cached_property
    def diaphragm(self) -> np.ndarray:
        """The diaphragm map's band below the lungs: its parts of at least ``DIAPHRAGM_PART_MIN`` of the largest. The
        diaphragm is one band (or one under each lung); a small patch detached from it, as the second reader draws
        over a real child's axilla, is no diaphragm, and as one it set the floor of the costophrenic recess at the
        shoulder and put an upper-zone finding "1.6 mm above the diaphragm"."""
        raw = self.maps.mask("diaphragm")
        n, lab, stats, _ = cv2.connectedComponentsWithStats(raw.view(np.uint8), connectivity=8)
        if n <= 2:  # none, or one part
            return raw
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = np.zeros(n, dtype=bool)
        keep[1:] = areas >= DIAPHRAGM_PART_MIN * areas.max()
        return keep[lab]

    def mask(self, name: str) -> np.ndarray:
        return self.diaphragm if name == "diaphragm" else self.maps.mask(name)

    def side_of_point(self, x: float, y: float) -> str:
        """The side a point lies on: by lung membership, then by the midline."""
        h, w = self.maps.shape
        xi, yi = int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))
        inside = [s for s, lung in self.lungs.items() if lung.mask[yi, xi]]
        if len(inside) == 1:
            return inside[0]
        return "right" if x < self.midline_x else "left"

    def side_of_mask(self, mask: np.ndarray) -> str:
        """Side of a region: the lung it overlaps most, unless its centre lies clearly on the
        other side of the midline (a lung map that bleeds across the midline must not flip
        laterality); ties and no overlap go by the centre."""
        cx, cy = centroid(mask)
        overlaps = {s: int((lung.mask & mask).sum()) for s, lung in self.lungs.items()}
        if overlaps["right"] == overlaps["left"]:
            return self.side_of_point(cx, cy)
        side = max(overlaps, key=lambda s: overlaps[s])
        margin = MIDLINE_MARGIN * self.maps.shape[1]
        if side == "right" and cx > self.midline_x + margin:
            return "left"
        if side == "left" and cx < self.midline_x - margin:
            return "right"
        return side

    def side_by_midline(self, x: float) -> str:
        """The side of a column against the spine line (standard display: right is image-left)."""
        return "right" if x < self.midline_x else "left"

    def sided(self, mask: np.ndarray, center: Point) -> tuple[str, bool]:
        """(side, confirmed): the side of the centre against the spine line, confirmed when the
        lung maps (``side_of_mask``) agree. Laterality never rests on a lung label alone."""
        side = self.side_by_midline(center[0])
        return side, self.side_of_mask(mask) == side

    def lobe_estimate(self, mask: np.ndarray, side: str, center: Point) -> tuple[str, tuple[str, ...]]:
        """(lobe, the other lobes also covering the centre) of a lesion centred at ``center``.

        Projected lobes overlap on a PA film; where an upper and a lower lobe both cover the
        centre, the split lies at a fixed fraction of their overlap on that column
        (``LOBE_SPLIT``: the anterior upper lobe thins towards its lower edge, the posterior
        lower lobe thickens towards the base), and the others are returned so that the answer
        can say the lobe is an estimate."""
        covering = self._lobes_covering(side, center)
        lobe = self._split_lobe(mask, side, center, covering)
        return lobe, tuple(lb for lb in covering if lb != lobe)

    def _split_lobe(self, mask: np.ndarray, side: str, center: Point, covering: tuple[str, ...]) -> str:
        xi = int(np.clip(round(center[0]), 0, self.maps.shape[1] - 1))
        here = list(covering)
        if not here:
            lobes = [lb for lb in SIDE_LOBES[side] if lb in self.lobe_cy]
            here = sorted((lb for lb in lobes if (self.maps.channel(lb)[mask] >= 0.5).any()), key=self.lobe_cy.__getitem__)
        if not here:
            return self._lobe_by_height(side, center[1])
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

    def _lobes_covering(self, side: str, center: Point) -> tuple[str, ...]:
        """The lobes of ``side`` whose projected masks cover ``center`` (upper to lower)."""
        h, w = self.maps.shape
        xi, yi = int(np.clip(round(center[0]), 0, w - 1)), int(np.clip(round(center[1]), 0, h - 1))
        here = [lb for lb in SIDE_LOBES[side] if lb in self.lobe_cy and self.maps.channel(lb)[yi, xi] >= 0.5]
        return tuple(sorted(here, key=lambda lb: self.lobe_cy[lb]))

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


def _lung(maps: AnatomyMaps, side: str, with_lobes: bool = False) -> Lung:
    """The side's lung field (its largest component); ``with_lobes``: joined with the side's lobes (``recess_lungs``)."""
    mask = maps.mask(f"lung_{side}")
    if with_lobes:
        mask = mask.copy()
        for lobe in SIDE_LOBES[side]:
            mask |= maps.mask(lobe)
    mask = largest_component(mask)
    rows = np.flatnonzero(mask.any(axis=1))
    if mask.sum() < MIN_LUNG_PX or len(rows) == 0:
        return Lung(side, mask, 0, 0)
    return Lung(side, mask, int(rows.min()), int(rows.max()))


def disc(radius_px: int) -> np.ndarray:
    """An elliptical structuring element of that radius (OpenCV's morphology)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))


def local_edt(inside: np.ndarray, window_of: np.ndarray, sampling: tuple[float, float] = (1.0, 1.0), pad: int = 2) -> np.ndarray:
    """Distance transform of ``inside`` (distance to its nearest False pixel) computed only
    in the padded bounding box of ``window_of``; zero elsewhere. Exact inside that window
    whenever the nearest False pixel lies in it (a lesion's own mask, its core)."""
    out = np.zeros(inside.shape, dtype=np.float64)
    box = bounding_box(window_of)
    if box is None:
        return out
    sl = padded(box, pad, inside.shape)
    out[sl] = ndimage.distance_transform_edt(inside[sl], sampling=sampling)
    return out


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def erode(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_erosion(mask)`` (the 3×3 cross; outside the image counts as False) with OpenCV,
    several times faster on a 512² mask."""
    return cv2.erode(mask.astype(np.uint8), _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """``ndimage.binary_dilation(mask, iterations=n)`` (the 3×3 cross, repeated) with OpenCV."""
    return cv2.dilate(mask.astype(np.uint8), _CROSS, iterations=iterations, borderType=cv2.BORDER_CONSTANT,
                      borderValue=0).astype(bool)


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
            return centroid(m)[0]
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
            points[side] = centroid(m)
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
            m = maps.mask(lb)
            if int(m.sum()) >= MIN_LUNG_PX // 4:
                lobe_cy[lb] = centroid(m)[1]
    return Geometry(maps, spacing, lungs, _midline(maps, lungs), _hilum_points(maps, lungs), lobe_cy)


# --- regions ---------------------------------------------------------------------------------


def polygon_of(mask: np.ndarray, epsilon_px: float = 1.5, offset: tuple[int, int] = (0, 0)) -> tuple[Point, ...]:
    """Outer contour of the mask's largest part, simplified; ``offset`` is added to its points."""
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=offset)
    if not cs:
        return ()
    c = max(cs, key=cv2.contourArea)
    c = cv2.approxPolyDP(c, epsilon_px, True)
    return tuple((float(p[0][0]), float(p[0][1])) for p in c)


def region_of(name: str, mask: np.ndarray, with_polygon: bool = True) -> AnatomyRegion | None:
    """The region's centroid, bounding box and outline, read in the mask's bounding box (with a
    pixel of background round it for the contour). The moments are exact integer sums in float64,
    so moving them back to the film's origin gives the film's numbers exactly."""
    box = bounding_box(mask)
    if box is None:
        return None
    win = padded(box, 1, mask.shape)
    part, offset = mask[win], origin(win)
    poly = polygon_of(part, offset=offset) if with_polygon else ()
    return AnatomyRegion(name, centroid_in(part, offset), (float(box[0]), float(box[1]), float(box[2]), float(box[3])), poly)


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


def floor_mask(geom: Geometry) -> np.ndarray:
    """What the lung field stands on: the sub-diaphragmatic region, plus any opacity resting on
    it (fluid fills the costophrenic recess and becomes the visible floor)."""
    diaphragm = geom.mask("diaphragm")
    lesion = geom.maps.lesion >= 0.5
    if not lesion.any() or not diaphragm.any():
        return diaphragm
    n, lab = cv2.connectedComponents(lesion.view(np.uint8), connectivity=4)
    resting = np.zeros(n, dtype=bool)
    resting[lab[dilate(diaphragm, 2) & lesion]] = True
    resting[0] = False
    return diaphragm | resting[lab]


def floor_top(lung: Lung, floor: np.ndarray) -> dict[int, int]:
    """Top row of the floor per column of the lung (columns where the floor is present)."""
    cols = np.flatnonzero(lung.mask.any(axis=0) & floor.any(axis=0))
    first = floor.argmax(axis=0)  # the first True row of each column (where there is one)
    return {int(c): int(first[c]) for c in cols}


def diaphragm_dome(geom: Geometry, side: str) -> Point | None:
    """Highest point of the diaphragm's upper border under the lung's middle columns; without
    a diaphragm map, the highest point of the lung's lower border."""
    lung = geom.lungs[side]
    if not lung.present:
        return None
    cols = np.flatnonzero(lung.mask.any(axis=0))
    c0, c1 = int(cols.min()), int(cols.max())
    margin = (c1 - c0) // 5
    top = floor_top(lung, geom.mask("diaphragm"))
    mid = {c: r for c, r in top.items() if c0 + margin <= c <= c1 - margin}
    if mid:
        c = min(mid, key=lambda k: (mid[k], abs(k - (c0 + c1) / 2)))
        return (float(c), float(mid[c]))
    rows = np.arange(lung.mask.shape[0])
    bottoms = {c: int(rows[lung.mask[:, c]].max()) for c in range(c0 + margin, c1 - margin + 1) if lung.mask[:, c].any()}
    if not bottoms:
        return None
    c = min(bottoms, key=lambda k: bottoms[k])
    return (float(c), float(bottoms[c]))


# --- costophrenic angles ---------------------------------------------------------------------


def costophrenic(geom: Geometry, side: str) -> CostophrenicAngle:
    """The lateral costophrenic angle: where the lung's lateral edge meets the floor (the
    diaphragm, or fluid resting on it: ``Geometry.floor``), measured between the lateral wall
    going up and the floor going medially, ``CP_ARM_MM`` along each."""
    lung = geom.recess_lungs[side]
    top = floor_top(lung, geom.floor) if lung.present else {}
    if not top:
        return CostophrenicAngle(side, (0.0, 0.0), 0.0, "not_assessable")  # type: ignore[arg-type]
    x_cp, y_cp = _cp_point(lung, top, round(CP_REACH_MM / geom.spacing.row_mm))
    if x_cp is None:
        return CostophrenicAngle(side, (0.0, 0.0), 0.0, "not_assessable")  # type: ignore[arg-type]
    sp = geom.spacing
    medial = 1 if side == "right" else -1
    k_up = max(2, round(CP_ARM_MM / sp.row_mm))
    k_in = max(2, round(CP_ARM_MM / sp.col_mm))
    wall = _lateral_edge(lung, y_cp - k_up)
    x_in = x_cp + medial * k_in
    if wall is None or x_in not in top:
        return CostophrenicAngle(side, (float(x_cp), float(y_cp)), 0.0, "not_assessable")  # type: ignore[arg-type]
    a = np.array([(wall - x_cp) * sp.col_mm, -k_up * sp.row_mm])
    b = np.array([k_in * medial * sp.col_mm, (top[x_in] - y_cp) * sp.row_mm])
    angle = math.degrees(math.acos(float(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))))
    return CostophrenicAngle(side, (float(x_cp), float(y_cp)), round(angle, 1), cp_state(angle),  # type: ignore[arg-type]
                             wall_px=(float(wall), float(y_cp - k_up)), floor_px=(float(x_in), float(top[x_in])))


def cp_state(angle_deg: float) -> str:
    """What a measured costophrenic angle reads as: blunted above ``CP_BLUNT_DEG``, sharp down to ``CP_MIN_DEG``, and
    below that not assessable (arms that nearly coincide measure no recess)."""
    if angle_deg < CP_MIN_DEG:
        return "not_assessable"
    return "blunted" if angle_deg > CP_BLUNT_DEG else "sharp"


def blunted_by_fluid(angle: CostophrenicAngle) -> bool:
    """An angle called blunted though its outline is sharp: fluid found in the recess blunts it (``analyse``'s rule),
    so its outline's degrees say nothing of it."""
    return angle.state == "blunted" and angle.angle_deg <= CP_BLUNT_DEG


def _lateral_edge(lung: Lung, y: int) -> float | None:
    if not 0 <= y < lung.mask.shape[0]:
        return None
    cols = np.flatnonzero(lung.mask[y])
    if not len(cols):
        return None
    return float(cols.min() if lung.side == "right" else cols.max())


def _cp_point(lung: Lung, top: dict[int, int], reach_px: int = 0) -> tuple[int | None, int]:
    """The floor's most lateral column still under the lung's lateral edge just above the floor: on the
    row above it, or on the lowest row of lung within ``reach_px`` above it (a field drawn to the dome
    can stop a few pixels short of the recess's tip, where a field drawn on behind it does not)."""
    order = sorted(top) if lung.side == "right" else sorted(top, reverse=True)
    for c in order:
        edge = None
        for y in range(top[c] - 1, top[c] - 2 - reach_px, -1):
            edge = _lateral_edge(lung, y)
            if edge is not None:
                break
        if edge is not None and (c >= edge if lung.side == "right" else c <= edge):
            return c, top[c]
    return None, 0


# --- heart and thorax ------------------------------------------------------------------------


def width_spans_px(geom: Geometry) -> tuple[tuple[Point, Point] | None, tuple[Point, Point] | None]:
    """Where the two widths of ``widths_mm`` lie, (x, y) ends at the outer edges of their end pixels, so that each
    span's length is its width: the heart's widest horizontal extent drawn across the heart's middle row, and the
    row where both lung fields are widest outer to outer."""
    heart = geom.mask("heart")
    heart_span = None
    if heart.sum() > 50:
        cols, rows = np.flatnonzero(heart.any(axis=0)), np.flatnonzero(heart.any(axis=1))
        y = float(round((rows.min() + rows.max()) / 2))
        heart_span = ((float(cols.min()) - 0.5, y), (float(cols.max()) + 0.5, y))
    thorax_span = None
    lungs = geom.lungs["right"].mask | geom.lungs["left"].mask
    rows = np.flatnonzero(lungs.any(axis=1))
    if geom.lungs["right"].present and geom.lungs["left"].present and len(rows):
        w = lungs.shape[1]
        first = lungs[rows].argmax(axis=1)
        last = w - 1 - lungs[rows, ::-1].argmax(axis=1)
        i = int(np.argmax(last - first))  # the first row of the widest, as ``widths_mm`` takes its maximum
        y = float(rows[i])
        thorax_span = ((float(first[i]) - 0.5, y), (float(last[i]) + 0.5, y))
    return heart_span, thorax_span


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
        rows = lungs.any(axis=1)
        best = 0
        if rows.any():  # per row: last lung column - first + 1 (first True from the left and from the right)
            w = lungs.shape[1]
            spans = (w - 1 - lungs[rows, ::-1].argmax(axis=1)) - lungs[rows].argmax(axis=1) + 1
            best = int(spans.max())
        thorax_w = float(best) * col_mm
    return heart_w, thorax_w
