"""CT -> radiograph: slab sums shifted by the case geometry, summed, cut to the film, and
shown with a film-like contrast curve.

Intensity convention: the line integral of attenuation ``P`` (soft + bone_factor * bone +
lesions) is windowed between two percentiles of the film, passed through a gamma, lightly
edge-enhanced (as in processed digital films), blurred and given noise. Higher = more
attenuation = brighter (MONOCHROME2): air dark, bone bright.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from encoder.phantom.geometry import Geometry
from encoder.phantom.volume import PhantomVolume


@dataclass(frozen=True)
class Exposure:
    bone_factor: float  # > 1: bone steeper than soft tissue (lower kVp -> larger)
    low_percentile: float
    high_percentile: float
    gamma: float
    edge_gain: float  # unsharp-mask gain
    edge_sigma_mm: float
    blur_px: float
    noise: float  # std of the additive noise at mid grey


def _shifted_sum(slabs: np.ndarray, slab_y: np.ndarray, geom: Geometry) -> np.ndarray:
    rows, cols = slabs.shape[-2:]
    total = np.zeros((rows, cols), dtype=np.float32)
    for s in range(slabs.shape[0]):
        sx, sy = geom.slab_shift(float(slab_y[s]))
        img = np.asarray(slabs[s], dtype=np.float32)
        if abs(sx) < 1e-3 and abs(sy) < 1e-3:
            total += img
            continue
        m = np.array([[1.0, 0.0, sx], [0.0, 1.0, sy]])
        total += cv2.warpAffine(img, m, (cols, rows), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
    return total


def project_attenuation(vol: PhantomVolume, geom: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """(soft, bone) line integrals on the unwarped film, float32 (size, size)."""
    soft = _shifted_sum(vol.soft_slabs, vol.image_slab_y, geom)
    bone = _shifted_sum(vol.bone_slabs, vol.image_slab_y, geom)
    film = [geom.slab_to_film(g, (0.0, 0.0), cv2.INTER_CUBIC) for g in (soft, bone)]
    return np.maximum(film[0], 0.0), np.maximum(film[1], 0.0)


def project_channels(vol: PhantomVolume, geom: Geometry) -> np.ndarray:
    """Voxel-count projections of each VOLUME_CHANNELS channel on the unwarped film."""
    out = np.empty((vol.mask_slabs.shape[0], geom.size, geom.size), dtype=np.float32)
    for c in range(vol.mask_slabs.shape[0]):
        grid = _shifted_sum(vol.mask_slabs[c], vol.mask_slab_y, geom)
        out[c] = geom.slab_to_film(grid, (0.0, 0.0), cv2.INTER_LINEAR)
    return out


def display(line_integral: np.ndarray, exposure: Exposure, spacing_mm: float,
            rng: np.random.Generator) -> np.ndarray:
    """Line integral -> film in [0, 1] (float32, before quantisation)."""
    p = line_integral.astype(np.float32)
    lo, hi = np.percentile(p, [exposure.low_percentile, exposure.high_percentile])
    v = np.clip((p - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    v = np.power(v, exposure.gamma, dtype=np.float32)
    sigma = exposure.edge_sigma_mm / spacing_mm
    v = v + exposure.edge_gain * (v - cv2.GaussianBlur(v, (0, 0), sigma))
    if exposure.blur_px > 0.05:
        v = cv2.GaussianBlur(v, (0, 0), exposure.blur_px)
    # quantum-like noise: larger where fewer photons arrive (bright = attenuating areas)
    noise = rng.standard_normal(v.shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7) * 1.6
    v = v + exposure.noise * (0.5 + np.clip(v, 0.0, 1.0)) * noise
    return np.clip(v, 0.0, 1.0).astype(np.float32)
