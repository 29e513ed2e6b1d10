"""Blank film: where an image holds no structure and little noise, as the unexposed surround of a collimated film does.

A lung field always carries ribs, vessels and noise; maps that draw one on blank film have found "lungs" in the dark
beside something bright (``plausibility.LUNG_BLANK_MAX``), and a lung field whose outer border meets blank film may run
on off the film (``film_edge``). ``Geometry.blank`` holds the map once per film for both.
"""

from __future__ import annotations

import cv2
import numpy as np

# a pixel is blank where the film, smoothed over BLANK_SMOOTH_PX, varies by less than BLANK_SD (normalised film) over
# a BLANK_WINDOW_PX square
BLANK_SD = 0.004
BLANK_SMOOTH_PX = 1.5
BLANK_WINDOW_PX = 15


def blank_pixels(image: np.ndarray) -> np.ndarray:
    """Where the film is blank (bool, the image's shape)."""
    m = BLANK_WINDOW_PX
    f = cv2.GaussianBlur(np.asarray(image, dtype=np.float32), (0, 0), BLANK_SMOOTH_PX)
    mean = cv2.blur(f, (m, m))
    var = cv2.blur(f * f, (m, m)) - mean * mean
    return var < np.float32(BLANK_SD * BLANK_SD)


def blank_share(blank: np.ndarray, mask: np.ndarray) -> float:
    """The share of ``mask`` that is blank (``blank``: :func:`blank_pixels`); 0 for an empty mask."""
    return float(blank[mask].mean()) if mask.any() else 0.0
