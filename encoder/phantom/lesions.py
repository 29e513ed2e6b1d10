"""Lesions: specs, 3D shapes in HU on a fine local grid, placement in the lung, and their
projection (splatted straight onto the film with the case geometry).

Shapes (all in world millimetres, x to the patient's left = image right, z cranial):
- nodule / mass / cavity / calcified_nodule: a star-shaped solid whose radius depends on the
  clock angle in the coronal plane (12 o'clock cranial, 3 o'clock the image's right).
  ``lobulated``: Gaussian notches at stated clock hours; ``spiculated``: thin tapering
  radial spicules (2–10 mm beyond the surface, length measured in the film plane).
- strand: 2–5 thin cylinders inside a stated length x width footprint (the truth size).
- consolidation: a noisy blob clipped to its lobe, pierced by air-filled bronchial tubes
  (air bronchogram).
- effusion: fluid filling the lowest lung of one side up to a meniscus that rises laterally,
  blunting the costophrenic angle.
Every lesion is clipped to lung voxels; its truth centre is its 3D centre's projection
(effusion: a point of its projected mask near the mask's centroid).

Variety (issue 21, opt-in through the fields a spec leaves ``None`` by default, see
``encoder.phantom.lesion_mix``): ``density`` with ``hu`` (ground glass to calcified), ``edge_mm``
(a blurred edge: the lesion's share of each fine voxel falls off over a Gaussian of that width),
``contact`` (placed against the pleura, the mediastinum or a dome), ``pattern`` (``lobar``
consolidation filling a lobe, ``patchy`` consolidation in several patches, ``multiple`` round
masses). A spec that sets none of them draws exactly what it drew before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from encoder.phantom.geometry import Geometry
from encoder.phantom.volume import LOBE_IDS, PhantomVolume, hu_to_mu

LESION_TYPES: tuple[str, ...] = ("nodule", "mass", "strand", "consolidation", "calcified_nodule", "cavity", "effusion")
MARGINS: tuple[str, ...] = ("smooth", "lobulated", "spiculated")
LOBE_NAMES: tuple[str, ...] = tuple(LOBE_IDS)
MAX_FINE_VOXELS = 1_000_000
# Conspicuity: the attenuation difference of focal lesions is multiplied by this on the film.
# A CT-density nodule summed through a whole chest is fainter than the processed clinical
# films a reader (or a CNN) is used to; x2 makes a 10 mm nodule about as visible as on a
# typical digital PA film. Effusions (large fluid volumes) keep their physical contrast.
LESION_CONSPICUITY = 2.0


@dataclass(frozen=True)
class LesionSpec:
    """What to insert; every ``None`` is drawn from the case's random stream."""

    type: str = "nodule"
    diameter_mm: float | None = None  # strand: its length
    width_mm: float | None = None  # strand: footprint width
    lobe: str | None = None
    zone: str | None = None  # request (placement filter)
    band: str | None = None
    side: str | None = None  # effusion
    margin: str | None = None  # smooth / lobulated / spiculated
    lobulated: bool | None = None  # notches as well (a spiculated nodule can be lobulated)
    hu: float | None = None
    density: str | None = None  # ground_glass / subsolid / solid / calcified (a label; ``hu`` sets it)
    edge_mm: float | None = None  # > 0: blurred edge of this width (Gaussian sigma, mm)
    contact: str | None = None  # pleura / mediastinum / diaphragm: placed touching it
    pattern: str | None = None  # consolidation: lobar / patchy; round masses: multiple
    centre_mm: tuple[float, float, float] | None = None  # placed here (CT world mm; with ``lobe``), not drawn


@dataclass
class Shape:
    """A lesion drawn on a fine grid: region (for the truth mask) and material HU."""

    origin: np.ndarray  # world mm of grid index 0
    step: float  # mm
    region: np.ndarray  # bool (nx, ny, nz)
    hu: np.ndarray  # float32 (nx, ny, nz), NaN where the CT is kept
    extra: dict[str, object] = field(default_factory=dict)
    alpha: np.ndarray | None = None  # float32 share of lesion material per voxel (blurred edges); None: all


def clock_dir(hour: float) -> tuple[float, float]:
    """(x, z) unit direction of a clock hour in the coronal plane (12 = cranial, 3 = image right)."""
    a = np.radians(hour * 30.0)
    return float(np.sin(a)), float(np.cos(a))


def _grid(centre: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, float, tuple[np.ndarray, ...]]:
    vol = float(np.prod(2 * half))
    step = max(0.35, (vol / MAX_FINE_VOXELS) ** (1 / 3))
    n = np.maximum(np.ceil(2 * half / step).astype(int), 1)
    origin = centre - (n - 1) * step / 2
    axes = [origin[a] + np.arange(n[a]) * step - centre[a] for a in range(3)]
    offs = np.meshgrid(*axes, indexing="ij", sparse=True)
    return origin, step, tuple(offs)


def _pick_hours(rng: np.random.Generator, count: int, avoid: list[int] | None = None) -> list[int]:
    hours = [h for h in range(1, 13) if not avoid or all(min(abs(h - a), 12 - abs(h - a)) >= 1 for a in avoid)]
    picked: list[int] = []
    for h in rng.permutation(hours):
        if all(min(abs(int(h) - p), 12 - abs(int(h) - p)) >= 2 for p in picked):
            picked.append(int(h))
        if len(picked) == count:
            break
    return sorted(picked)


def _radius_field(offs: tuple[np.ndarray, ...], r: float, notches: list[int], rng: np.random.Generator) -> np.ndarray:
    ox, oy, oz = offs
    psi = np.arctan2(ox, oz)  # clock angle, 0 = cranial, +pi/2 = image right
    el = np.arctan2(oy, np.sqrt(ox**2 + oz**2))
    mod = np.ones(np.broadcast_shapes(psi.shape, el.shape), dtype=np.float32)
    for m in (2, 3, 5):
        mod = mod + 0.03 * np.cos(m * psi + rng.uniform(0, 2 * np.pi)) * np.cos(el)
    mod = mod + 0.03 * np.sin(2 * el + rng.uniform(0, 2 * np.pi))
    for h in notches:
        d = np.angle(np.exp(1j * (psi - np.radians(h * 30.0))))
        mod = mod - 0.25 * np.exp(-(d**2) / (2 * 0.2**2)) * np.cos(el) ** 2
    return r * mod


def _spicules(offs: tuple[np.ndarray, ...], r: float, hours: list[float], lengths: list[float],
              rng: np.random.Generator) -> np.ndarray:
    ox, oy, oz = offs
    out = np.zeros(np.broadcast_shapes(ox.shape, oy.shape, oz.shape), dtype=bool)
    for hour, length in zip(hours, lengths, strict=True):
        sx, sz = clock_dir(hour)
        e = rng.uniform(-0.3, 0.3)
        d = np.array([sx * np.cos(e), np.sin(e), sz * np.cos(e)])
        a = 0.7 * r
        b = r + length / np.cos(e)
        t = ox * d[0] + oy * d[1] + oz * d[2]
        tc = np.clip(t, a, b)
        dist2 = (ox - tc * d[0]) ** 2 + (oy - tc * d[1]) ** 2 + (oz - tc * d[2]) ** 2
        frac = np.clip((tc - r) / max(b - r, 1e-3), 0.0, 1.0)
        radius = 1.1 - 0.75 * frac
        out |= dist2 <= radius**2
    return out


def nodule_shape(centre: np.ndarray, diameter: float, margin: str, lobulated: bool, kind: str,
                 rng: np.random.Generator, hu: float | None = None, edge_mm: float = 0.0) -> Shape:
    """``edge_mm > 0``: the body's edge is blurred over a Gaussian of that sigma (its half-share
    contour, the truth region, stays where the sharp edge was)."""
    r = diameter / 2
    notches = _pick_hours(rng, int(rng.integers(2, 5))) if lobulated else []
    spic_hours: list[float] = []
    spic_len: list[float] = []
    if margin == "spiculated":
        spic_hours = [float(h) for h in _pick_hours(rng, int(rng.integers(4, 8)), avoid=notches)]
        spic_len = [round(float(rng.uniform(2.0, min(10.0, 2.0 + r))), 1) for _ in spic_hours]
    reach = r * 1.1 + (max(spic_len) + 1.5 if spic_len else 1.0)
    if edge_mm > 0:
        reach = max(reach, r * 1.1 + 2.5 * edge_mm)
    origin, step, offs = _grid(centre, np.full(3, reach))
    rho = np.sqrt(offs[0] ** 2 + offs[1] ** 2 + offs[2] ** 2)
    body = rho <= _radius_field(offs, r, notches, rng)
    region = body | _spicules(offs, r, spic_hours, spic_len, rng) if spic_hours else body
    base_hu = hu if hu is not None else float(rng.uniform(35.0, 75.0))
    alpha = None
    if edge_mm > 0:
        full = np.broadcast_to(body, np.broadcast_shapes(*(o.shape for o in offs))).astype(np.float32)
        alpha = ndimage.gaussian_filter(full, edge_mm / step)
        alpha = np.maximum(alpha, (region & ~body).astype(np.float32))  # spicules stay sharp
        region = region | (alpha >= 0.5)
        alpha = np.where(alpha >= 0.02, alpha, np.float32(0.0)).astype(np.float32)
        mat = np.where(alpha > 0, np.float32(base_hu), np.float32(np.nan)).astype(np.float32)
    else:
        mat = np.where(region, np.float32(base_hu), np.float32(np.nan)).astype(np.float32)
    extra: dict[str, object] = {"notches_clock": notches, "lobulated": bool(notches),
                                "spicule_count": len(spic_hours), "spicule_lengths_mm": spic_len,
                                "spicule_clock": [int(h) for h in spic_hours]}
    if kind == "calcified_nodule":
        core = rho <= r * rng.uniform(0.35, 0.7)
        mat = np.where(region, np.float32(rng.uniform(120, 250)), mat)
        mat = np.where(core & region, np.float32(rng.uniform(600, 1100)), mat).astype(np.float32)
    if kind == "cavity":
        wall = float(np.clip(rng.uniform(2.0, 0.45 * r), 1.5, r - 1.5))
        shift = rng.uniform(-0.15, 0.15, 3) * (r - wall)
        inner = np.sqrt((offs[0] - shift[0]) ** 2 + (offs[1] - shift[1]) ** 2 + (offs[2] - shift[2]) ** 2) <= r - wall
        mat = np.where(inner & body, np.float32(-980.0), mat).astype(np.float32)
        extra["wall_thickness_mm"] = round(wall, 1)
    if alpha is not None:
        extra["edge_mm"] = round(float(edge_mm), 1)
    return Shape(origin, step, np.asarray(region), mat, extra, alpha)


def strand_shape(centre: np.ndarray, length: float, width: float, rng: np.random.Generator) -> Shape:
    axis_hour = float(rng.uniform(0, 12))
    ax, az = clock_dir(axis_hour)
    half = np.array([length / 2 + 3, width / 2 + 4, length / 2 + 3])
    origin, step, offs = _grid(centre, half)
    ox, oy, oz = offs
    region = np.zeros(np.broadcast_shapes(ox.shape, oy.shape, oz.shape), dtype=bool)
    n = int(rng.integers(2, 5))
    # strands lie across the footprint: first and last at the footprint's edges
    for s, across in enumerate(np.linspace(-(width / 2 - 2), width / 2 - 2, n)):
        tilt = rng.uniform(-0.25, 0.25)
        dx, dz = ax * np.cos(tilt) - az * np.sin(tilt), az * np.cos(tilt) + ax * np.sin(tilt)
        seg_len = length if s in (0, n - 1) else length * rng.uniform(0.6, 1.0)
        px, pz = -az * across, ax * across  # perpendicular offset in the coronal plane
        py = rng.uniform(-width / 4, width / 4)
        rad = rng.uniform(1.8, 3.0)
        t = np.clip((ox - px) * dx + (oz - pz) * dz, -seg_len / 2, seg_len / 2)
        dist2 = (ox - px - t * dx) ** 2 + (oy - py) ** 2 + (oz - pz - t * dz) ** 2
        region |= dist2 <= rad**2
    mat = np.where(region, np.float32(rng.uniform(40, 80)), np.float32(np.nan)).astype(np.float32)
    return Shape(origin, step, region, mat, {"size_mm": [round(length, 1), round(width, 1)],
                                             "axis_clock": round(axis_hour, 1)})


def consolidation_shape(centre: np.ndarray, diameter: float, rng: np.random.Generator,
                        hu: float | None = None) -> Shape:
    """``hu``: the density of its solid part (default: drawn, 15-45 HU; ground glass is about -600)."""
    semi = diameter / 2 * rng.uniform(0.7, 1.0, 3)
    semi[np.argmax(semi)] = diameter / 2
    origin, step, offs = _grid(centre, semi * 1.2 + 4)
    shape = np.broadcast_shapes(*(o.shape for o in offs))
    noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 4.0 / step)
    noise /= max(float(noise.std()), 1e-6)
    ell = np.sqrt(sum((o / s) ** 2 for o, s in zip(offs, semi, strict=True)))
    level = ell + 0.18 * noise
    region = (level <= 1.0) & (ell <= 1.15)
    # ill-defined margin: density fades to a ground-glass fringe over the outer quarter
    fade = np.clip((1.0 - level) / 0.25, 0.35, 1.0)
    air = np.zeros(shape, dtype=bool)
    for _ in range(int(rng.integers(2, 4))):
        d = rng.standard_normal(3)
        d[1] *= 0.3
        d /= np.linalg.norm(d)
        start = -d * diameter / 2
        t = np.clip((offs[0] - start[0]) * d[0] + (offs[1] - start[1]) * d[1] + (offs[2] - start[2]) * d[2],
                    0, diameter * 0.85)
        dist2 = sum((o - s - t * dd) ** 2 for o, s, dd in zip(offs, start, d, strict=True))
        air |= dist2 <= rng.uniform(0.9, 1.4) ** 2
    dense = float(rng.uniform(15, 45))
    if hu is not None:
        dense = float(hu)
    mat = np.where(region, (-850.0 + (dense + 850.0) * fade).astype(np.float32), np.float32(np.nan))
    mat = np.where(region & air, np.float32(-950.0), mat).astype(np.float32)
    return Shape(origin, step, region, mat, {"air_bronchogram": True})


def lobar_shape(vol: PhantomVolume, lobe: str, rng: np.random.Generator, hu: float | None = None) -> Shape:
    """Lobar consolidation: most of a lobe airless (``hu``: its solid density, default 0-40 HU),
    patches of it ground glass or spared, air-filled bronchi running in from the lobe's hilar side.
    The caller clips it to the lobe."""
    lid = LOBE_NAMES.index(lobe) + 1
    sp = np.asarray(vol.spacing, dtype=np.float64)
    everywhere = np.asarray(vol.lung_points).astype(np.float64) * sp
    pts = everywhere[np.asarray(vol.lung_lobe) == lid]
    lo, hi = pts.min(axis=0) - 3.0, pts.max(axis=0) + 3.0
    centre = (lo + hi) / 2
    origin, step, offs = _grid(centre, (hi - lo) / 2)
    shape = np.broadcast_shapes(*(o.shape for o in offs))
    noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 9.0 / step)
    noise /= max(float(noise.std()), 1e-6)
    spare = float(rng.uniform(-2.2, -0.6))  # below this the lung stays aerated (0-27 % of the lobe)
    region = noise > spare
    dense = float(rng.uniform(0.0, 40.0)) if hu is None else float(hu)
    share = np.clip((noise - spare) / 1.2, 0.3, 1.0)  # near the spared parts: ground glass
    mat = np.where(region, (-850.0 + (dense + 850.0) * share).astype(np.float32), np.float32(np.nan))
    # air bronchograms: tubes from the lobe's medial (hilar) side towards points of the lobe
    mid_x = float(everywhere[:, 0].mean())
    medial = pts[np.argsort(np.abs(pts[:, 0] - mid_x))[: max(20, len(pts) // 50)]]
    root = medial.mean(axis=0) - centre
    air = np.zeros(shape, dtype=bool)
    for _ in range(int(rng.integers(4, 8))):
        end = pts[int(rng.integers(len(pts)))] - centre
        d = end - root
        length = float(np.linalg.norm(d))
        if length < 10.0:
            continue
        d /= length
        t = np.clip((offs[0] - root[0]) * d[0] + (offs[1] - root[1]) * d[1] + (offs[2] - root[2]) * d[2],
                    0.0, 0.8 * length)
        dist2 = sum((o - r0 - t * dd) ** 2 for o, r0, dd in zip(offs, root, d, strict=True))
        radius = np.maximum(3.0 - 1.8 * t / length, 0.6 * step)  # bronchi taper outwards
        air |= dist2 <= radius**2
    mat = np.where(region & air, np.float32(-950.0), mat).astype(np.float32)
    return Shape(origin, step, region, mat, {"air_bronchogram": True})


def effusion_shape(vol: PhantomVolume, side: str, rng: np.random.Generator) -> Shape:
    lobes = (1, 2, 3) if side == "right" else (4, 5)
    dx, dy, dz = vol.spacing
    sel = np.isin(vol.lung_lobe, lobes)
    pts = vol.lung_points[sel].astype(np.float32) * np.array([dx, dy, dz], dtype=np.float32)
    # the level is set from the lateral costophrenic recess (what a PA film shows blunted);
    # everything lower (the posterior recess) fills too
    lateral = (pts[:, 0] - pts[:, 0].min()) / max(float(np.ptp(pts[:, 0])), 1.0)
    lateral = 1.0 - lateral if side == "right" else lateral
    base = float(pts[lateral > 0.75, 2].min())
    height = float(rng.uniform(12, 30))
    rise = float(rng.uniform(15, 35))
    rise_back = float(rng.uniform(20, 45))
    lo = pts.min(axis=0) - 3
    hi = pts.max(axis=0) + 3
    hi[2] = base + height + rise + rise_back + 4
    lo[2] = float(pts[:, 2].min()) - 6
    centre = (lo + hi) / 2
    origin, step, offs = _grid(centre, (hi - lo) / 2)
    x = offs[0] + centre[0]
    medial, lateral = (hi[0], lo[0]) if side == "right" else (lo[0], hi[0])
    frac = np.clip((x - medial) / (lateral - medial), 0, 1)
    posterior = np.clip((hi[1] - (offs[1] + centre[1])) / max(hi[1] - lo[1], 1.0), 0, 1)
    # erect patient: the fluid climbs the lateral and posterior chest wall (a meniscus), so
    # its projected thickness fades upwards instead of ending at a flat line
    level = base + height + rise * frac**2 + rise_back * posterior**2
    region = np.broadcast_to((offs[2] + centre[2]) <= level, np.broadcast_shapes(*(o.shape for o in offs)))
    mat = np.where(region, np.float32(rng.uniform(5, 20)), np.float32(np.nan)).astype(np.float32)
    return Shape(origin, step, np.array(region), mat, {"fluid_height_mm": round(height, 1)})


def clip_to_lung(shape: Shape, vol: PhantomVolume, lobes: tuple[int, ...] | None = None) -> np.ndarray:
    """Lobe label (0 outside the lung) at each fine-grid point; clips region and material."""
    n = shape.region.shape
    dx, dy, dz = vol.spacing
    idx = [np.clip(np.rint((shape.origin[a] + np.arange(n[a]) * shape.step) / s).astype(int), 0, vol.shape[a] - 1)
           for a, s in enumerate((dx, dy, dz))]
    sub = np.asarray(vol.labels[idx[0].min() : idx[0].max() + 1, idx[1].min() : idx[1].max() + 1,
                                idx[2].min() : idx[2].max() + 1])
    lab = sub[np.ix_(idx[0] - idx[0].min(), idx[1] - idx[1].min(), idx[2] - idx[2].min())]
    keep = lab > 0 if lobes is None else np.isin(lab, lobes)
    shape.region &= keep
    shape.hu = np.where(keep, shape.hu, np.float32(np.nan)).astype(np.float32)
    return lab


def background_hu(shape: Shape, vol: PhantomVolume, points_mm: np.ndarray) -> np.ndarray:
    """CT HU (trilinear) at the given fine points (M, 3)."""
    sp = np.array(vol.spacing)
    v = points_mm / sp
    lo = np.clip(np.floor(v.min(axis=0)).astype(int) - 1, 0, None)
    hi = np.minimum(np.ceil(v.max(axis=0)).astype(int) + 2, np.array(vol.shape))
    sub = np.asarray(vol.hu[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], dtype=np.float32)
    return ndimage.map_coordinates(sub, (v - lo).T, order=1, mode="nearest")


def splat(geom: Geometry, points_mm: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum point values onto the unwarped film with bilinear weights."""
    u, d = geom.detector_of(points_mm)
    fx, fy = geom.film_from_detector(u, d)
    n = geom.size
    x0, y0 = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    wx, wy = fx - x0, fy - y0
    out = np.zeros(n * n, dtype=np.float64)
    for ddx, ddy, w in ((0, 0, (1 - wx) * (1 - wy)), (1, 0, wx * (1 - wy)), (0, 1, (1 - wx) * wy), (1, 1, wx * wy)):
        xx, yy = x0 + ddx, y0 + ddy
        ok = (xx >= 0) & (xx < n) & (yy >= 0) & (yy < n)
        out += np.bincount((yy[ok] * n + xx[ok]), weights=(values * w)[ok], minlength=n * n)
    return out.reshape(n, n).astype(np.float32)


def project_shape(shape: Shape, vol: PhantomVolume, geom: Geometry, bone_factor: float,
                  gain: float = LESION_CONSPICUITY) -> tuple[np.ndarray, np.ndarray]:
    """(attenuation delta, projected thickness mm) on the unwarped film."""
    idx = np.nonzero(shape.region | ~np.isnan(shape.hu))
    pts = shape.origin[None, :] + np.stack(idx, axis=1) * shape.step
    les_hu = shape.hu[idx]
    bg = background_hu(shape, vol, pts)
    has = ~np.isnan(les_hu)
    s1, b1 = hu_to_mu(np.where(has, les_hu, bg))
    s0, b0 = hu_to_mu(bg)
    delta = (s1 - s0) + bone_factor * (b1 - b0)
    if shape.alpha is not None:  # a blurred edge: the voxel is partly lesion, partly what was there
        delta = delta * shape.alpha[idx]
    scale = shape.step**3 / geom.spacing_mm**2
    att = splat(geom, pts, delta * (scale * gain))
    thick = splat(geom, pts, shape.region[idx].astype(np.float32) * scale)
    ratio = shape.step / geom.spacing_mm
    if ratio > 0.6:  # coarse grid (large lesions): spread each point over its footprint


        att = cv2.GaussianBlur(att, (0, 0), 0.5 * ratio)
        thick = cv2.GaussianBlur(thick, (0, 0), 0.5 * ratio)
    return att, thick
