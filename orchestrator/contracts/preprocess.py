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
    masked to one value, a viewer's screen) is cut to its film first (``orchestrator.film_box``): ``crop_x`` / ``crop_y`` say
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
