"""Lung fields as a film shows them (encoder/visible_lungs.py): the lung targets stop at the diaphragm,
the lobes and every other channel stay, and a sample without a labelled diaphragm leaves its lungs out."""

from __future__ import annotations

import numpy as np

from encoder.dataset import TrainingSet
from encoder.visible_lungs import visible_lung_fields
from orchestrator.contracts.encoder import ANATOMY_CLASSES

RIGHT, LEFT, RLL, DIA = (ANATOMY_CLASSES.index(n) for n in ("lung_right", "lung_left", "RLL", "diaphragm"))


def _set(other_ct_second: bool = True) -> TrainingSet:
    """Two samples: lungs on rows 10-99, the diaphragm (everything below the domes) from row 70 down,
    with a soft row at 69 (half diaphragm); the second sample's diaphragm unlabelled, as another CT's."""
    n, c = 2, len(ANATOMY_CLASSES)
    anatomy = np.zeros((n, c, 128, 128), np.uint8)
    anatomy[:, RIGHT, 10:100, 10:60] = 255
    anatomy[:, LEFT, 10:100, 68:118] = 255
    anatomy[:, RLL, 50:100, 10:60] = 255
    anatomy[0, DIA, 70:, :] = 255
    anatomy[0, DIA, 69, :] = 128
    known = np.ones((n, c), np.uint8)
    if other_ct_second:
        known[1, :] = 0
        known[1, [RIGHT, LEFT]] = 1
    return TrainingSet(images=np.zeros((n, 512, 512), np.float16), anatomy=anatomy,
                       lesion=np.zeros((n, 256, 256), np.uint8), hilum=np.zeros((n, 2, 2), np.float32),
                       seeds=np.arange(n), anatomy_known=known)


def test_lungs_stop_at_the_diaphragm_and_the_rest_stays() -> None:
    data = _set()
    out = visible_lung_fields(data)
    for ch in (RIGHT, LEFT):
        assert out.anatomy[0, ch, 70:].max() == 0  # nothing below the domes
        np.testing.assert_array_equal(out.anatomy[0, ch, :69], data.anatomy[0, ch, :69])  # above, unchanged
        assert 120 <= out.anatomy[0, ch, 69, 30 if ch == RIGHT else 90] <= 135  # the soft row halves
    keep = [i for i in range(len(ANATOMY_CLASSES)) if i not in (RIGHT, LEFT)]
    np.testing.assert_array_equal(out.anatomy[:, keep], data.anatomy[:, keep])  # lobes (RLL too) as they were
    np.testing.assert_array_equal(out.anatomy_known[0], data.anatomy_known[0])


def test_a_sample_without_a_diaphragm_label_leaves_its_lungs_out() -> None:
    data = _set()
    out = visible_lung_fields(data)
    assert out.anatomy_known[1, RIGHT] == 0 and out.anatomy_known[1, LEFT] == 0
    np.testing.assert_array_equal(out.anatomy[1], data.anatomy[1])  # its targets are not rewritten
    assert data.anatomy_known[1, RIGHT] == 1 and data.anatomy[0, RIGHT, 80].max() == 255  # the input is not changed
