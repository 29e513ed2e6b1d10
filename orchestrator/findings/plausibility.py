"""Plausible anatomy, or no localisation: do the encoder's maps form a chest that can be trusted?

Checked on the maps after encoding (``orchestrator.findings.analyse`` calls ``plausibility``):

- **certainty**: the mean binary entropy of the lung, heart, mediastinum and spine channels. On
  films like those it was trained on the encoder is sure of its anatomy (phantom films: 0.03-0.05
  bits); on films unlike them (a mirrored phantom film: 0.07+, real children's films: 0.08-0.12)
  it is not, and every lobe, zone, hilum and lesion it reports is then a guess. The limit belongs
  to the weights: ``data/entropy_limit.json``, refitted with them by ``loadtests/fit_entropy_limit.py``
  (one rule: 0.88 of the lowest entropy of a mirrored validation film). Other weights served in place of
  the shipped ones (``HILUM_ONNX_PATH``) bring their own (``orchestrator.findings.fitted``: the
  ``entropy_limit.json`` beside their ONNX file when it names them), so a candidate is never judged
  by a limit fitted for other weights;
- **lungs**: both fields present, each 4-40% of the film, the right one left of the spine line and
  the left one right of it, darker than the mediastinum, and neither wider for its height than every
  one of 434 real lung fields (``LUNG_WIDTH_HEIGHT_MAX``; the shipped weights' fields break it on four of
  eight real children's films). It does not catch every wrong map: weights trained on more variety draw
  lung-shaped fields through a child's abdomen, sure of them (``encoder/weights/TRAINING.md``, stage L);
- **lungs on the exposed film**: at most ``LUNG_BLANK_MAX`` of each field blank (``blank_film.blank_share``: no structure
  and little noise, as the unexposed surround of a collimated film or a bright strip's black border is). Maps drawn
  on an image that is no frontal chest can find "lungs" in the dark either side of something bright: a lateral
  film cut to a strip by its collimation passed every other check, read as a normal chest (``loadtests/film_corpus.py``,
  "lateral"); a lung field, of a child or an adult, always carries ribs, vessels and noise;
- **hila**: each inside its lung's height and no further than halfway out from its medial edge;
- **cardiothoracic ratio**: 0.3-0.8 (outside it the value is never printed).

Any failure makes ``anatomy_plausible`` false with the reasons as warnings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.findings.blank_film import blank_share
from orchestrator.findings.geometry import Geometry, widths_mm
from orchestrator.findings.windows import centroid

ENTROPY_CHANNELS: tuple[str, ...] = ("lung_right", "lung_left", "heart", "mediastinum", "spine")
ENTROPY_LIMIT_PATH = Path(__file__).with_name("data") / "entropy_limit.json"
# bits per pixel, mean over ENTROPY_CHANNELS; fitted for the shipped weights (the file names them)
ENTROPY_MAX = float(json.loads(ENTROPY_LIMIT_PATH.read_text(encoding="utf-8"))["entropy_max"])
LUNG_AREA = (0.04, 0.40)  # share of the film each lung field covers
HILUM_MEDIAL_RANGE = (-0.45, 0.5)  # medial fraction of the lung's width on the hilum's row
CTR_RANGE = (0.3, 0.8)
LUNG_CONTRAST_MIN = 0.03  # mediastinum minus lung mean intensity, normalised film
# a lung field more than LUNG_BLANK_MAX blank film (``orchestrator.findings.blank_film``) is no lung field. Set on
# phantom films of every rendering family (training seeds 1000-1099, ``loadtests/lung_blank_share.py``: the most blank
# field 0.38; test seeds 200-399, after: 0.40, a washed-out film with noise-free lungs) and a lateral film's strip
# (0.75-0.84); the real checking films, read after, checking only: 0.03 at most as the alone reader reads them
LUNG_BLANK_MAX = 0.5
# width / height of each lung field's bounding box: the largest of 434 real films' fields (the v7labs lung masks
# in the torchxrayvision wheel, ``loadtests/lung_shapes.py``: right 0.949, left 0.887), rounded up. Real masks
# outline the visible field, down to the dome; the encoder's field goes on behind it, so it is taller and its
# ratio lower for the same lungs: a field wider than every real one is no lung field.
LUNG_WIDTH_HEIGHT_MAX = {"right": 0.95, "left": 0.89}


@dataclass(frozen=True)
class Plausibility:
    entropy: float
    warnings: tuple[str, ...]
    ctr_ok: bool

    @property
    def plausible(self) -> bool:
        return not self.warnings


def map_entropy(maps: AnatomyMaps) -> float:
    """Mean binary entropy (bits per pixel) of the ENTROPY_CHANNELS maps. In float32 (the maps' own
    precision; half the time of float64, the mean differs by ~1e-8 bits), summed in float64."""
    return float(np.mean([np.mean(binary_entropy(maps.channel(name)), dtype=np.float64) for name in ENTROPY_CHANNELS]))


def binary_entropy(prob: np.ndarray) -> np.ndarray:
    """Per-pixel binary entropy (bits) of probabilities, in float32, clipped to [1e-4, 1 - 1e-4]."""
    p = np.clip(prob.astype(np.float32, copy=False), np.float32(1e-4), np.float32(1 - 1e-4))
    q = 1 - p
    return -(p * np.log2(p) + q * np.log2(q))


def lungs_ok(geom: Geometry) -> bool:
    right, left = geom.lung("right"), geom.lung("left")
    if not (right.present and left.present):
        return False
    size = float(geom.maps.shape[0] * geom.maps.shape[1])
    for side, lung in (("right", right), ("left", left)):
        if not LUNG_AREA[0] <= lung.mask.sum() / size <= LUNG_AREA[1]:
            return False
        if width_height(lung.mask) > LUNG_WIDTH_HEIGHT_MAX[side]:
            return False
    rx, lx = centroid(right.mask)[0], centroid(left.mask)[0]
    if not rx < geom.midline_x < lx:
        return False
    lungs = right.mask | left.mask
    centre = geom.mask("mediastinum") | geom.mask("spine")
    centre &= ~lungs
    if not centre.any():
        return False
    image = geom.maps.image
    return float(image[centre].mean() - image[lungs].mean()) >= LUNG_CONTRAST_MIN


def lungs_on_film(geom: Geometry) -> bool:
    """Neither lung field more than ``LUNG_BLANK_MAX`` blank."""
    return all(blank_share(geom.blank, geom.lung(side).mask) <= LUNG_BLANK_MAX for side in ("right", "left"))


def width_height(mask: np.ndarray) -> float:
    """Width over height of the mask's bounding box (pixels counted inclusively)."""
    ys, xs = np.nonzero(mask)
    return float(xs.max() - xs.min() + 1) / float(ys.max() - ys.min() + 1)


def hila_ok(geom: Geometry) -> bool:
    for side in ("right", "left"):
        p = geom.hilum_px.get(side)
        lung = geom.lung(side)
        if p is None or not lung.present:
            return False
        if not lung.top <= p[1] <= lung.bottom:
            return False
        if not HILUM_MEDIAL_RANGE[0] <= lung.medial_fraction(*p) <= HILUM_MEDIAL_RANGE[1]:
            return False
    return True


def ctr_ok(geom: Geometry) -> bool:
    heart_w, thorax_w = widths_mm(geom)
    return bool(heart_w and thorax_w and CTR_RANGE[0] <= heart_w / thorax_w <= CTR_RANGE[1])


def plausibility(geom: Geometry, entropy_max: float = ENTROPY_MAX) -> Plausibility:
    """``entropy_max``: the certainty limit of the weights that drew the maps (``fitted.served_entropy_limit``)."""
    entropy = map_entropy(geom.maps)
    warnings: list[str] = []
    if entropy > entropy_max:
        warnings.append("anatomy_not_established")
    if not lungs_ok(geom):
        warnings.append("lungs_implausible")
    elif not lungs_on_film(geom):
        warnings.append("lungs_on_blank")
    elif not hila_ok(geom):
        warnings.append("hilum_implausible")
    ctr = ctr_ok(geom)
    if not ctr:
        warnings.append("ctr_implausible")
    return Plausibility(entropy, tuple(warnings), ctr)
