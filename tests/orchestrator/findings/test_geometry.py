"""orchestrator/findings/geometry.py's mask operations."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from orchestrator.findings.geometry import dilate, erode


def test_opencv_erode_and_dilate_are_scipys_binary_morphology() -> None:
    """The fast masks ops (geometry.erode / dilate) give scipy.ndimage's answers, borders included."""
    rng = np.random.default_rng(1)
    for _ in range(30):
        m = rng.random((64, 80)) < rng.uniform(0.2, 0.9)
        m[0, :] = True  # a full edge row: the outside of the image counts as False for both
        assert (erode(m) == ndimage.binary_erosion(m)).all()
        for k in (1, 2, 8):
            assert (dilate(m, k) == ndimage.binary_dilation(m, iterations=k)).all()
