"""The phantom at detector resolution, around one lesion: the reader's training and test examples.

The 512² phantom film (``encoder/phantom``) is drawn at ~0.6 mm per pixel and its CT is
0.7 × 0.7 × 2.5 mm: no margin detail exists in it. Here one focal lesion is rendered on a
detector film of ``DETECTOR_FACTORS`` × 512 pixels (0.15-0.2 mm per pixel):

- the **background** (the CT's anatomy) is the phantom's own line integral for the case
  geometry, upsampled: it stays exactly as blurred as the CT is;
- the **lesion** is drawn on its own fine 3D grid (0.25 mm where the lesion is small, at most
  ``MAX_GRID_VOXELS`` points) with the phantom's shape functions (``encoder/phantom/lesions.py``:
  the same radius field, notches and tapering spicules, HU, calcified core, cavity), clipped to
  the lung, and its attenuation splatted straight onto the detector pixels, so that spicules
  1-2 mm wide and notches exist in the pixels;
- the film goes through the phantom's display chain (window, gamma, edge enhancement) at detector
  resolution, with a detector blur and noise of its own.

Only a window of ``WINDOW_MM`` around the lesion is rendered in detail; the rest of the detector
film is the 512² film upsampled (the crop never reaches it). The 512² working film is what
``orchestrator/contracts/preprocess.py`` makes of the detector film, so truth exists in both frames.

Each example is cut the way serving cuts it: ``orchestrator.contracts.lesion_reader.cut_crop``
on the detector film, centred on a candidate centre (the truth centre moved by the encoder's
typical centre error), with the candidate's disc (``contracts.lesion_reader.candidate_disc``) of
the diameter the findings would state (the truth's, with the findings' typical error): the mask
channel says where and how big, never the outline, in training as in serving. Truth
(``LesionExample.truth``) is for training and scoring only; nothing of it enters the crop except
through the rendered pixels and that disc.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from encoder.phantom.anatomy import film_masks
from encoder.phantom.case import CaseSpec, case_geometry, draw_exposure, place
from encoder.phantom.geometry import Geometry
from encoder.phantom.lesions import (
    LESION_CONSPICUITY,
    LesionSpec,
    Shape,
    _pick_hours,
    _radius_field,
    _spicules,
    background_hu,
    clip_to_lung,
)
from encoder.phantom.projection import Exposure, project_attenuation, project_channels
from encoder.phantom.volume import PhantomVolume, hu_to_mu, load_volume
from orchestrator.contracts.lesion_reader import (
    CROP_SIZE,
    MARGINS,
    MASK_MM_PER_PX,
    MASK_SIZE,
    Frame,
    candidate_disc,
    cut_crop,
    film_window,
)

WORKING = 512
DETECTOR_FACTORS = (3, 4)  # detector pixels per working pixel: 0.20 / 0.15 mm on a 31-33 cm field
WINDOW_MM = 100.0  # the detailed part of the detector film around the lesion
MAX_GRID_VOXELS = 1_000_000
SURE_INSIDE, SURE_OUTSIDE = 0.6, 1.15  # bounds of encoder/phantom/lesions.py's radius field (x r)
DEPTH_RUN = 4  # grid points along the beam summed into one before splatting
MIN_STEP_MM = 0.25  # the crop's pixel; a spicule's tip is 0.7 mm wide
LESION_MASK_MM = 0.35  # projected thickness that counts as lesion (encoder/phantom/case.py)
CENTRE_ERROR_MM = 0.8  # sd per axis of the candidate centre (the encoder's median error is 0.73 mm)
CENTRE_ERROR_WIDE_MM, CENTRE_WIDE_P = 2.5, 0.25  # a wider error for a quarter of candidates
SIZE_ERROR_LOG_SD = 0.2  # the findings' diameter against the truth (81% of round lesions within 20%)
FOCAL_TYPES: dict[str, tuple[float, tuple[float, float]]] = {  # type -> (weight, diameter range mm)
    "nodule": (0.56, (6.0, 28.0)),
    "mass": (0.06, (30.0, 38.0)),
    "calcified_nodule": (0.14, (5.0, 15.0)),
    "cavity": (0.24, (15.0, 32.0)),
}


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 2200 + purpose]))


@dataclass
class FilmBackground:
    """One case's anatomy: geometry, exposure, the warped line integral at 512² and the masks
    lesions are placed with."""

    seed: int
    geom: Geometry
    exposure: Exposure
    line: np.ndarray  # (512, 512) float32, warped (final film frame)
    lo: float
    hi: float
    masks: np.ndarray


def film_background(seed: int, vol: PhantomVolume) -> FilmBackground:
    geom = case_geometry(seed, CaseSpec(), WORKING, vol)
    exposure = draw_exposure(_rng(seed, 1), True)
    soft, bone = project_attenuation(vol, geom)
    line = geom.apply_warp(soft + exposure.bone_factor * bone).astype(np.float32)
    lo, hi = np.percentile(line, [exposure.low_percentile, exposure.high_percentile])
    masks, _ = film_masks(project_channels(vol, geom), geom)
    return FilmBackground(seed, geom, exposure, line, float(lo), float(hi), masks)


def draw_spec(rng: np.random.Generator) -> LesionSpec:
    kinds = list(FOCAL_TYPES)
    weights = np.array([FOCAL_TYPES[k][0] for k in kinds])
    kind = str(rng.choice(kinds, p=weights / weights.sum()))
    lo, hi = FOCAL_TYPES[kind][1]
    diameter = round(float(rng.uniform(lo, hi)), 1)
    if kind in ("nodule", "mass"):
        margin = str(rng.choice(MARGINS))
    elif kind == "cavity":
        margin = str(rng.choice(["smooth", "lobulated"]))
    else:
        margin = "smooth"
    lobulated = margin == "lobulated" or (margin == "spiculated" and bool(rng.random() < 0.4))
    return LesionSpec(type=kind, diameter_mm=diameter, margin=margin, lobulated=lobulated)


@dataclass
class Lesion3D:
    points: np.ndarray  # (M, 3) world mm of the lesion's grid points
    attenuation: np.ndarray  # (M,) attenuation change x voxel volume (1/mm x mm^3), conspicuity applied
    volume: np.ndarray  # (M,) mm^3 of lesion at each point (thickness x area)
    step: float
    truth: dict[str, Any]


def lesion_3d(spec: LesionSpec, centre: np.ndarray, vol: PhantomVolume, bone_factor: float,
              rng: np.random.Generator) -> Lesion3D:
    """``encoder.phantom.lesions.nodule_shape`` on a finer grid of its own (same shape functions)."""
    r = float(spec.diameter_mm or 10.0) / 2
    notches = _pick_hours(rng, int(rng.integers(2, 5))) if spec.lobulated else []
    spic_hours: list[float] = []
    spic_len: list[float] = []
    if spec.margin == "spiculated":
        spic_hours = [float(h) for h in _pick_hours(rng, int(rng.integers(4, 8)), avoid=notches)]
        spic_len = [round(float(rng.uniform(2.0, min(10.0, 2.0 + r))), 1) for _ in spic_hours]
    reach = r * 1.1 + (max(spic_len) + 1.5 if spic_len else 1.0)
    step = max(MIN_STEP_MM, 2 * reach / MAX_GRID_VOXELS ** (1 / 3))
    n = int(math.ceil(2 * reach / step))
    origin = centre - (n - 1) * step / 2
    axis = np.arange(n) * step - (n - 1) * step / 2
    offs = np.meshgrid(axis, axis, axis, indexing="ij", sparse=True)
    rho = np.sqrt(offs[0] ** 2 + offs[1] ** 2 + offs[2] ** 2)
    # the radius field lies within [SURE_INSIDE, SURE_OUTSIDE] x r: evaluate it only on that shell
    body = rho <= SURE_INSIDE * r
    shell = np.nonzero((rho > SURE_INSIDE * r) & (rho <= SURE_OUTSIDE * r))
    shell_offs = tuple(np.broadcast_to(o, rho.shape)[shell] for o in offs)
    body[shell] = rho[shell] <= _radius_field(shell_offs, r, notches, rng)
    region = body | _spicules(offs, r, spic_hours, spic_len, rng) if spic_hours else body
    base_hu = float(rng.uniform(35.0, 75.0))
    mat = np.where(region, np.float32(base_hu), np.float32(np.nan)).astype(np.float32)
    if spec.type == "calcified_nodule":
        core = rho <= r * rng.uniform(0.35, 0.7)
        mat = np.where(region, np.float32(rng.uniform(120, 250)), mat)
        mat = np.where(core & region, np.float32(rng.uniform(600, 1100)), mat).astype(np.float32)
    if spec.type == "cavity":
        wall = float(np.clip(rng.uniform(2.0, 0.45 * r), 1.5, r - 1.5))
        shift = rng.uniform(-0.15, 0.15, 3) * (r - wall)
        inner = np.sqrt((offs[0] - shift[0]) ** 2 + (offs[1] - shift[1]) ** 2 + (offs[2] - shift[2]) ** 2) <= r - wall
        mat = np.where(inner & body, np.float32(-980.0), mat).astype(np.float32)
    shape = Shape(origin, step, np.asarray(region), mat)
    clip_to_lung(shape, vol)
    idx = np.nonzero(shape.region)
    pts = shape.origin[None, :] + np.stack(idx, axis=1) * step
    les_hu = shape.hu[idx]
    bg = background_hu(shape, vol, pts)
    s1, b1 = hu_to_mu(les_hu)
    s0, b0 = hu_to_mu(bg)
    delta = (s1 - s0) + bone_factor * (b1 - b0)
    # sum runs of DEPTH_RUN points along the beam (y) into one: the beam's obliquity over a run
    # (< 1 mm deep, yaw/tilt <= 4 deg) moves a point by < 0.04 mm on the film
    key = (idx[0] * n + idx[2]) * ((n + DEPTH_RUN - 1) // DEPTH_RUN) + idx[1] // DEPTH_RUN
    count = np.bincount(key).astype(np.float64)
    used = np.nonzero(count)[0]
    count = count[used]
    att = np.bincount(key, weights=delta.astype(np.float64))[used]
    mean_pts = np.stack([np.bincount(key, weights=pts[:, a])[used] / count for a in range(3)], axis=1)
    margin = spec.margin if spec.margin == "spiculated" or not notches else "lobulated"
    truth = {"type": spec.type, "diameter_mm": float(spec.diameter_mm or 0.0), "margin": margin,
             "notches_clock": list(notches), "spicule_clock": [int(h) for h in spic_hours],
             "spicule_count": len(spic_hours), "spicule_lengths_mm": spic_len,
             "calcified": spec.type == "calcified_nodule", "cavitation": spec.type == "cavity"}
    return Lesion3D(mean_pts, att * step**3 * LESION_CONSPICUITY, count * step**3, step, truth)


def splat(xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sum weights at (x, y) pixel positions onto an image with bilinear weights."""
    h, w = shape
    x0, y0 = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    fx, fy = xs - x0, ys - y0
    out = np.zeros(h * w, dtype=np.float64)
    for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xx, yy = x0 + dx, y0 + dy
        ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        out += np.bincount(yy[ok] * w + xx[ok], weights=(weights * wt)[ok], minlength=h * w)
    return out.reshape(h, w).astype(np.float32)


def _tone(p: np.ndarray, bg: FilmBackground) -> np.ndarray:
    v = np.clip((p - bg.lo) / max(bg.hi - bg.lo, 1e-6), 0.0, 1.0)
    return np.power(v, bg.exposure.gamma, dtype=np.float32)


def candidate_size_mm(diameter_mm: float, rng: np.random.Generator) -> float:
    """The candidate's diameter as the encoder's findings would state it: the truth times a
    log-normal error (``SIZE_ERROR_LOG_SD``), never below 2 mm."""
    return max(2.0, float(diameter_mm) * math.exp(float(rng.normal(0.0, SIZE_ERROR_LOG_SD))))


def candidate_centre(truth_c: np.ndarray, sp: float, rng: np.random.Generator) -> tuple[float, float]:
    """The truth centre moved as the encoder's candidate centre is: ``CENTRE_ERROR_MM`` per axis,
    ``CENTRE_ERROR_WIDE_MM`` for a fraction ``CENTRE_WIDE_P`` (split or merged regions)."""
    sd = CENTRE_ERROR_WIDE_MM if rng.random() < CENTRE_WIDE_P else CENTRE_ERROR_MM
    jitter = rng.normal(0.0, sd / sp, 2)
    return (float(np.clip(truth_c[0] + jitter[0], 0, WORKING - 1)), float(np.clip(truth_c[1] + jitter[1], 0, WORKING - 1)))


@dataclass
class LesionExample:
    crop: np.ndarray  # (2, 256, 256) float32: the reader's input, cut as serving cuts it
    fine_mask: np.ndarray  # (128, 128) bool truth in the crop's mask frame
    truth: dict[str, Any]
    centre_px: tuple[float, float]  # the candidate centre (working frame) the crop is cut at
    film: dict[str, Any] = field(default_factory=dict)  # keep_film: original, spacing_mm, frame, coarse, working


def render_lesion(bg: FilmBackground, vol: PhantomVolume, spec: LesionSpec, rng: np.random.Generator,
                  keep_film: bool = False, contrast: float = 1.0) -> LesionExample:
    """One focal lesion on the detector film of ``bg``'s case, and its crop. ``contrast`` scales the
    lesion's attenuation (0: the same film, noise and crop without the lesion; for checks)."""
    geom, ex = bg.geom, bg.exposure
    if spec.centre_mm is not None and spec.lobe is not None:  # where it was on another film of the same chest
        centre3d, lobe = np.asarray(spec.centre_mm, dtype=np.float64), spec.lobe
    else:
        centre3d, lobe = place(vol, geom, bg.masks, spec, [], rng)
    les = lesion_3d(spec, centre3d, vol, ex.bone_factor, rng)
    les.attenuation = les.attenuation * contrast
    film_xy = geom.film_of(les.points)  # final 512² pixels (x, y)
    truth_c = geom.film_of(centre3d[None, :])[0]
    sp = geom.spacing_mm
    factor = int(rng.choice(DETECTOR_FACTORS))
    size, sp_o = WORKING * factor, sp / factor

    # 512²: the lesion as the phantom's own film would hold it (for the unsharp mask's low pass)
    att512 = splat(film_xy[:, 0], film_xy[:, 1], les.attenuation / sp**2, (WORKING, WORKING))
    thick512 = splat(film_xy[:, 0], film_xy[:, 1], les.volume / sp**2, (WORKING, WORKING))
    v512 = _tone(bg.line + att512, bg)
    low512 = cv2.GaussianBlur(v512, (0, 0), ex.edge_sigma_mm / sp)
    film512 = np.clip(v512 + ex.edge_gain * (v512 - low512), 0.0, 1.0)

    # the detector film: the 512² film upsampled, and a detailed window around the lesion
    original = cv2.resize(film512, (size, size), interpolation=cv2.INTER_CUBIC)
    oc = (truth_c + 0.5) * factor - 0.5
    half = int(WINDOW_MM / 2 / sp_o)
    x0, y0 = max(int(oc[0]) - half, 0), max(int(oc[1]) - half, 0)
    x1, y1 = min(int(oc[0]) + half, size), min(int(oc[1]) + half, size)
    wx = ((np.arange(x0, x1, dtype=np.float32) + 0.5) / factor - 0.5)[None, :].repeat(y1 - y0, 0)
    wy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) / factor - 0.5)[:, None].repeat(x1 - x0, 1)
    line_w = cv2.remap(bg.line, wx, wy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    low_w = cv2.remap(low512, wx, wy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ox, oy = (film_xy[:, 0] + 0.5) * factor - 0.5 - x0, (film_xy[:, 1] + 0.5) * factor - 0.5 - y0
    att_w = splat(ox, oy, les.attenuation / sp_o**2, (y1 - y0, x1 - x0))
    att_w = cv2.GaussianBlur(att_w, (0, 0), max(0.5 * les.step / sp_o, 0.5))
    v = _tone(line_w + att_w, bg)
    v = v + ex.edge_gain * (v - low_w)
    v = cv2.GaussianBlur(v, (0, 0), float(rng.uniform(0.08, 0.18)) / sp_o)  # the detector's blur
    noise = cv2.GaussianBlur(rng.standard_normal(v.shape).astype(np.float32), (0, 0), 0.7) * 1.6
    v = v + ex.noise * math.sqrt(factor) * (0.5 + np.clip(v, 0.0, 1.0)) * noise
    original[y0:y1, x0:x1] = np.clip(v, 0.0, 1.0)
    original = np.clip(original, 0.0, 1.0).astype(np.float32)

    # the candidate, and the crop as serving cuts it
    centre = candidate_centre(truth_c, sp, rng)
    frame = Frame((size, size), (WORKING, WORKING), float(factor), (0.0, 0.0))
    coarse = candidate_disc(centre, candidate_size_mm(les.truth["diameter_mm"] or 10.0, rng), sp)
    crop = cut_crop(original, (sp_o, sp_o), centre, coarse, frame, film_window(original))

    # the fine truth mask in the crop's mask frame (centred where cut_crop centred the crop)
    cx_o, cy_o = frame.to_original(centre[0], centre[1])
    mx = (((film_xy[:, 0] + 0.5) * factor - 0.5) - cx_o) * sp_o / MASK_MM_PER_PX + (MASK_SIZE - 1) / 2
    my = (((film_xy[:, 1] + 0.5) * factor - 0.5) - cy_o) * sp_o / MASK_MM_PER_PX + (MASK_SIZE - 1) / 2
    thick = splat(mx, my, les.volume / MASK_MM_PER_PX**2, (MASK_SIZE, MASK_SIZE))
    truth = {**les.truth, "seed": bg.seed, "lobe": lobe, "center_px": [round(float(truth_c[0]), 2), round(float(truth_c[1]), 2)],
             "center_3d_mm": [round(float(v), 3) for v in centre3d],
             "detector_mm_per_px": round(sp_o, 4), "working_mm_per_px": round(sp, 4)}
    film: dict[str, Any] = {}
    if keep_film:
        film = {"original": original, "spacing_mm": (sp_o, sp_o), "frame": frame, "coarse": coarse,
                "thick512": thick512}
    return LesionExample(crop, thick >= LESION_MASK_MM, truth, centre, film)


def render_seed(seed: int, per_film: int, cache_dir: Path | None = None, keep_film: bool = False,
                vol: PhantomVolume | None = None) -> list[LesionExample]:
    """``per_film`` lesions, each on its own detector film of case ``seed``'s anatomy."""
    if vol is None:
        if cache_dir is None:
            from orchestrator.settings import Settings

            cache_dir = Settings().cache_dir
        vol = load_volume(Path(cache_dir))
    bg = film_background(seed, vol)
    rng = _rng(seed, 2)
    return [render_lesion(bg, vol, draw_spec(rng), rng, keep_film) for _ in range(per_film)]


def save_seed(examples: list[LesionExample], path: Path) -> Path:
    """A seed's examples as one npz: crops float16, fine masks, truth JSON."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name("partial_" + path.name)  # renamed when complete: a killed run leaves no half file
    np.savez_compressed(
        partial, crops=np.stack([e.crop for e in examples]).astype(np.float16),
        masks=np.stack([e.fine_mask for e in examples]),
        centres=np.array([e.centre_px for e in examples], np.float32),
        truth=np.array(json.dumps([e.truth for e in examples])),
    )
    partial.replace(path)
    return path


assert CROP_SIZE == 2 * MASK_SIZE  # the mask frame is the crop's at half resolution


def _generate_one(job: tuple[int, int, str]) -> str:
    seed, per_film, out_dir = job
    path = Path(out_dir) / f"seed_{seed:05d}.npz"
    if not path.is_file():
        save_seed(render_seed(seed, per_film), path)
    return str(path)


def generate(seeds: list[int], per_film: int, out_dir: Path, workers: int = 2) -> list[Path]:
    """Render and save every seed's examples (skipping seeds already saved); ``workers`` processes."""
    jobs = [(s, per_film, str(out_dir)) for s in seeds]
    if workers <= 1:
        return [Path(_generate_one(j)) for j in jobs]
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        return [Path(p) for p in pool.imap(_generate_one, jobs)]


def load_examples(paths: list[Path]) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Saved seeds -> (crops float16 [N, 2, 256, 256], fine masks bool [N, 128, 128], truths)."""
    import json
    import zipfile

    crops, masks, truths = [], [], []
    for p in paths:
        try:
            with np.load(p) as z:
                c, m, t = z["crops"], z["masks"], json.loads(str(z["truth"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # still being written elsewhere
            import logging

            logging.getLogger(__name__).warning("skipping %s: %s", p, exc)
            continue
        crops.append(c)
        masks.append(m)
        truths.extend(t)
    if not crops:
        raise FileNotFoundError("no readable examples")
    return np.concatenate(crops), np.concatenate(masks), truths
