"""orchestrator/findings/density.py: the texture ratio read on the lesion's own box is the whole film's."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from orchestrator.facts import PixelSpacing
from orchestrator.findings.density import TEXTURE_SIGMA_MM, texture_ratio


def _whole_film(image: np.ndarray, inner: np.ndarray, ring: np.ndarray, spacing: PixelSpacing) -> float:
    s = TEXTURE_SIGMA_MM / min(spacing.row_mm, spacing.col_mm)
    dog = cv2.GaussianBlur(image, (0, 0), s) - cv2.GaussianBlur(image, (0, 0), 4 * s)
    return float(np.std(dog[inner]) / max(float(np.std(dog[ring])), 1e-4))


@pytest.mark.parametrize(("cx", "cy", "r"), [(250, 250, 20), (10, 15, 12), (500, 300, 9), (100, 505, 30)])
def test_texture_ratio_on_the_box_equals_the_whole_film(cx: int, cy: int, r: int) -> None:
    image = np.random.default_rng(0).random((512, 512)).astype(np.float32)
    spacing = PixelSpacing(0.64, 0.64, "dicom")
    yy, xx = np.mgrid[:512, :512]
    d = np.hypot(xx - cx, yy - cy)
    mask, rho, ring = d < r, d / r, (d >= r) & (d < r + 15)
    assert texture_ratio(image, mask, rho, ring, spacing) == _whole_film(image, mask & (rho < 0.7), ring, spacing)
