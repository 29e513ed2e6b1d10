"""The spicule filter of ``loadtests/spicule_visibility.py``: it finds bright spokes where they are."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from loadtests.spicule_visibility import RAYS, auc, spicule_signal


def _lesion_with_spokes(hours: list[int], contrast: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    size, cx, cy, r = 256, 130.0, 124.0, 36.0  # a 18 mm body at 0.25 mm, a little off the crop's centre
    image = rng.normal(0.3, 0.007, (size, size)).astype(np.float32)
    body = np.zeros((size, size), np.uint8)
    cv2.circle(body, (int(cx), int(cy)), int(r), 1, -1)
    spokes = np.zeros((size, size), np.float32)
    for h in hours:
        a = np.deg2rad(h * 30.0)
        end = (int(cx + (r + 24) * np.sin(a)), int(cy - (r + 24) * np.cos(a)))
        cv2.line(spokes, (int(cx), int(cy)), end, 1.0, 4)
    image += 0.1 * body + contrast * spokes * (1 - body)
    return image, body.astype(bool)


def test_the_signal_peaks_on_the_spokes_and_nowhere_else() -> None:
    hours = [2, 6, 9]
    image, body = _lesion_with_spokes(hours, 0.02, np.random.default_rng(0))
    signal = spicule_signal(image, body)
    assert signal.shape == (RAYS,)
    base = float(np.median(signal))  # the background is a low percentile: noise alone reads a little above 0
    on = [signal[int(h * 30 * RAYS / 360) % RAYS] - base for h in hours]
    off = [signal[int(h * 30 * RAYS / 360) % RAYS] - base for h in (4, 11, 12)]
    assert min(on) > 5 * max(abs(v) for v in off)
    # the outline passed at the mask's own resolution (half the crop's) is resampled to the crop
    half = cv2.resize(body.astype(np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST).astype(bool)
    assert np.argmax(spicule_signal(image, half)) in {int(h * 30 * RAYS / 360) + d for h in hours for d in range(-2, 3)}


def test_without_spokes_the_hours_are_chance() -> None:
    image, body = _lesion_with_spokes([], 0.0, np.random.default_rng(1))
    signal = spicule_signal(image, body)
    assert np.ptp(signal) < 0.003  # noise only: 0.007 per pixel, averaged over ~100 pixels per ray


@pytest.mark.parametrize(("pos", "neg", "want"), [([2.0, 3.0], [0.0, 1.0], 1.0), ([0.0], [1.0, 2.0], 0.0),
                                                  ([1.0, 2.0], [1.5, 0.5], 0.75)])
def test_auc_is_the_mann_whitney_statistic(pos: list[float], neg: list[float], want: float) -> None:
    assert auc(pos, neg) == pytest.approx(want)
