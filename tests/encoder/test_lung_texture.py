"""Normal lung texture drawn at training time (encoder/lung_texture.py): ribs where the ribs are, vessels
inside their own lung from its hilum, markings inside the fields, the targets untouched, and with the
option off nothing changes."""

from __future__ import annotations

import numpy as np

from encoder.dataset import TrainingSet
from encoder.lung_texture import _ribs, _vessels, add_texture
from encoder.train import augment_sample, make_batch
from orchestrator.contracts.encoder import ANATOMY_CLASSES, ANATOMY_STRIDE, INPUT_SIZE, LESION_STRIDE

CELLS = INPUT_SIZE // ANATOMY_STRIDE
RIGHT, LEFT, RIBS = (ANATOMY_CLASSES.index(n) for n in ("lung_right", "lung_left", "ribs"))


def _chest() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A flat film, two rectangular lung fields either side of a gap, horizontal rib bands across the
    upper half only, and the hila on the fields' medial edges."""
    image = np.full((INPUT_SIZE, INPUT_SIZE), 0.3, np.float32)
    anatomy = np.zeros((len(ANATOMY_CLASSES), CELLS, CELLS), np.float32)
    anatomy[RIGHT, 20:100, 14:58] = 1.0
    anatomy[LEFT, 20:100, 70:114] = 1.0
    for top in range(20, 60, 10):
        anatomy[RIBS, top:top + 4, 10:118] = 1.0
    hilum = np.array([[58 * ANATOMY_STRIDE - 4, 60 * ANATOMY_STRIDE], [70 * ANATOMY_STRIDE + 4, 60 * ANATOMY_STRIDE]],
                     np.float32)
    return image, anatomy, hilum


def _upsampled(channel: np.ndarray) -> np.ndarray:
    return np.kron(channel, np.ones((ANATOMY_STRIDE, ANATOMY_STRIDE), np.float32))


def test_texture_stays_on_the_lungs_and_the_ribs() -> None:
    image, anatomy, hilum = _chest()
    where = _upsampled(np.maximum(np.maximum(anatomy[RIGHT], anatomy[LEFT]), anatomy[RIBS]))
    near = np.zeros_like(where, dtype=bool)
    ys, xs = np.nonzero(where)
    near[max(ys.min() - 8, 0):ys.max() + 9, max(xs.min() - 8, 0):xs.max() + 9] = True
    changed = 0
    for seed in range(8):
        out = add_texture(image, anatomy, hilum, np.random.default_rng(seed))
        assert out.dtype == np.float32 and out.shape == image.shape
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert np.array_equal(out[~near], image[~near])  # far from the fields and the ribs: untouched
        changed += int(not np.array_equal(out, image))
    assert changed >= 6  # each of the three parts is on in most draws


def test_ribs_are_brighter_bands_where_the_rib_channel_is() -> None:
    _, anatomy, _ = _chest()
    ribs = _ribs(anatomy[RIBS], (INPUT_SIZE, INPUT_SIZE), np.random.default_rng(0))
    band = _upsampled(anatomy[RIBS]) > 0.5
    gap = np.zeros_like(band)
    gap[(20 + 6) * ANATOMY_STRIDE:(20 + 9) * ANATOMY_STRIDE, 20 * ANATOMY_STRIDE:100 * ANATOMY_STRIDE] = True
    assert ribs[band].mean() > 0.03
    assert ribs[gap].max() < 0.2 * ribs[band].mean()  # between two ribs: the film's own dark lung


def test_vessels_start_at_their_hilum_and_stay_in_their_lung() -> None:
    _, anatomy, hilum = _chest()
    for side, channel in ((0, RIGHT), (1, LEFT)):
        lung = _upsampled(anatomy[channel])
        canvas = _vessels(lung, hilum[side], np.random.default_rng(side))
        assert canvas.max() > 0.0
        assert canvas[lung == 0].max() == 0.0
        ys, xs = np.nonzero(canvas > 0.1 * canvas.max())
        # the tree is brightest near its root, and it spreads out into its own lung (away from the midline)
        x, y = hilum[side]
        near = np.hypot(xs - x, ys - y) < 40
        assert canvas[ys[near], xs[near]].mean() > canvas[ys[~near], xs[~near]].mean()
        assert (xs.mean() < x) if side == 0 else (xs.mean() > x)


def _set(n: int = 4) -> TrainingSet:
    image, anatomy, hilum = _chest()
    lesion = np.zeros((n, INPUT_SIZE // LESION_STRIDE, INPUT_SIZE // LESION_STRIDE), np.uint8)
    lesion[:, 100:110, 60:70] = 255
    return TrainingSet(images=np.stack([image] * n).astype(np.float16),
                       anatomy=np.stack([np.rint(anatomy * 255)] * n).astype(np.uint8),
                       lesion=lesion, hilum=np.stack([hilum] * n), seeds=np.arange(n))


def test_off_by_default_and_targets_never_change() -> None:
    data = _set()
    plain = augment_sample(data, 1, np.random.default_rng(3), 8)
    off = augment_sample(data, 1, np.random.default_rng(3), 8, texture_p=0.0)
    assert all(np.array_equal(a, b) for a, b in zip(plain, off, strict=True))
    textured = make_batch(data, np.arange(4), np.random.default_rng(3), 0, texture_p=1.0)
    untouched = make_batch(data, np.arange(4), np.random.default_rng(3), 0)
    for key in ("anatomy", "lesion", "hilum"):
        assert np.array_equal(textured[key].numpy(), untouched[key].numpy())
    assert not np.array_equal(textured["image"].numpy(), untouched["image"].numpy())
