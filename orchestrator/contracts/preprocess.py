"""The one film normalisation shared by serving (uploads), the phantom, training and every
encoder path: how a film of any size and bit depth becomes the anatomy encoder's input.

A film becomes a square ``size``×``size`` float32 image in [0, 1] (``prepare_film``): non-square
films are padded (centred, with their darkest value) to a square before resizing, so pixel
spacing scales by one factor on both axes; ``Resampling`` records how the working image maps
back to the original (``original = working * scale - pad``). numpy and cv2 only; serving owns
this contract and training imports it (``orchestrator/contracts/encoder.py`` holds the tensor
names and sizes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from orchestrator.contracts.encoder import INPUT_SIZE

WORKING_SIZE = INPUT_SIZE
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


@dataclass(frozen=True)
class Resampling:
    """How the working image maps to the original film: original = working * scale - offset.

    Here the original is the film that was resampled. An upload with a uniform surround (a letterbox, a shutter
    masked to one value, a viewer's screen) is cut to its film first (``film_box``): ``crop_x`` / ``crop_y`` say
    where that film starts in the upload and ``upload_size`` is the upload's (H, W); the session's ``frame`` is
    taken against the upload (``Frame.from_resampling``: pad less crop), so that original = working × scale − pad
    holds for the upload's own pixels."""

    scale: float  # original pixels per working pixel
    pad_x: int  # padding added on the left (original pixels)
    pad_y: int  # padding added on the top (original pixels)
    original_size: tuple[int, int]  # (H, W)
    crop_x: int = 0  # the film's left edge in the upload (upload pixels; 0 when nothing was cut)
    crop_y: int = 0  # the film's top edge in the upload
    upload_size: tuple[int, int] | None = None  # (H, W) of the upload when the film was cut from it


def normalise_intensity(pixels: np.ndarray) -> np.ndarray:
    """Percentile window to [0, 1] float32; robust to bit depth and exposure."""
    arr = np.asarray(pixels, dtype=np.float32)
    lo, hi = np.percentile(arr, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if hi - lo < 1e-6:
        return np.zeros_like(arr, dtype=np.float32)
    return np.clip((arr - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def to_working_size(pixels: np.ndarray, size: int = WORKING_SIZE) -> tuple[np.ndarray, Resampling]:
    """Pad to square and resize to ``size``; returns the image and the resampling used."""
    arr = np.asarray(pixels, dtype=np.float32)
    h, w = arr.shape
    side = max(h, w)
    pad_y, pad_x = (side - h) // 2, (side - w) // 2
    if h != w:
        square = np.full((side, side), float(arr.min()), dtype=np.float32)
        square[pad_y : pad_y + h, pad_x : pad_x + w] = arr
        arr = square
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        arr = cv2.resize(arr, (size, size), interpolation=interp)
    return arr.astype(np.float32), Resampling(side / size, pad_x, pad_y, (h, w))


def prepare_film(pixels: np.ndarray, size: int = WORKING_SIZE) -> tuple[np.ndarray, Resampling]:
    """Raw film → encoder input (size×size, [0, 1]) and its resampling."""
    resized, resampling = to_working_size(pixels, size)
    return normalise_intensity(resized), resampling


# --- the film inside an upload ------------------------------------------------------------------

# local standard deviation (of the 0.5-99.5 percentile range) below which an area is uniform: digitally uniform
# only (padding, a masked shutter, a screen's background hold one value; a film's smoothest soft tissue still
# carries its noise and grain, which the search keeps by subsampling without averaging)
FLAT_STD = 0.0005
BOX_SIDE = 512  # the longest side the search runs at
MIN_FILM_SHARE = 0.2  # a film found spans at least this share of each side of the upload
CROP_WORTH = 0.9  # cut only when the film's box leaves at least a tenth of the upload's area


def film_box(pixels: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` of the film inside an upload that has a uniform surround, else None.

    A radiograph is textured everywhere (quantum noise, anatomy); padding, a letterbox, a shutter masked to one
    value and a viewer's background are not: they hold one value (a scanned print's paper margin carries grain and
    is left as it is). The film is the connected textured area (gaps of a few
    pixels closed) holding the most textured pixels: a viewer's text lines close into blocks of their own,
    with few textured pixels. None when that area is most of the upload, or too small to be a film (the film
    gate judges the upload as it is)."""
    arr = np.asarray(pixels, dtype=np.float32)
    h, w = arr.shape
    step = max(1, math.ceil(max(h, w) / BOX_SIDE))
    small = arr[::step, ::step]  # every step-th pixel, not an average: averaging would smooth a film's noise away
    span = float(small.max() - small.min())
    edges = (small[:2], small[-2:], small[:, :2], small[:, -2:])
    if span <= 0 or all(float(e.std()) > FLAT_STD * span for e in edges):
        return None  # no edge of one value: nothing surrounds the film (every film that fills its upload, quickly)
    lo, hi = np.percentile(small, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if hi - lo < 1e-6:
        return None
    norm = (small - lo) / (hi - lo)
    mean = cv2.blur(norm, (5, 5))
    var = np.maximum(cv2.blur(norm * norm, (5, 5)) - mean * mean, 0.0)
    textured = (np.sqrt(var) > FLAT_STD).astype(np.uint8)
    closed = cv2.morphologyEx(textured, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    n, labels = cv2.connectedComponents(closed, connectivity=8)
    if n <= 1:
        return None
    counts = np.bincount(labels.ravel(), weights=textured.ravel().astype(np.float64), minlength=n)
    counts[0] = 0.0
    ys, xs = np.nonzero(labels == int(np.argmax(counts)))
    sh, sw = small.shape
    bx0, bx1, by0, by1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    if (bx1 - bx0) * (by1 - by0) >= CROP_WORTH * sw * sh:
        return None
    if (bx1 - bx0) < MIN_FILM_SHARE * sw or (by1 - by0) < MIN_FILM_SHARE * sh:
        return None
    # back to the upload's pixels, a search pixel wider on every side (the blur and the close reach 2-4 px), then
    # the rows and columns of the surround still inside it trimmed at full resolution
    x0, y0 = max(0, (bx0 - 1) * step), max(0, (by0 - 1) * step)
    x1, y1 = min(w, (bx1 + 1) * step), min(h, (by1 + 1) * step)
    return _trimmed(arr, (x0, y0, x1, y1), FLAT_STD * float(hi - lo))


def _trimmed(arr: np.ndarray, box: tuple[int, int, int, int], tol: float) -> tuple[int, int, int, int]:
    """``box`` less its outer rows and columns that hold one value (within ``tol``)."""
    x0, y0, x1, y1 = box
    sub = arr[y0:y1, x0:x1]
    rows = np.nonzero(sub.std(axis=1) > tol)[0]
    cols = np.nonzero(sub.std(axis=0) > tol)[0]
    if rows.size == 0 or cols.size == 0:
        return box
    return x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1
