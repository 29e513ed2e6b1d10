"""Lateral films (encoder/phantom/lateral.py): the CT projected from side to side, its orientation, and the draws."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from encoder.phantom.lateral import LateralLines, draw_lateral, lateral_film, lateral_lines
from encoder.phantom.rendering import RenderStyle


def chest_ct() -> np.ndarray:
    """(I, J, K) in the phantom's L-A-S axes: soft tissue in air, two lungs, a spine at the back (low J) and a
    collar of bone at the top (high K)."""
    hu = np.full((64, 48, 40), -1000, dtype=np.int16)
    hu[6:58, 6:42, :] = 40
    hu[10:28, 14:38, 4:34] = -850
    hu[36:54, 14:38, 4:34] = -850
    hu[29:35, 6:12, :] = 700  # the spine, posterior
    hu[6:58, 20:30, 36:40] = 500  # bone across the top slices
    return hu


@pytest.fixture(scope="module")
def lines() -> LateralLines:
    return lateral_lines(chest_ct(), (0.7, 0.7, 1.4))


def test_the_line_runs_from_side_to_side(lines: LateralLines) -> None:
    assert lines.soft.shape == lines.bone.shape == (80, 48)  # 40 slices of 1.4 mm on pixels of 0.7 mm; J across
    assert lines.spacing_mm == 0.7
    columns = lines.bone[10:70].sum(axis=0)
    assert int(np.argmax(columns)) < 12  # the spine: posterior, low J on the left of the line
    rows = lines.bone[:, 20:30].sum(axis=1)
    assert int(np.argmax(rows)) < 8  # cranial slices first
    # through both lungs and the soft tissue beside them: less than through soft tissue alone
    assert lines.soft[40, 25] < lines.soft[40, 8]
    assert float(lines.soft[40, 0]) == 0.0  # air outside the body counts nothing


def test_films_are_deterministic_and_varied(lines: LateralLines) -> None:
    a, b = lateral_film(3, lines, size=128), lateral_film(3, lines, size=128)
    assert np.array_equal(a, b)
    films = [lateral_film(s, lines, size=128) for s in range(12)]
    assert all(f.dtype == np.float32 and f.min() >= 0.0 and f.max() <= 1.0 for f in films)
    assert len({f.tobytes() for f in films}) == 12


def test_films_face_either_way() -> None:
    """Either lateral is hung: anterior on the image's left or right. A CT dense behind and soft in front, framed
    plainly, shows its dense half on the side its draw says."""
    hu = np.full((64, 48, 40), -1000, dtype=np.int16)
    hu[6:58, 6:24, :] = 1500  # posterior (low J)
    hu[6:58, 24:42, :] = 0
    lines = lateral_lines(hu, (0.7, 0.7, 1.4))
    draws = [draw_lateral(s) for s in range(16)]
    assert {d.anterior_left for d in draws} == {True, False}
    for d in draws[:4]:
        plain = replace(d, style=RenderStyle(), zoom=1.0, roll_deg=0.0, shift=(0.0, 0.0))
        f = lateral_film(0, lines, size=128, draw=plain)
        cols = f[32:96].mean(axis=0)
        posterior_right = cols[64:].mean() > cols[:64].mean()
        assert posterior_right == d.anterior_left, d
