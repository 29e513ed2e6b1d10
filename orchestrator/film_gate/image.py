"""What the pixels say: is this a frontal chest film, which way is it turned, is it a negative?

Three measurements on the film's content (the working image without the padding that made it
square), each cheap and each tied to something every frontal chest film shares:

- **template correlation**: the film, shrunk to ``TEMPLATE_SIZE`` pixels and blurred, against a
  mean upright chest film (``data/chest_template.json``, written by
  ``loadtests/fit_film_gate.py`` from phantom training films with random framing), in all four
  rotations, each also mirrored. The best rotation names the orientation; a strong *negative*
  correlation is a film shown as a negative (a MONOCHROME1/2 mix-up).
- **left-right symmetry**: the best correlation of the film with its own mirror image about a
  vertical axis, and where that axis lies. A whole thorax is close to mirror-symmetric about the
  spine, near the middle of the film; a crop of one part of it, a page of text or a gradient is not.
- **heart asymmetry**: what differs between the two sides of the spine line (the brightest
  vertical band of the upper thorax; heart, aortic knob and
  stomach bubble on the patient's left, liver and the higher hemidiaphragm on the right), against
  the same difference in the mean upright film (``asymmetry`` in the template file), plus how much
  brighter the band just right of the axis is than the band just left of it in the lower thorax
  (the heart beside the spine). Negative on a mirrored film; near zero when the film cannot tell.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orchestrator.contracts.preprocess import Resampling

TEMPLATE_SIZE = 32
SYMMETRY_SIZE = 64
TEMPLATE_PATH = Path(__file__).with_name("data") / "chest_template.json"
# rotation k (np.rot90 counter-clockwise k times, applied to the upload) that restores an
# upload turned the other way; both quarter turns are "rotated_90" in the turn contract
ROTATION_NAMES = {0: "upright", 1: "rotated_90", 2: "rotated_180", 3: "rotated_90"}


@dataclass(frozen=True)
class ImageEvidence:
    upright: float  # template correlation as shown (best of plain and mirrored)
    rotated: float  # best template correlation over the three other rotations (either mirroring)
    rotation: str  # the rotation with the best correlation: upright, rotated_90, rotated_180
    negative: float  # best correlation of the inverted film (any rotation)
    symmetry: float  # best left-right mirror correlation about a vertical axis
    axis: float  # that axis, as a fraction of the content's width
    heart_asymmetry: float  # > 0: heart side on the image's right (standard display)
    tilt: float = 0.0  # degrees (counter-clockwise) the film was turned back by before its symmetry was read


def content_of(image: np.ndarray, resampling: Resampling | None) -> np.ndarray:
    """The working image without the padding ``prepare_film`` added to make it square."""
    if resampling is None:
        return image
    h, w = resampling.original_size
    s = resampling.scale
    y0, x0 = round(resampling.pad_y / s), round(resampling.pad_x / s)
    y1, x1 = round((resampling.pad_y + h) / s), round((resampling.pad_x + w) / s)
    out = image[max(0, y0) : max(y0 + 2, y1), max(0, x0) : max(x0 + 2, x1)]
    return out if min(out.shape) >= 8 else image


def standardised(a: np.ndarray, size: int = TEMPLATE_SIZE, blur: float = 1.0) -> np.ndarray:
    """Shrunk to size x size, blurred, zero mean and unit variance."""
    small = cv2.resize(np.asarray(a, dtype=np.float32), (size, size), interpolation=cv2.INTER_AREA).astype(np.float64)
    if blur > 0:
        small = cv2.GaussianBlur(small, (0, 0), blur)
    sd = float(small.std())
    return (small - small.mean()) / sd if sd > 1e-9 else np.zeros_like(small)


@functools.cache
def chest_template(key: str = "template") -> np.ndarray:
    """``template``: the mean upright film; ``asymmetry``: the mean of its antisymmetric part."""
    data = json.loads(TEMPLATE_PATH.read_text())
    t = np.asarray(data[key], dtype=np.float64)
    if t.shape != (TEMPLATE_SIZE, TEMPLATE_SIZE):
        raise ValueError("chest template has the wrong size")
    return t


def _correlations(a: np.ndarray, template: np.ndarray) -> dict[int, float]:
    """Template correlation per counter-clockwise quarter turn k, best of plain and mirrored."""
    out: dict[int, float] = {}
    for k in range(4):
        r = np.rot90(a, k)
        out[k] = max(float((template * r).mean()), float((template * np.fliplr(r)).mean()))
    return out


def symmetry_axis(a: np.ndarray) -> tuple[float, float]:
    """(best mirror correlation about a vertical axis, the axis as a fraction of the width)."""
    s = standardised(a, SYMMETRY_SIZE, blur=0.0)
    w = s.shape[1]
    best = (-1.0, 0.5)
    for c in range(int(0.3 * w), int(0.7 * w) + 1):
        k = min(c, w - c)
        left, right = s[:, c - k : c], s[:, c : c + k][:, ::-1]
        lc, rc = left - left.mean(), right - right.mean()
        den = float(np.sqrt((lc * lc).sum() * (rc * rc).sum()))
        if den > 1e-9:
            best = max(best, (float((lc * rc).sum() / den), c / w))
    return best


def spine_axis(a: np.ndarray) -> float:
    """The spine line as a fraction of the width: the brightest column band (smoothed over 8% of
    the width) in the middle 40% of the film, on rows 25-60% down, where both lung fields are
    dark beside the mediastinum. Found from brightness, not symmetry: a high right dome or a large
    opacity shifts the best mirror axis, not the spine."""
    s = standardised(a, SYMMETRY_SIZE, blur=0.0)
    w = s.shape[1]
    profile = np.convolve(s[int(0.25 * w) : int(0.6 * w)].mean(axis=0), np.ones(5) / 5, mode="same")
    lo, hi = int(0.3 * w), int(0.7 * w)
    return (lo + int(np.argmax(profile[lo:hi]))) / w


def centred_on_axis(a: np.ndarray, axis: float) -> np.ndarray:
    """The widest window of ``a`` whose middle column is the symmetry axis."""
    w = a.shape[1]
    c = round(axis * w)
    k = max(2, min(c, w - c))
    return a[:, c - k : c + k]


def antisymmetric(a: np.ndarray, axis: float) -> np.ndarray:
    """What differs between the two sides of the axis (standardised, ``TEMPLATE_SIZE`` square):
    heart, aortic knob and stomach bubble on one side, liver and the higher dome on the other."""
    s = standardised(centred_on_axis(a, axis))
    return s - np.fliplr(s)


def side_template_score(a: np.ndarray, axis: float, template: np.ndarray | None = None) -> float:
    """Cosine similarity of the film's antisymmetric part with an upright chest's."""
    t = chest_template("asymmetry") if template is None else template
    d = antisymmetric(a, axis)
    den = float(np.linalg.norm(d) * np.linalg.norm(t))
    return float((d * t).sum() / den) if den > 1e-9 else 0.0


def heart_band_score(a: np.ndarray, axis: float) -> float:
    """Brightness of the band just right of the axis minus the band just left of it, rows 50-80%
    down: the heart beside the spine (standardised units)."""
    s = standardised(a, SYMMETRY_SIZE, blur=0.0)
    w = s.shape[1]
    c = round(axis * w)
    near, far = round(0.03 * w), round(0.19 * w)
    if c - far < 0 or c + far > w:
        return 0.0
    rows = s[int(0.5 * w) : int(0.8 * w)]
    return float(rows[:, c + near : c + far].mean() - rows[:, c - far : c - near].mean())


def heart_asymmetry(a: np.ndarray, axis: float) -> float:
    """Two cues added: the whole antisymmetric pattern (strong on phantom films, weaker on real
    ones) and the heart band beside the spine (strong on real films, misled by a high right dome
    on some phantom films). > 0 standard display, < 0 mirrored, near 0 when the film cannot tell."""
    return side_template_score(a, axis) + heart_band_score(a, axis)


def image_evidence(image: np.ndarray, resampling: Resampling | None = None,
                   template: np.ndarray | None = None) -> ImageEvidence:
    """Template correlations in every rotation; symmetry and heart side in the best one."""
    t = chest_template() if template is None else template
    content = content_of(image, resampling)
    a = standardised(content)
    corr = _correlations(a, t)
    neg = _correlations(-a, t)
    best = max(corr, key=corr.__getitem__)
    restored = np.rot90(content, best)
    # a film taken or scanned a few degrees askew: its symmetry is read on it turned back by the tilt that makes it
    # most symmetric (a whole thorax is mirror-symmetric about the spine however the film lies; a crop of part of
    # one is not, at any tilt)
    # (searched only when the film as it lies does not already read as a whole thorax with room to spare; the heart's
    # side is read on the film as it lies: the left-right asymmetry it looks for is the film's own)
    (sym, axis), tilt = symmetry_axis(restored), 0.0
    if sym < SURE_SYMMETRY or abs(axis - 0.5) > SURE_AXIS_OFFSET:
        (sym, axis), tilt = max(((symmetry_axis(t), angle) for angle, t in _tilted(restored)), key=lambda r: r[0][0])
    return ImageEvidence(
        upright=corr[0],
        rotated=max(corr[k] for k in (1, 2, 3)),
        rotation=ROTATION_NAMES[best],
        negative=max(neg.values()),
        symmetry=sym,
        axis=axis,
        heart_asymmetry=heart_asymmetry(restored, spine_axis(restored)),
        tilt=tilt,
    )


TILTS_DEG = (0.0, -4.0, 4.0, -8.0, 8.0)  # a film askew by up to ~10 degrees (issue 21's rotation range)
# a film whose symmetry as it lies is at least this, about an axis this close to the middle, is not searched: well
# inside the gate's own limits (film_gate.SYMMETRY_MIN 0.5, AXIS_RANGE 0.4-0.6)
SURE_SYMMETRY = 0.6
SURE_AXIS_OFFSET = 0.06


def _tilted(a: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """``a`` turned about its centre by each of ``TILTS_DEG`` (edges continued), at the symmetry search's size."""
    small = cv2.resize(np.asarray(a, dtype=np.float32), (SYMMETRY_SIZE * 2, SYMMETRY_SIZE * 2),
                       interpolation=cv2.INTER_AREA)
    c = (SYMMETRY_SIZE - 0.5, SYMMETRY_SIZE - 0.5)
    out = []
    for angle in TILTS_DEG:
        if angle == 0.0:
            out.append((angle, a))  # as it is: an upright film is read exactly as before
            continue
        m = cv2.getRotationMatrix2D(c, angle, 1.0)
        out.append((angle, cv2.warpAffine(small, m, small.shape[::-1], flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE)))
    return out
