"""Regions of the lesion map that are dense objects over the chest, not lesions: an ECG electrode's snap, sternotomy
wires, a clip. Real films carry them far more often than lesions, and the lesion map marks many of them
(``loadtests/score_devices.py``). Such a region is set aside from the findings (``ImageFacts.objects``) and the
answer says so.

Read from the working image's [0, 1] values (brighter = denser), in the region's mask:

- metal is bright structure with sharp edges, whiter than most of the film. Small: a white top-hat over
  ``TOPHAT_MM`` (the image minus its opening by a disc of that radius) above ``METAL_EXCESS``. Large (a generator's
  can): a piece of the top-hat over ``LARGE_TOPHAT_MM`` above it whose outline is a sharp step (``EDGE_GRADIENT``),
  where a mass's edge fades. Grown by ``MARGIN_MM`` to take in its blurred rim; its whitest pixel in the region at
  least as white as the film's ``WHITER_THAN`` percentile (the soft tissue and mediastinum: a lesion over lung is not
  denser than they are);
- a region is an object when that structure covers at least ``MIN_METAL_SHARE`` of it and, with it set aside, the
  rest of the region lies no brighter than the lung round it (median excess over the surrounding ring at most
  ``MAX_REST_EXCESS``): nothing of a lesion's own density is left. A lesion with a device over it keeps its density
  and stays a finding, down to that limit: a faint lesion under metal (ground glass) is set aside with it, which
  the answer allows for (a film taken with external objects removed settles whether a lesion lies beneath).

Chosen on validation films only (seeds 50-109, read as served and read alone, the phantom's own look and every
rendering family, devices drawn by ``encoder/phantom/devices.py``): the rule sets aside 344 of 786 device regions
(ECG electrodes 214 of 325, wires 12 of 13, pacemakers 92 of 256, buttons 26 of 150, lines 0 of 42: a plastic line or
button is too faint to be told from a lesion) and none of 580 lesion regions nor of 55 other false findings. It sits
at an edge there: a rest excess of 0.09 would set aside 3 lesions with a pacemaker over them, a metal share of 0.05
seven (swept with the large opening at full resolution, 341 device regions). Test-seed figures and the commands: ``encoder/weights/TRAINING.md``, "Dense objects set aside".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from orchestrator.facts import PixelSpacing
from orchestrator.findings.candidates import Candidate
from orchestrator.findings.density import ring_mask
from orchestrator.findings.geometry import disc

TOPHAT_MM = 4.0
LARGE_TOPHAT_MM = 25.0
LARGE_STEP = 4
METAL_EXCESS = 0.2
EDGE_GRADIENT = 0.08  # a large bright piece's median gradient along its outline, per working pixel
MIN_EDGE_PIXELS = 8
WHITER_THAN = 80.0  # percentile of the whole working image
MARGIN_MM = 1.5
MIN_METAL_SHARE = 0.1
MAX_REST_EXCESS = 0.06
SMOOTH_SIGMA_PX = 0.8


@dataclass(frozen=True)
class ObjectRead:
    """One region's metal share, whether its whitest metal is as white as the film's soft tissue, and the rest's
    median excess over the surrounding lung."""

    metal_share: float
    metal_white: bool
    rest_excess: float

    @property
    def external(self) -> bool:
        return self.metal_share >= MIN_METAL_SHARE and self.metal_white and self.rest_excess <= MAX_REST_EXCESS


@dataclass(frozen=True)
class MetalMap:
    """Where a film shows metal-like structure, read once per film."""

    smooth: np.ndarray  # the working image, lightly smoothed
    core: np.ndarray  # bool: top-hat above METAL_EXCESS
    grown: np.ndarray  # bool: the core grown by MARGIN_MM
    white_level: float  # the film's WHITER_THAN percentile


def _tophat(smooth: np.ndarray, radius_mm: float, px: float) -> np.ndarray:
    return smooth - cv2.morphologyEx(smooth, cv2.MORPH_OPEN, disc(max(3, round(radius_mm / px))))


def _large_tophat(smooth: np.ndarray, px: float) -> np.ndarray:
    """The top-hat over ``LARGE_TOPHAT_MM``, its opening taken at a ``LARGE_STEP``-th of the resolution (an opening by
    a disc that size costs a hundred times more at full resolution) and brought back."""
    h, w = smooth.shape
    small = cv2.resize(smooth, (max(1, w // LARGE_STEP), max(1, h // LARGE_STEP)), interpolation=cv2.INTER_AREA)
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, disc(max(3, round(LARGE_TOPHAT_MM / (px * LARGE_STEP)))))
    return smooth - cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR)


def sharp_pieces(bright: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """The connected pieces of ``bright`` whose outline is a sharp step (median gradient at least ``EDGE_GRADIENT``):
    a generator's can, not a mass, whose edge fades."""
    n, labels = cv2.connectedComponents(bright.astype(np.uint8))
    if n <= 1:
        return np.zeros_like(bright)
    gy, gx = np.gradient(smooth)
    outline = bright & ~cv2.erode(bright.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    at = np.flatnonzero(outline)
    piece = labels.ravel()[at]
    grad = np.hypot(gx.ravel()[at], gy.ravel()[at])
    order = np.lexsort((grad, piece))  # by piece, then by gradient: each piece's median read off its run
    piece, grad = piece[order], grad[order]
    ids = np.arange(1, n)
    start, stop = np.searchsorted(piece, ids), np.searchsorted(piece, ids, side="right")
    count = stop - start
    big = count >= MIN_EDGE_PIXELS
    median = np.zeros(len(ids))
    median[big] = (grad[start[big] + (count[big] - 1) // 2] + grad[start[big] + count[big] // 2]) / 2
    keep = ids[big & (median >= EDGE_GRADIENT)]
    return np.isin(labels, keep) if keep.size else np.zeros_like(bright)


def metal_map(image: np.ndarray, spacing: PixelSpacing) -> MetalMap:
    px = min(spacing.row_mm, spacing.col_mm)
    smooth = cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), SMOOTH_SIGMA_PX)
    core = _tophat(smooth, TOPHAT_MM, px) > METAL_EXCESS
    core |= sharp_pieces(_large_tophat(smooth, px) > METAL_EXCESS, smooth)
    grown = cv2.dilate(core.astype(np.uint8), disc(max(1, round(MARGIN_MM / px)))).astype(bool)
    return MetalMap(smooth, core, grown, float(np.percentile(smooth, WHITER_THAN)))


def read_object(mask: np.ndarray, metal: MetalMap, spacing: PixelSpacing) -> ObjectRead:
    """``mask``: the region; ``metal``: its film's ``metal_map``."""
    share = float((metal.grown & mask).sum()) / max(int(mask.sum()), 1)
    core = metal.core & mask
    if not core.any():
        return ObjectRead(share, False, 1.0)
    white = bool(metal.smooth[core].max() >= metal.white_level)
    rest = mask & ~metal.grown
    if rest.sum() < 5:  # the region is all metal
        return ObjectRead(share, white, 0.0)
    # the lung round it, as the density read takes it (``density.ring_mask``), with the metal as the "not lung"
    around = ring_mask(mask, ~metal.grown, spacing, None)
    return ObjectRead(share, white, float(np.median(metal.smooth[rest]) - np.median(metal.smooth[around])))


def split_objects(regions: Sequence[Candidate], image: np.ndarray, spacing: PixelSpacing,
                  metal: MetalMap | None = None) -> tuple[list[Candidate], list[Candidate]]:
    """``regions`` -> (lesion regions, external objects), each in the order given; ``metal``: the film's
    ``metal_map`` where the caller reads several sets of regions on one film."""
    if not regions:
        return [], []
    metal = metal or metal_map(image, spacing)
    lesions: list[Candidate] = []
    objects: list[Candidate] = []
    for c in regions:
        (objects if read_object(c.mask, metal, spacing).external else lesions).append(c)
    return lesions, objects
