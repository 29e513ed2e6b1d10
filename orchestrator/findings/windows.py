"""Windows on a film: a mask's bounding box and the padded slices round it.

Most reads of one lesion or one anatomical region are local: done in the region's window
instead of on the whole 512² film, they give the same numbers from a few per cent of the
pixels. Each caller says how far its read reaches beyond the mask (its ``pad``); the tests
in ``tests/orchestrator/findings/test_windows.py`` hold the windowed reads to the film's.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), inclusive
Window = tuple[slice, slice]  # (rows, columns)


def bounding_box(mask: np.ndarray) -> Box | None:
    """(x0, y0, x1, y1), inclusive, of the mask's True pixels; None when it has none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def padded(box: Box, pad: int, shape: tuple[int, ...]) -> Window:
    """The box grown by ``pad`` pixels on every side, clipped to a film of ``shape``."""
    x0, y0, x1, y1 = box
    return slice(max(y0 - pad, 0), min(y1 + pad + 1, shape[0])), slice(max(x0 - pad, 0), min(x1 + pad + 1, shape[1]))


def window(mask: np.ndarray, pad: int) -> Window:
    """The mask's bounding box grown by ``pad`` pixels (the whole film when the mask is empty)."""
    box = bounding_box(mask)
    if box is None:
        return slice(0, mask.shape[0]), slice(0, mask.shape[1])
    return padded(box, pad, mask.shape)


def origin(win: Window) -> tuple[int, int]:
    """The film's (x, y) of the window's first pixel."""
    return int(win[1].start or 0), int(win[0].start or 0)


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """(x, y): the mean column and row of the mask's True pixels (NaN when it has none). From the
    moments of its bounding box (integer sums, exact in float64, moved back to the film's origin):
    the same numbers as the means of ``np.nonzero(mask)``."""
    box = bounding_box(mask)
    if box is None:
        return math.nan, math.nan
    win = padded(box, 0, mask.shape)
    return centroid_in(mask[win], origin(win))


def centroid_in(part: np.ndarray, offset: tuple[int, int]) -> tuple[float, float]:
    """The film's (x, y) centroid of a window's True pixels (at least one), the window's first
    pixel at ``offset`` on the film."""
    mo = cv2.moments(np.ascontiguousarray(part, dtype=np.uint8), binaryImage=True)
    m00 = mo["m00"]
    return (mo["m10"] + offset[0] * m00) / m00, (mo["m01"] + offset[1] * m00) / m00
