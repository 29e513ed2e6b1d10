"""The field of view drawn at training time (encoder/field_of_view.py): the chest shrinks, or is enlarged and
cropped, with every target on its grid; the body continues around a shrunken chest; a crop keeps both hila;
and with the options off nothing changes."""

from __future__ import annotations

import numpy as np
import pytest

from encoder.dataset import TrainingSet
from encoder.field_of_view import HILUM_MARGIN_PX, SCALE_RANGE, ZOOM_IN_RANGE, zoom_in, zoom_out
from encoder.train import augment_sample, make_batch
from orchestrator.contracts.encoder import ANATOMY_STRIDE, INPUT_SIZE, LESION_STRIDE


def _sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A film with a bright disc at a random place, its lesion and one anatomy channel marking the same
    disc, and the two hilum points on two other marks."""
    size = INPUT_SIZE
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = (float(v) for v in rng.uniform(150, 360, size=2))
    disc = ((xx - cx) ** 2 + (yy - cy) ** 2 <= 30**2).astype(np.float32)
    image = 0.2 + 0.6 * disc
    cells = size // ANATOMY_STRIDE
    anatomy = np.zeros((3, cells, cells), np.float32)
    anatomy[0] = disc[ANATOMY_STRIDE // 2::ANATOMY_STRIDE, ANATOMY_STRIDE // 2::ANATOMY_STRIDE]
    lesion = disc[LESION_STRIDE // 2::LESION_STRIDE, LESION_STRIDE // 2::LESION_STRIDE].copy()
    hilum = np.array([[cx, cy], [cx + 10.0, cy - 5.0]], np.float32)
    return image, anatomy, lesion, hilum


def _centre(mask: np.ndarray, stride: int) -> np.ndarray:
    ys, xs = np.nonzero(mask >= 0.5)
    return (np.array([xs.mean(), ys.mean()]) + 0.5) * stride


def _moved_with_the_film(before: tuple[np.ndarray, ...], after: tuple[np.ndarray, ...], disc_above: float) -> None:
    """Shapes, dtypes and range kept; the disc, wherever it went in the film, is where both targets and the first
    hilum point say."""
    (image, anatomy, lesion), (out, a_out, l_out, h_out) = before, after
    assert out.shape == image.shape and a_out.shape == anatomy.shape and l_out.shape == lesion.shape
    assert out.dtype == a_out.dtype == l_out.dtype == h_out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    film_disc = _centre(out > disc_above, 1)
    assert np.hypot(*(film_disc - _centre(l_out, LESION_STRIDE))) <= 2.5
    assert np.hypot(*(film_disc - _centre(a_out[0], ANATOMY_STRIDE))) <= 4.0
    assert np.hypot(*(film_disc - h_out[0])) <= 2.5


@pytest.mark.parametrize("seed", range(6))
def test_targets_shrink_with_the_film(seed: int) -> None:
    rng = np.random.default_rng(seed)
    image, anatomy, lesion, hilum = _sample(rng)
    out, a_out, l_out, h_out = zoom_out(image, anatomy, lesion, hilum, np.random.default_rng(100 + seed))
    _moved_with_the_film((image, anatomy, lesion), (out, a_out, l_out, h_out), disc_above=0.6)
    # smaller by a factor in the declared range, the pair of hilum points too
    scale = float(np.sqrt((l_out >= 0.5).sum() / (lesion >= 0.5).sum()))
    assert SCALE_RANGE[0] - 0.05 <= scale <= SCALE_RANGE[1] + 0.05
    assert np.linalg.norm(h_out[1] - h_out[0]) == pytest.approx(np.linalg.norm(hilum[1] - hilum[0]) * scale, rel=0.1)
    # no target outside the shrunken chest; unlabelled channels stay empty
    assert a_out[1:].max() == 0.0
    assert l_out.sum() == pytest.approx(lesion.sum() * scale**2, rel=0.1)


@pytest.mark.parametrize("seed", range(6))
def test_targets_grow_with_the_film_and_the_hila_stay_in_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    image, anatomy, lesion, hilum = _sample(rng)
    out, a_out, l_out, h_out = zoom_in(image, anatomy, lesion, hilum, np.random.default_rng(200 + seed))
    _moved_with_the_film((image, anatomy, lesion), (out, a_out, l_out, h_out), disc_above=0.5)
    scale = float(np.linalg.norm(h_out[1] - h_out[0]) / np.linalg.norm(hilum[1] - hilum[0]))
    assert ZOOM_IN_RANGE[0] - 1e-4 <= scale <= ZOOM_IN_RANGE[1] + 1e-4
    assert float(np.sqrt((l_out >= 0.5).sum() / (lesion >= 0.5).sum())) == pytest.approx(scale, rel=0.05)
    assert float(np.sqrt((out > 0.5).sum() / (image > 0.5).sum())) == pytest.approx(scale, rel=0.03)
    assert h_out.min() >= HILUM_MARGIN_PX - 1e-3 and h_out.max() <= INPUT_SIZE - HILUM_MARGIN_PX + 1e-3
    assert a_out[1:].max() == 0.0


def test_no_crop_that_loses_a_hilum_is_made() -> None:
    image, anatomy, lesion, _ = _sample(np.random.default_rng(0))
    apart = np.array([[4.0, 200.0], [INPUT_SIZE - 4.0, 300.0]], np.float32)  # no enlarged crop holds both
    out, a_out, l_out, h_out = zoom_in(image, anatomy, lesion, apart, np.random.default_rng(1))
    assert out is image and a_out is anatomy and l_out is lesion and h_out is apart


def test_the_body_continues_around_the_chest_without_edge_lines() -> None:
    image = np.full((INPUT_SIZE, INPUT_SIZE), 0.5, np.float32)
    image[:, 250:262] = 0.9  # a bright vertical line reaching the top and bottom edges
    image[100:104, :] = 0.9  # and a horizontal one reaching both sides
    anatomy = np.zeros((2, INPUT_SIZE // ANATOMY_STRIDE, INPUT_SIZE // ANATOMY_STRIDE), np.float32)
    lesion = np.zeros((INPUT_SIZE // LESION_STRIDE,) * 2, np.float32)
    corners = np.array([[0.0, 0.0], [INPUT_SIZE, INPUT_SIZE]], np.float32)  # where the chest lands
    for seed in range(4):
        out, _, _, (top_left, bottom_right) = zoom_out(image, anatomy, lesion, corners, np.random.default_rng(seed))
        x0, y0 = (int(v) for v in top_left)
        x1, y1 = (int(v) for v in bottom_right)
        assert x1 - x0 == y1 - y0 < INPUT_SIZE
        # outside the chest, eight pixels on: neither black nor a copy of the lines
        for band in (out[y1 + 8:, x0:x1], out[:max(y0 - 8, 0), x0:x1]):
            if band.size:
                assert band.mean() > 0.25
                assert np.abs(np.diff(band, axis=1)).max() < 0.05
        for band in (out[y0:y1, x1 + 8:], out[y0:y1, :max(x0 - 8, 0)]):
            if band.size:
                assert np.abs(np.diff(band, axis=0)).max() < 0.05


def _set(n: int = 4) -> TrainingSet:
    rng = np.random.default_rng(0)
    samples = [_sample(rng) for _ in range(n)]
    return TrainingSet(
        images=np.stack([s[0] for s in samples]).astype(np.float16),
        anatomy=np.stack([np.rint(s[1] * 255) for s in samples]).astype(np.uint8),
        lesion=np.stack([np.rint(s[2] * 255) for s in samples]).astype(np.uint8),
        hilum=np.stack([s[3] for s in samples]), seeds=np.arange(n),
    )


def test_off_by_default_and_the_draws_are_unchanged() -> None:
    data = _set()
    plain = augment_sample(data, 1, np.random.default_rng(3), 8)
    off = augment_sample(data, 1, np.random.default_rng(3), 8, zoom_out_p=0.0, zoom_in_p=0.0)
    assert all(np.array_equal(a, b) for a, b in zip(plain, off, strict=True))
    always = make_batch(data, np.arange(4), np.random.default_rng(3), 0, zoom_out_p=1.0)
    never = make_batch(data, np.arange(4), np.random.default_rng(3), 0)
    # zoomed out, every film's disc (its lesion target) is smaller than in the same film untouched
    assert all(always["lesion"][i].sum() < never["lesion"][i].sum() for i in range(4))
    enlarged = make_batch(data, np.arange(4), np.random.default_rng(3), 0, zoom_in_p=1.0)
    assert all(enlarged["lesion"][i].sum() > never["lesion"][i].sum() for i in range(4))
    # zoomed out first: a sample drawn to zoom out is never enlarged as well
    both = make_batch(data, np.arange(4), np.random.default_rng(3), 0, zoom_out_p=1.0, zoom_in_p=1.0)
    assert np.array_equal(both["lesion"], always["lesion"])
