"""loadtests/lesion_map_certainty.py: the lesion map's entropy counts only the lung fields, is 0 for a
sure map and 1 bit for a map that says 0.5 everywhere in the lungs; the test ranges are refused."""

from __future__ import annotations

import numpy as np
import pytest

from loadtests.lesion_map_certainty import lesion_map_entropy, main
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import ANATOMY_CLASSES


def _maps(lesion: np.ndarray) -> AnatomyMaps:
    anatomy = np.zeros((len(ANATOMY_CLASSES), 64, 64), dtype=np.float32)
    anatomy[ANATOMY_CLASSES.index("lung_right"), 10:50, 5:30] = 1.0
    anatomy[ANATOMY_CLASSES.index("lung_left"), 10:50, 34:60] = 1.0
    return AnatomyMaps(np.zeros((64, 64), np.float32), anatomy, lesion.astype(np.float32))


def test_entropy_is_counted_in_the_lungs_only() -> None:
    sure = np.zeros((64, 64))
    sure[20:25, 10:15] = 1.0  # a lesion the map is sure of
    assert lesion_map_entropy(_maps(sure)) < 0.01
    outside = sure.copy()
    outside[0:8, :] = 0.5  # unsure above the lungs: not counted
    assert lesion_map_entropy(_maps(outside)) == pytest.approx(lesion_map_entropy(_maps(sure)))
    unsure = np.full((64, 64), 0.5)
    assert lesion_map_entropy(_maps(unsure)) == pytest.approx(1.0, abs=1e-6)
    no_lungs = AnatomyMaps(np.zeros((64, 64), np.float32), np.zeros((len(ANATOMY_CLASSES), 64, 64), np.float32),
                           unsure.astype(np.float32))
    assert lesion_map_entropy(no_lungs) == 0.0


def test_the_test_ranges_are_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--seeds", "0-3"])
