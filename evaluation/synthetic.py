"""Synthetic chest maps for tests and demos: two elliptical lung fields split into lobes, a
heart, mediastinum, hila, diaphragm, and lesion shapes (disc, star, lobulated blob, strand).

Nothing here is anatomy-faithful; it is enough geometry to exercise the findings layer
without the phantom engine or the encoder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import ANATOMY_CLASSES

SIZE = 512


def disc_mask(shape: tuple[int, int], center: tuple[float, float], radius: float) -> np.ndarray:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - center[0]) ** 2 + (yy - center[1]) ** 2 <= radius**2


def polar_mask(shape: tuple[int, int], center: tuple[float, float], radius_of: np.ndarray) -> np.ndarray:
    """Mask of a star-shaped region: ``radius_of`` samples r(θ) over 0..2π (θ from the image's +x,
    counted towards +y), drawn as a fine polygon."""
    n = len(radius_of)
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([center[0] + radius_of * np.cos(th), center[1] + radius_of * np.sin(th)], axis=1)
    m = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


def star_mask(
    shape: tuple[int, int],
    center: tuple[float, float],
    radius: float,
    points: int,
    spike_len: float,
    phase: float = 0.0,
    spike_half_width_deg: float = 4.0,
) -> np.ndarray:
    """A disc with ``points`` thin triangular spikes (a spiculated nodule)."""
    th = np.linspace(0, 2 * np.pi, 2880, endpoint=False)
    r = np.full_like(th, radius)
    hw = math.radians(spike_half_width_deg)
    for k in range(points):
        a = phase + 2 * math.pi * k / points
        d = np.abs((th - a + np.pi) % (2 * np.pi) - np.pi)
        r = np.maximum(r, np.where(d < hw, radius + spike_len * (1 - d / hw), 0))
    return polar_mask(shape, center, r)


def lobulated_mask(
    shape: tuple[int, int], center: tuple[float, float], radius: float, lobes: int, depth: float, phase: float = 0.0
) -> np.ndarray:
    """A blob whose radius dips sharply between ``lobes`` bulges (notches at the dips)."""
    th = np.linspace(0, 2 * np.pi, 1440, endpoint=False)
    bulge = np.abs(np.cos(lobes * (th - phase) / 2))  # 1 at the bulges, 0 at the dips (cusps)
    r = radius * (1 - depth) + radius * depth * np.sqrt(bulge)
    return polar_mask(shape, center, r)


def strand_mask(shape: tuple[int, int], a: tuple[float, float], b: tuple[float, float], width: float) -> np.ndarray:
    m = np.zeros(shape, dtype=np.uint8)
    cv2.line(m, (round(a[0]), round(a[1])), (round(b[0]), round(b[1])), 1, thickness=max(1, round(width)))
    return m.astype(bool)


def _ellipse(shape: tuple[int, int], c: tuple[float, float], ax: tuple[float, float]) -> np.ndarray:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx - c[0]) / ax[0]) ** 2 + ((yy - c[1]) / ax[1]) ** 2 <= 1.0


def chest_masks(size: int = SIZE) -> dict[str, np.ndarray]:
    """Bool masks by anatomy class name on a ``size`` square film."""
    s = size / SIZE
    shape = (size, size)
    yy, xx = np.mgrid[0:size, 0:size]
    lung_r = _ellipse(shape, (160 * s, 250 * s), (95 * s, 170 * s)) & (yy < 400 * s)
    lung_l = _ellipse(shape, (352 * s, 255 * s), (95 * s, 165 * s)) & (yy < 405 * s)
    m: dict[str, np.ndarray] = {name: np.zeros(shape, dtype=bool) for name in ANATOMY_CLASSES}
    m["lung_right"], m["lung_left"] = lung_r, lung_l
    m["RUL"] = lung_r & (yy < 200 * s)
    m["RML"] = lung_r & (yy >= 200 * s) & (yy < 290 * s)
    m["RLL"] = lung_r & (yy >= 290 * s)
    m["LUL"] = lung_l & (yy < 240 * s)
    m["LLL"] = lung_l & (yy >= 240 * s)
    m["heart"] = _ellipse(shape, (275 * s, 330 * s), (85 * s, 65 * s))
    m["mediastinum"] = (np.abs(xx - 256 * s) < 40 * s) & (yy > 60 * s) & (yy < 400 * s)
    m["trachea"] = (np.abs(xx - 256 * s) < 9 * s) & (yy > 40 * s) & (yy < 190 * s)
    m["hilum_right"] = _ellipse(shape, (215 * s, 225 * s), (18 * s, 28 * s))
    m["hilum_left"] = _ellipse(shape, (297 * s, 215 * s), (18 * s, 28 * s))
    m["spine"] = (np.abs(xx - 256 * s) < 22 * s)
    m["diaphragm"] = (yy >= 400 * s) & (np.abs(xx - 256 * s) < 230 * s)
    m["clavicle_right"] = (np.abs(yy - 95 * s) < 6 * s) & (xx > 90 * s) & (xx < 240 * s)
    m["clavicle_left"] = (np.abs(yy - 95 * s) < 6 * s) & (xx > 272 * s) & (xx < 422 * s)
    return m


HILUM_POINTS: dict[str, tuple[float, float]] = {"right": (215.0, 225.0), "left": (297.0, 215.0)}
RIB_CONTRAST = 0.02  # the rib bands' amplitude in the lungs (the film is [0, 1]; lungs 0.25, soft tissue 0.7)
RIB_PERIOD_PX = 36.0  # on the 512 film, sloping down from the midline as posterior ribs do


def synthetic_maps(lesions: Sequence[np.ndarray] = (), size: int = SIZE, noise: float = 0.01, seed: int = 0) -> AnatomyMaps:
    """Maps with the given lesion masks (bool, ``size`` square) and a matching film: lungs
    dark with faint rib bands across them (a lung field always shows structure:
    ``orchestrator.findings.plausibility.blank_share``), soft tissue grey, lesions as bright as soft tissue."""
    masks = chest_masks(size)
    rng = np.random.default_rng(seed)
    lungs = masks["lung_right"] | masks["lung_left"]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) * (SIZE / size)
    ribs = RIB_CONTRAST * np.sin(2 * np.pi * (yy + 0.25 * np.abs(xx - SIZE / 2)) / RIB_PERIOD_PX)
    image = np.where(lungs, 0.25 + ribs, 0.7).astype(np.float32)
    image[masks["heart"]] = 0.65
    lesion = np.zeros((size, size), dtype=np.float32)
    for m in lesions:
        lesion[m] = 1.0
        image[m] = 0.6
    image = np.clip(image + rng.normal(0, noise, image.shape).astype(np.float32), 0, 1)
    anatomy = np.stack([masks[name].astype(np.float32) for name in ANATOMY_CLASSES])
    s = size / SIZE
    hp = {k: (v[0] * s, v[1] * s) for k, v in HILUM_POINTS.items()}
    return AnatomyMaps(image=image, anatomy=anatomy, lesion=lesion, hilum_px=hp)
