"""Network outputs -> AnatomyMaps: probabilities, resolution, keypoints."""

from __future__ import annotations

import numpy as np

from orchestrator.contracts.encoder import ANATOMY_CLASSES
from orchestrator.encoders.postprocess import grid_to_pixel, heatmap_point, pixel_to_grid, to_anatomy_maps


def gaussian_logits(cx: float, cy: float, size: int = 128, sigma: float = 1.5) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (-0.5 * ((xx - cx) ** 2 + (yy - cy) ** 2) / sigma**2).astype(np.float32)


def test_heatmap_point_is_subpixel_and_in_image_pixels() -> None:
    x, y = heatmap_point(gaussian_logits(40.25, 70.5), stride=4.0)
    assert abs(x - grid_to_pixel(40.25, 4)) < 0.5 and abs(y - grid_to_pixel(70.5, 4)) < 0.5  # < 0.4 mm
    assert abs(pixel_to_grid(grid_to_pixel(12.3, 4), 4) - 12.3) < 1e-9


def test_maps_are_probabilities_at_film_resolution() -> None:
    rng = np.random.default_rng(0)
    anatomy = rng.normal(size=(len(ANATOMY_CLASSES), 128, 128)).astype(np.float32) * 5
    lesion = rng.normal(size=(1, 256, 256)).astype(np.float32)
    hilum = np.stack([gaussian_logits(50, 60), gaussian_logits(80, 62)])
    maps = to_anatomy_maps(np.zeros((512, 512), np.float32), anatomy, lesion, hilum)
    assert maps.anatomy.shape == (len(ANATOMY_CLASSES), 512, 512) and maps.anatomy.dtype == np.float32
    assert maps.anatomy.min() >= 0.0 and maps.anatomy.max() <= 1.0
    assert maps.lesion.shape == (512, 512)
    assert maps.hilum_px is not None and maps.hilum_px["right"][0] < maps.hilum_px["left"][0]
    # upsampled logits keep their sign at cell centres: thresholds agree with the coarse map
    coarse = anatomy[0] >= 0
    fine = maps.anatomy[0][1::4, 1::4] >= 0.5
    assert np.mean(coarse == fine) > 0.9


def test_lesion_odds_are_divided_by_the_training_inflation() -> None:
    """A lesion logit of ln(4) (raw sigmoid 0.8) is the calibrated 0.5 contour; order is kept."""
    from orchestrator.encoders.postprocess import LESION_ODDS_SCALE

    logits = np.full((1, 256, 256), np.log(LESION_ODDS_SCALE), np.float32)
    values = [-3.0, 0.0, 3.0, 8.0]
    for j, v in enumerate(values):
        logits[0, :, 128 + 8 * j : 136 + 8 * j] = v  # blocks of 8 cells: their centres keep the value
    maps = to_anatomy_maps(np.zeros((512, 512), np.float32), np.zeros((17, 128, 128), np.float32), logits,
                           np.stack([gaussian_logits(50, 60), gaussian_logits(80, 62)]))
    assert maps.lesion[100, 100] == np.float32(0.5)
    raw = 1 / (1 + np.exp(-np.array(values)))
    expected = raw / (raw + LESION_ODDS_SCALE * (1 - raw))
    assert np.allclose([maps.lesion[100, 2 * (132 + 8 * j)] for j in range(4)], expected, atol=1e-6)
