"""Internal density of a lesion, read from the image pixels within its mask against the
surrounding lung: homogeneity, calcified core, cavity or bubble lucency, air bronchogram.

Intensities are the working image's [0, 1] values (brighter = denser). The surrounding lung
is a ring a few mm wide outside the lesion, inside the lung fields. The lesion is read as a
radial profile: median intensity over rings of equal relative depth (0 = centre, 1 = edge,
from the distance to the lesion's boundary), minus the surrounding lung.

- a solid lesion is brightest at its centre and fades to its edge (a projected sphere);
- a cavity is a bright wall round a darker centre: the profile peaks away from the centre;
- a calcified core is a centre much brighter than a solid lesion of that size would be;
- bubble lucencies are small dark holes inside an otherwise solid lesion;
- an air bronchogram is a set of dark linear tubes inside a large opacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from orchestrator.facts import Density, PixelSpacing, Tri
from orchestrator.findings.geometry import disc, local_edt
from orchestrator.findings.windows import window

RING_MM = 6.0
PROFILE_RINGS = 5
CAVITY_SCORE = 0.3  # (wall peak - centre) / wall peak
CALCIFIED_SCORE = 0.02  # central excess x contrast per mm (see calcified_score)
CALCIFIED_MAX_MM = 30.0
MIN_CONTRAST = 0.03
AIR_BRONCHOGRAM_MIN_MM = 20.0
TUBE_MIN_MM = 5.0
BUBBLE_MIN_MM = 1.5
TEXTURE_SIGMA_MM = 1.2
MOTTLED_RATIO = 1.1


@dataclass(frozen=True)
class Profile:
    rings: np.ndarray  # (PROFILE_RINGS,) median intensity minus background, centre first
    background: float
    contrast: float  # the profile's maximum

    @property
    def cavity_score(self) -> float:
        wall = float(np.nanmax(self.rings[2:]))
        centre = float(np.nanmean(self.rings[:2]))
        return (wall - centre) / max(wall, 1e-3)

    def calcified_score(self, diameter_mm: float) -> float:
        """Central excess over the outer-middle ring, relative to that ring, times the
        contrast per mm of size (small or faint lesions read as less calcified)."""
        mid = float(self.rings[3])
        excess = (float(self.rings[0]) - mid) / max(mid, 0.2 * self.contrast, 1e-3)
        return excess * self.contrast / max(diameter_mm, 1.0)


def ring_mask(mask: np.ndarray, lung: np.ndarray, spacing: PixelSpacing, other: np.ndarray | None) -> np.ndarray:
    r = max(2, round(RING_MM / min(spacing.row_mm, spacing.col_mm)))
    grown = cv2.dilate(mask.astype(np.uint8), disc(r)).astype(bool)
    ring = grown & ~cv2.dilate(mask.astype(np.uint8), disc(2)).astype(bool)
    if other is not None:
        ring &= ~other
    inside_lung = ring & lung
    return inside_lung if inside_lung.sum() >= 10 else ring


def radial_profile(smooth: np.ndarray, mask: np.ndarray, ring: np.ndarray) -> tuple[Profile, np.ndarray]:
    """The lesion's radial intensity profile, and each pixel's relative depth (0 centre, 1 edge)."""
    dist = local_edt(mask, mask)
    rho = 1.0 - dist / max(float(dist.max()), 1e-6)
    bg = float(np.median(smooth[ring])) if ring.any() else float(np.median(smooth[~mask]))
    rings = np.full(PROFILE_RINGS, np.nan)
    for i in range(PROFILE_RINGS):
        sel = mask & (rho >= i / PROFILE_RINGS) & (rho < (i + 1) / PROFILE_RINGS + (i == PROFILE_RINGS - 1))
        if sel.any():
            rings[i] = float(np.median(smooth[sel])) - bg
    rings = _fill_nan(rings)
    return Profile(rings, bg, float(np.nanmax(rings))), rho


def _fill_nan(a: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(a)
    if ok.all() or not ok.any():
        return np.nan_to_num(a)
    idx = np.arange(len(a))
    return np.interp(idx, idx[ok], a[ok])


@dataclass(frozen=True)
class DensityRead:
    """One lesion's density and the raw scores behind its cavity and calcification flags (before
    the gates): what ``orchestrator.findings.calibration`` turns into probabilities."""

    density: Density
    cavity_score: float
    calcified_score: float  # the calcified score / ``CALCIFIED_SCORE``


def reach_px(spacing: PixelSpacing) -> int:
    """How far from a lesion's mask the density read looks, in pixels: the surrounding ring,
    plus the wider of the texture blur's kernel and the black top-hat's closing (both plus the
    smoothing kernel), plus a margin. A read in a window padded by this much equals the read on
    the whole film."""
    px = min(spacing.row_mm, spacing.col_mm)
    ring = max(2, round(RING_MM / px))
    tophat = max(2, round(3.0 / px))
    texture = int(round(8 * 4 * TEXTURE_SIGMA_MM / px + 1)) // 2 + 1
    smoothing = 4  # GaussianBlur σ 0.8 on float32: a 7-tap kernel
    return ring + max(texture, smoothing) + 2 * tophat + smoothing + 2


def read_density(
    image: np.ndarray,
    mask: np.ndarray,
    lung: np.ndarray,
    spacing: PixelSpacing,
    diameter_mm: float,
    other_lesions: np.ndarray | None = None,
    linear: bool = False,
) -> DensityRead:
    """Density of one lesion, read in a window round it (``reach_px``; the same numbers as on the
    whole film, at a fraction of the pixels). ``linear``: a strand-like opacity (no cavity or
    calcification read)."""
    box = window(mask, reach_px(spacing))
    ring = ring_mask(mask[box], lung[box], spacing, None if other_lesions is None else other_lesions[box])
    if not ring.any():  # no surrounding lung to compare with: the background is the whole film's
        box = (slice(0, mask.shape[0]), slice(0, mask.shape[1]))
        ring = ring_mask(mask, lung, spacing, other_lesions)
    return _read(image[box], mask[box], ring, spacing, diameter_mm, linear)


def _read(image: np.ndarray, mask: np.ndarray, ring: np.ndarray, spacing: PixelSpacing, diameter_mm: float,
          linear: bool) -> DensityRead:
    smooth = cv2.GaussianBlur(np.asarray(image, dtype=np.float32), (0, 0), 0.8)
    prof, rho = radial_profile(smooth, mask, ring)
    level = float(np.median(smooth[mask])) - prof.background
    visible = prof.contrast >= MIN_CONTRAST and not linear
    cavity = visible and prof.cavity_score >= CAVITY_SCORE
    calcified = (
        visible
        and not cavity
        and diameter_mm <= CALCIFIED_MAX_MM
        and prof.calcified_score(diameter_mm) >= CALCIFIED_SCORE
    )
    bubble = visible and not cavity and _bubbles(smooth, mask, rho, prof, spacing)
    air = _air_bronchogram(smooth, mask, rho, prof, spacing, diameter_mm, cavity or linear)
    mottled = visible and texture_ratio(image, mask, rho, ring, spacing) >= MOTTLED_RATIO
    density = Density(
        homogeneous=bool(not (calcified or cavity or bubble or mottled or air == "yes")),
        contrast=round(level, 4),
        calcified=bool(calcified),
        cavity=bool(cavity),
        bubble_lucency=bool(bubble),
        air_bronchogram=air,
    )
    return DensityRead(density, float(prof.cavity_score), float(prof.calcified_score(diameter_mm) / CALCIFIED_SCORE))


def assess_density(
    image: np.ndarray,
    mask: np.ndarray,
    lung: np.ndarray,
    spacing: PixelSpacing,
    diameter_mm: float,
    other_lesions: np.ndarray | None = None,
    linear: bool = False,
) -> Density:
    """Density of one lesion (``read_density`` without the raw scores)."""
    return read_density(image, mask, lung, spacing, diameter_mm, other_lesions, linear).density


def texture_ratio(image: np.ndarray, mask: np.ndarray, rho: np.ndarray, ring: np.ndarray, spacing: PixelSpacing) -> float:
    """Mid-scale texture (difference of Gaussians, about 1-5 mm) inside the lesion relative
    to that of the surrounding lung: above 1 the opacity is mottled (consolidation-like)."""
    inner = mask & (rho < 0.7)
    if inner.sum() < 20 or ring.sum() < 20:
        return 0.0
    img = np.asarray(image, dtype=np.float32)
    s = TEXTURE_SIGMA_MM / min(spacing.row_mm, spacing.col_mm)
    # blurred only over the region read, padded by the wider kernel's radius (OpenCV's float kernel
    # reaches round(8σ + 1) // 2): every pixel read sees the same neighbours as on the whole film
    pad = int(round(8 * 4 * s + 1)) // 2 + 1
    ys, xs = np.nonzero(inner | ring)
    h, w = img.shape
    box = (slice(max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, h)),
           slice(max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, w)))
    part = np.ascontiguousarray(img[box])
    dog = cv2.GaussianBlur(part, (0, 0), s) - cv2.GaussianBlur(part, (0, 0), 4 * s)
    return float(np.std(dog[inner[box]]) / max(float(np.std(dog[ring[box]])), 1e-4))


def _dark_parts(smooth: np.ndarray, inner: np.ndarray, prof: Profile, spacing: PixelSpacing) -> list[np.ndarray]:
    """Connected dark parts inside: black top-hat (dark, small structures) deeper than half
    the lesion's contrast."""
    r = max(2, round(3.0 / min(spacing.row_mm, spacing.col_mm)))
    tophat = cv2.morphologyEx(smooth, cv2.MORPH_BLACKHAT, disc(r))
    dark = inner & (tophat >= 0.5 * prof.contrast)
    lab, n = ndimage.label(dark)
    return [lab == i for i in range(1, n + 1)]


def _bubbles(smooth: np.ndarray, mask: np.ndarray, rho: np.ndarray, prof: Profile, spacing: PixelSpacing) -> bool:
    inner = mask & (rho < 0.7)
    px_area = spacing.row_mm * spacing.col_mm
    for part in _dark_parts(smooth, inner, prof, spacing):
        d = 2 * math.sqrt(float(part.sum()) * px_area / math.pi)
        if d >= BUBBLE_MIN_MM and _elongation(part) < 2.0:
            return True
    return False


def _elongation(part: np.ndarray) -> float:
    ys, xs = np.nonzero(part)
    if len(xs) < 3:
        return 1.0
    ev = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64)) + 1e-6 * np.eye(2))
    return float(math.sqrt(ev[1] / max(ev[0], 1e-6)))


def _air_bronchogram(
    smooth: np.ndarray,
    mask: np.ndarray,
    rho: np.ndarray,
    prof: Profile,
    spacing: PixelSpacing,
    diameter_mm: float,
    skip: bool,
) -> Tri:
    """A radiograph shows air bronchograms only in larger opacities; small nodules: uncertain.

    Tubes seen -> "yes". None seen -> "uncertain", not "no": this detector has never been shown
    to find the phantom's tubes (1-1.4 mm air tubes inside a 30-60 mm consolidation leave no
    visible trace in the 8-bit projected film: 0 of 11 consolidations on seeds 0-59), so its
    silence is not evidence of absence and the answer must not read as a negative finding."""
    if skip or diameter_mm < AIR_BRONCHOGRAM_MIN_MM or prof.contrast < MIN_CONTRAST:
        return "uncertain"
    px = math.sqrt(spacing.row_mm * spacing.col_mm)
    for part in _dark_parts(smooth, mask & (rho < 0.85), prof, spacing):
        ys, xs = np.nonzero(part)
        span = math.hypot(float(xs.max() - xs.min()), float(ys.max() - ys.min())) * px
        if span >= TUBE_MIN_MM and _elongation(part) >= 2.5:
            return "yes"
    return "uncertain"
