"""The film inside an upload: an upload whose film sits in a surround of one value (an export's letterbox, a
shutter masked to one value, a viewer screenshot with a series list beside the film) is cut to its film before the
film gate and the encoder see it (``orchestrator/imaging.py``), so both see the film at the scale they know. Where
the film was cut from travels with the resampling (``Resampling.crop_x`` / ``crop_y`` / ``upload_size``), so the
session's frame and every result stay against the upload's own pixels. Serving only: training films fill their frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from orchestrator.contracts.preprocess import HIGH_PERCENTILE, LOW_PERCENTILE

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
    is left as it is). The film is the connected textured area (gaps of a few pixels closed) holding the most
    textured pixels: a viewer's text lines close into blocks of their own, with few textured pixels. None when that area is most of the upload, or too small to be a film (the film
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
