"""Lesion mixes (issue 21): what lesions a film gets when its spec does not list them.

``default`` (``CaseSpec.lesion_mix=None``): ``case.random_specs``, 0-3 lesions of the seven types,
as the committed weights were trained on.

``varied`` (opt-in): the variety real films show and the default draw lacks.

``none`` (opt-in, for scoring): no lesion at all, every film normal (issue 21's "normal films from every
family": ``hilum evaluate --lesion-mix none --render FAMILY``).

=====================  ================================================================================
normal (1/3)           no lesion at all, so that "nothing" is a common answer
multiple masses (8 %)  5-15 round, smooth solid masses of mixed sizes (5-45 mm) in both lungs
                       (``pattern="multiple"``)
lesions (the rest)     1-3 draws of:
- focal (50 %)         4-60 mm (log-uniform; ``nodule`` below 30 mm, ``mass`` from 30), a density from
                       ground glass (-750..-350 HU) and subsolid (-350..-100) through solid (-20..80) to
                       calcified (``calcified_nodule``, 4-20 mm), sharp or blurred edges (``edge_mm``:
                       most ground glass, a third of the solid ones), and in 30 % touching the pleura,
                       the mediastinum or a dome (``contact``)
- consolidation (20 %) lobar (a whole lobe, spared and ground-glass patches, air bronchograms), patchy
                       (2-4 patches of 12-30 mm in one lobe, ground glass to solid) or one focal
                       consolidation as in the default mix
- strand (10 %), cavity (8 %), effusion (12 %, at most one per film) as in the default mix
=====================  ================================================================================

Placement against a surface (:func:`contact_candidates`): lung points whose depth below the lung
surface is 35-80 % of the lesion's radius (so the clipped lesion abuts the surface), whose nearest
surface lies in the requested direction (the lateral chest wall for the pleura, the contact a PA
film shows, and only where that wall is the lung's outermost at its height, so that the lesion
sits on the lung field's edge on the film; towards the midline for the mediastinum; downwards for
a dome), found by probing the lobe labels along those directions.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from encoder.phantom.lesions import LOBE_NAMES, LesionSpec
from encoder.phantom.volume import PhantomVolume

LESION_MIXES: tuple[str, ...] = ("default", "varied", "none")
NORMAL_SHARE = 1.0 / 3.0
MULTIPLE_SHARE = 0.08
KIND_WEIGHTS: dict[str, float] = {"focal": 0.5, "consolidation": 0.2, "strand": 0.1, "cavity": 0.08,
                                  "effusion": 0.12}
DENSITIES: dict[str, tuple[float, tuple[float, float]]] = {  # share, HU range
    "ground_glass": (0.22, (-750.0, -350.0)), "subsolid": (0.13, (-350.0, -100.0)),
    "solid": (0.5, (-20.0, 80.0)), "calcified": (0.15, (0.0, 0.0)),
}
CONTACTS: dict[str, float] = {"pleura": 0.5, "mediastinum": 0.25, "diaphragm": 0.25}
CONTACT_SHARE = 0.3
LOBE_SHARE: dict[str, float] = {"RUL": 0.2, "RML": 0.08, "RLL": 0.25, "LUL": 0.25, "LLL": 0.22}
MASS_FROM_MM = 30.0


def check_mix(mix: str | None) -> str | None:
    """None / "default" -> None (today's draw); "varied" / "none" -> itself; anything else: ValueError."""
    if mix in (None, "", "default"):
        return None
    if mix not in LESION_MIXES:
        raise ValueError(f"unknown lesion mix {mix!r}; known: {', '.join(LESION_MIXES)}")
    return mix


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return str(rng.choice(names, p=p / p.sum()))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def focal_spec(rng: np.random.Generator) -> LesionSpec:
    """One focal lesion of the varied mix (a nodule, mass or calcified nodule)."""
    diameter = _log_uniform(rng, 4.0, 60.0)
    density = _pick(rng, {k: v[0] for k, v in DENSITIES.items()})
    lo, hi = DENSITIES[density][1]
    hu = float(rng.uniform(lo, hi))
    blurred = rng.random() < (0.7 if density in ("ground_glass", "subsolid") else 0.35)
    edge = float(rng.uniform(0.8, 4.0)) if blurred else 0.0
    contact = _pick(rng, CONTACTS) if rng.random() < CONTACT_SHARE else None
    margin = str(rng.choice(["smooth", "lobulated", "spiculated"]))
    if density == "calcified":
        return LesionSpec(type="calcified_nodule", diameter_mm=round(min(diameter, 20.0), 1), margin="smooth",
                          lobulated=False, density="calcified", contact=contact)
    if density != "solid" and margin == "spiculated":
        margin = "smooth"
    kind = "mass" if diameter >= MASS_FROM_MM else "nodule"
    return LesionSpec(type=kind, diameter_mm=round(diameter, 1), margin=margin, lobulated=margin == "lobulated",
                      hu=round(hu, 1), density=density, edge_mm=round(edge, 1) if edge else None, contact=contact)


def consolidation_specs(rng: np.random.Generator) -> list[LesionSpec]:
    pattern = _pick(rng, {"lobar": 0.35, "patchy": 0.4, "focal": 0.25})
    if pattern == "lobar":
        lobe = _pick(rng, LOBE_SHARE)
        return [LesionSpec(type="consolidation", lobe=lobe, hu=round(float(rng.uniform(-100.0, 40.0)), 1),
                           pattern="lobar", density="solid")]
    if pattern == "patchy":
        lobe = _pick(rng, LOBE_SHARE)
        out = []
        for _ in range(int(rng.integers(2, 5))):
            hu = float(rng.uniform(-600.0, 30.0))
            out.append(LesionSpec(type="consolidation", diameter_mm=round(float(rng.uniform(12.0, 30.0)), 1),
                                  lobe=lobe, hu=round(hu, 1), pattern="patchy",
                                  density="ground_glass" if hu < -300 else "solid"))
        return out
    return [LesionSpec(type="consolidation")]


def multiple_masses(rng: np.random.Generator) -> tuple[LesionSpec, ...]:
    count = int(rng.integers(5, 16))
    first = str(rng.choice(["right", "left"]))
    specs = []
    for n in range(count):
        side = first if n % 2 == 0 else ("left" if first == "right" else "right")
        d = _log_uniform(rng, 5.0, 45.0)
        specs.append(LesionSpec(type="mass" if d >= MASS_FROM_MM else "nodule", diameter_mm=round(d, 1),
                                side=side, margin="smooth", lobulated=False,
                                hu=round(float(rng.uniform(10.0, 70.0)), 1), density="solid", pattern="multiple"))
    return tuple(specs)


def varied_specs(rng: np.random.Generator) -> tuple[LesionSpec, ...]:
    """The lesions of one film of the varied mix (module docstring)."""
    u = rng.random()
    if u < NORMAL_SHARE:
        return ()
    if u < NORMAL_SHARE + MULTIPLE_SHARE:
        return multiple_masses(rng)
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.32, 0.18]))
    specs: list[LesionSpec] = []
    for _ in range(count):
        kind = _pick(rng, KIND_WEIGHTS)
        if kind == "effusion" and any(s.type == "effusion" for s in specs):
            kind = "focal"
        if kind == "focal":
            specs.append(focal_spec(rng))
        elif kind == "consolidation":
            specs.extend(consolidation_specs(rng))
        else:
            specs.append(LesionSpec(type=kind))
    return _away_from_lobar(specs)


def _away_from_lobar(specs: list[LesionSpec]) -> tuple[LesionSpec, ...]:
    """A film with a lobar consolidation keeps its other lesions (but an effusion) in the other
    lung: a lesion inside an airless lobe would be truth no reader could see."""
    lobar = next((s for s in specs if s.pattern == "lobar"), None)
    if lobar is None:
        return tuple(specs)
    other = "left" if str(lobar.lobe).startswith("R") else "right"
    out = []
    for s in specs:
        if s is lobar or s.type == "effusion":
            out.append(s)
        else:
            out.append(replace(s, lobe=None, side=other, zone=None, band=None))
    return tuple(out)


# -- placement against a surface -------------------------------------------------------------
PROBE_DIRECTIONS = ("lateral", "medial", "down")


def _probe_exits(vol: PhantomVolume, vox: np.ndarray, mid_i: float, dist_mm: np.ndarray) -> dict[str, np.ndarray]:
    """For lung voxels (N, 3): does a step of ``dist_mm`` in each direction leave the lung?"""
    sp = np.asarray(vol.spacing, dtype=np.float64)
    lateral = np.where(vox[:, 0] < mid_i, -1.0, 1.0)  # axis 0 points to the patient's left
    zero = np.zeros_like(lateral)
    steps = {"lateral": np.stack([lateral, zero, zero], 1), "medial": np.stack([-lateral, zero, zero], 1),
             "down": np.stack([zero, zero, zero - 1.0], 1)}
    shape = np.asarray(vol.shape)
    out = {}
    for name, d in steps.items():
        idx = np.rint(vox + d * dist_mm[:, None] / sp).astype(int)
        inside = np.all((idx >= 0) & (idx < shape), axis=1)
        idx = np.clip(idx, 0, shape - 1)
        lab = np.asarray(vol.labels[idx[:, 0], idx[:, 1], idx[:, 2]])
        hu = np.asarray(vol.hu[idx[:, 0], idx[:, 1], idx[:, 2]])
        out[name] = inside & (lab == 0) & (hu > -400)  # left the lung into tissue (not air)
    return out


def _outermost(vol: PhantomVolume, vox: np.ndarray, mid_i: float, within_mm: np.ndarray) -> np.ndarray:
    """Whether each lung voxel lies within ``within_mm`` of its side's outermost lung at its height."""
    pts = np.asarray(vol.lung_points)
    right = pts[:, 0] < mid_i  # the patient's right: low i
    k_n = int(vol.shape[2])
    lo = np.full(k_n, np.inf)
    hi = np.full(k_n, -np.inf)
    np.minimum.at(lo, pts[right, 2], pts[right, 0])
    np.maximum.at(hi, pts[~right, 2], pts[~right, 0])
    k = vox[:, 2].astype(int)
    gap = np.where(vox[:, 0] < mid_i, vox[:, 0] - lo[k], hi[k] - vox[:, 0]) * float(vol.spacing[0])
    return gap <= within_mm


def contact_kind(exits: dict[str, np.ndarray]) -> np.ndarray:
    """Which surface each probed point touches: 'pleura', 'mediastinum', 'diaphragm' or ''."""
    n = len(exits["down"])
    kind = np.full(n, "", dtype=object)
    kind[exits["lateral"] & ~exits["medial"] & ~exits["down"]] = "pleura"
    kind[exits["medial"] & ~exits["down"]] = "mediastinum"
    kind[exits["down"]] = "diaphragm"
    return kind


def contact_candidates(vol: PhantomVolume, spec: LesionSpec, rng: np.random.Generator,
                       ) -> tuple[np.ndarray, str]:
    """Lung points (world mm) where a lesion of ``spec`` touches ``spec.contact``, and the lobe."""
    if spec.lobe is not None:
        lobe = spec.lobe
    else:
        allowed = [n for n in LOBE_NAMES if spec.side is None or (n[0] == "R") == (spec.side == "right")]
        if spec.contact == "diaphragm":  # the lobes that rest on a dome
            allowed = [n for n in allowed if n in ("RML", "RLL", "LLL")]
        counts = np.array([np.count_nonzero(np.asarray(vol.lung_lobe) == LOBE_NAMES.index(n) + 1) for n in allowed],
                          float)
        lobe = str(rng.choice(allowed, p=counts / counts.sum()))
    lobes = np.asarray(vol.lung_lobe)
    depth = np.asarray(vol.lung_depth_mm)
    r = float(spec.diameter_mm or 10.0) / 2
    in_lobe = np.nonzero(lobes == LOBE_NAMES.index(lobe) + 1)[0]
    band = in_lobe[(depth[in_lobe] >= max(0.35 * r, 2.5)) & (depth[in_lobe] <= max(0.8 * r, 4.0))]
    if len(band) < 20:
        band = in_lobe[np.argsort(depth[in_lobe])[:200]]
    band = rng.choice(band, size=min(len(band), 4000), replace=False)
    band = np.sort(band)
    vox = np.asarray(vol.lung_points)[band].astype(np.float64)
    mid_i = float(np.asarray(vol.lung_points)[:, 0].mean())
    exits = _probe_exits(vol, vox, mid_i, depth[band] * 1.5 + 3.0)
    kinds = contact_kind(exits)
    kinds[(kinds == "pleura") & ~_outermost(vol, vox, mid_i, depth[band] + 3.0)] = ""
    keep = kinds == spec.contact
    if keep.sum() < 10:
        keep = kinds != ""
    if keep.sum() < 10:
        keep = np.ones(len(band), dtype=bool)
    return vox[keep] * np.asarray(vol.spacing, dtype=np.float64), lobe
