"""Lung-shape statistics (loadtests/lung_shapes.py): real masks against the phantom's lung fields."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from loadtests.lung_shapes import (
    STATS,
    anatomy_spec,
    costophrenic_angle,
    coverage,
    format_table,
    main,
    masks_zip,
    phantom_lungs,
    real_table,
    shape_stats,
    two_lungs,
    visible_fields,
)


def _two_boxes(h: int = 200, w: int = 80, gap: int = 30) -> tuple[np.ndarray, np.ndarray]:
    right = np.zeros((256, 256), bool)
    left = np.zeros((256, 256), bool)
    x0 = (256 - 2 * w - gap) // 2
    right[20 : 20 + h, x0 : x0 + w] = True
    left[20 : 20 + h, x0 + w + gap : x0 + 2 * w + gap] = True
    return right, left


def test_statistics_of_two_boxes() -> None:
    right, left = _two_boxes()
    st = shape_stats(right, left)
    assert set(st) == set(STATS)
    assert st["wh_right"] == pytest.approx(0.4) and st["wh_left"] == pytest.approx(0.4)
    assert st["area_right"] == pytest.approx(80 / 190) and st["rl_area"] == pytest.approx(1.0)
    assert st["height_width"] == pytest.approx(200 / 190)
    assert st["gap"] == pytest.approx(30 / 190) and st["dome"] == pytest.approx(0.0)
    assert st["cpa_right"] == pytest.approx(90.0, abs=3) and st["cpa_left"] == pytest.approx(90.0, abs=3)


def test_a_sloping_floor_gives_its_angle() -> None:
    lung = np.zeros((256, 256), bool)
    # the lateral wall at x = 40 (vertical), the floor rising medially at 40 degrees from horizontal
    for x in range(40, 160):
        bottom = int(round(220 - (x - 40) * np.tan(np.radians(40))))
        lung[20:bottom, x] = True
    assert costophrenic_angle(lung, "right") == pytest.approx(50.0, abs=4)  # 90 - 40
    assert costophrenic_angle(lung[:, ::-1], "left") == pytest.approx(50.0, abs=4)


def test_two_lungs_takes_two_side_by_side_fields_only() -> None:
    right, left = _two_boxes()
    pair = two_lungs(right | left)
    assert pair is not None and pair[0][:, :128].any() and not pair[0][:, 160:].any()
    assert two_lungs(np.zeros((300, 300), bool)) is None
    assert two_lungs(right) is None  # one field (a lateral view)
    blob = np.zeros((256, 256), bool)
    cv2.circle(blob.view(np.uint8), (128, 128), 90, 1, -1)
    assert two_lungs(blob) is None


def test_the_real_masks_are_read_from_the_wheel() -> None:
    assert masks_zip().name == "semantic_masks_v7labs_lungs.zip"
    values, outlines, used, skipped = real_table(limit=40)
    assert used + skipped == 40 and used >= 25 and len(outlines) == used
    wh = np.array(values["wh_right"])
    assert 0.35 < float(np.median(wh)) < 0.8


def test_the_plausibility_limit_on_a_lung_fields_shape_is_the_widest_real_field() -> None:
    """orchestrator/findings/plausibility.py's LUNG_WIDTH_HEIGHT_MAX: every real mask's ratio, the largest, rounded up."""
    from orchestrator.findings.plausibility import LUNG_WIDTH_HEIGHT_MAX

    values, _, used, _ = real_table()
    assert used >= 400
    for side in ("right", "left"):
        assert LUNG_WIDTH_HEIGHT_MAX[side] == math.ceil(max(values[f"wh_{side}"]) * 100) / 100


def test_phantom_lung_fields_are_the_generated_films(tmp_path: Path) -> None:
    from encoder.phantom import generate_case
    from encoder.phantom.volume import load_volume
    from orchestrator.settings import Settings

    vol = load_volume(Settings().cache_dir)
    spec = anatomy_spec(3)
    assert spec.render.families == ("anatomy",) and spec.lesions == ()
    masks, thickness = phantom_lungs(3, spec, vol)
    case = generate_case(3, spec, volume=vol)
    assert np.array_equal(masks, case.masks)
    right, left = visible_fields(masks, thickness)
    assert right.any() and left.any()
    xs_r, xs_l = np.nonzero(right)[1], np.nonzero(left)[1]
    assert xs_r.max() < xs_l.min()  # the visible fields do not overlap at the midline
    st = shape_stats(right, left)
    assert 0.05 < st["gap"] < 0.3 and 0.5 < st["rl_area"] < 1.5


def test_table_and_coverage() -> None:
    a = {k: list(np.linspace(0, 1, 50)) for k in STATS}
    b = {k: list(np.linspace(0.5, 1, 50)) for k in STATS}
    assert coverage(a["gap"], a["gap"]) > 0.9 and coverage(a["gap"], b["gap"]) < 0.6
    table = format_table({"real": a, "plain phantom": b, "anatomy family": a})
    assert table.count("\n") == len(STATS) + 1 and "| gap |" in table


def test_main_writes_the_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shapes.png"
    assert main(["--seeds", "0-1", "--real-limit", "20", "--out", str(out)]) == 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 300
    printed = capsys.readouterr().out
    assert "| wh_right |" in printed and "anatomy family" in printed
