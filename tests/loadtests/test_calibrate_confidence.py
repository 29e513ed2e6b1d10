"""The confidence fitter (loadtests/calibrate_confidence.py): isotonic fit, ECE, the seed guard,
and one real run on two validation films through the embedded encoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from loadtests import calibrate_confidence as cc
from orchestrator.findings import calibration
from orchestrator.findings.calibration import from_dict
from orchestrator.settings import Settings


def test_pav_pools_violators_and_is_monotone() -> None:
    blocks = cc.pav([1, 2, 3, 4, 5, 6], [0, 1, 0, 1, 1, 0])
    means = [m for _, _, m, _ in blocks]
    assert means == sorted(means)
    assert sum(n for *_, n in blocks) == 6
    assert blocks[0][:3] == (1.0, 1.0, 0.0) and blocks[1][2] == pytest.approx(0.5)
    assert blocks[-1][2] == pytest.approx(2 / 3)
    # ties in x are one block
    assert cc.pav([1, 1, 2], [1, 0, 1]) == [(1.0, 1.0, 0.5, 2), (2.0, 2.0, 1.0, 1)]


def test_fit_curve_picks_the_direction_and_clips() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 400)
    y = (rng.uniform(0, 1, 400) < 1 - x / 10).astype(int)  # right less often as x grows
    kx, ky, direction = cc.fit_curve(x, y)
    assert direction == "decreasing"
    assert kx == sorted(kx) and all(a >= b for a, b in zip(ky, ky[1:], strict=False))
    assert min(ky) >= cc.CLIP[0] and max(ky) <= cc.CLIP[1]
    assert np.interp(1.0, kx, ky) > 0.7 and np.interp(9.0, kx, ky) < 0.3


def test_ece() -> None:
    assert cc.expected_calibration_error([1.0] * 10, [1] * 7 + [0] * 3) == pytest.approx(0.3)
    assert cc.expected_calibration_error([0.25] * 4 + [0.95] * 20, [1, 0, 0, 0] + [1] * 19 + [0]) == pytest.approx(0.0)
    assert cc.expected_calibration_error([0.15, 0.85], [1, 0]) == pytest.approx(0.85)


def _row(seed: int, x: float, y: int, stated: bool = True) -> dict[str, Any]:
    return {"seed": seed, "raw": {"lesion_peak": 1.0, "lesion_mean": x, "log_area_mm2": x, "margin": x},
            "peak": 1.0, "stated": {"margin": stated}, "outcome": {"presence": y, "margin": y}}


def test_fit_all_reduces_ece_out_of_fold_on_a_learnable_score() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(600):
        x = float(rng.uniform(-1, 1))
        rows.append(_row(i, x, int(rng.uniform() < 0.5 + 0.45 * x), stated=x >= 0))
    tables, report = cc.fit_all(rows)
    assert {"presence", "margin"} <= set(tables)
    for name in ("presence", "margin"):
        r = report[name]
        assert r["ece_after_crossfit"] < r["ece_before"] - 0.1, (name, r)
    assert tables["margin"]["target"] == "positive" and tables["presence"]["target"] == "correct"
    cal = from_dict({"attributes": tables})
    # a positive table: P(irregular) grows with the score, and a smooth call gets 1 - p
    assert cal.probability("margin", 0.9, True) > 0.8 and cal.probability("margin", -0.9, False) > 0.8


def test_test_seeds_are_refused() -> None:
    cc.check_validation(range(50, 200))
    for seeds in ([10], [49, 50], [250]):
        with pytest.raises(SystemExit):
            cc.check_validation(seeds)
    with pytest.raises(SystemExit):
        cc.main(["--seeds", "0-3", "--out", "/nonexistent/x.json"])


@pytest.mark.skipif(not Settings().onnx_path.exists(), reason="no encoder weights")
def test_a_real_run_on_two_validation_films(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, plot, cache = tmp_path / "cal.json", tmp_path / "rel.png", tmp_path / "rows"
    committed = calibration.CALIBRATION_PATH.read_bytes()
    assert cc.main(["--seeds", "60-61", "--out", str(out), "--plot", str(plot), "--cache", str(cache)]) == 0
    assert calibration.CALIBRATION_PATH.read_bytes() == committed, "the run must write where it is told"
    doc = json.loads(out.read_text())
    assert doc["seeds"] == "60-61" and doc["films"] == 2 and doc["findings"] >= 1
    cal = from_dict(doc)
    assert "presence" in cal.curves and all(0 <= v <= 1 for c in cal.curves.values() for v in c.y)
    assert Image.open(plot).size[0] > 300
    cached = sorted(p.name for p in next(cache.iterdir()).iterdir())
    assert cached == ["60.json", "61.json"]
    rows = [r for name in cached for r in json.loads((next(cache.iterdir()) / name).read_text())]
    assert all(r["outcome"]["presence"] in (0, 1) for r in rows)
    assert all(set(r["raw"]) >= {"margin", "diameter_mm", "lesion_mean", "lobe_clear"} for r in rows)
    text = capsys.readouterr().out
    assert "ECE before" in text and "presence" in text


def test_a_second_look_run_fits_on_the_maps_as_served_and_keeps_its_rows_apart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With ``HILUM_SECOND_LOOK`` the tables are fitted on the maps the engine then reads (two more passes
    per film that finds something); the second reader's own tables on its maps with its second look, through
    the rendering families asked for; each kind of row is cached apart from the others."""
    cache = tmp_path / "rows"
    plot = str(tmp_path / "rel.png")
    assert cc.main(["--seeds", "60", "--out", str(tmp_path / "a.json"), "--plot", plot, "--cache", str(cache)]) == 0
    assert "; 1 encoder passes" in capsys.readouterr().out  # one look
    monkeypatch.setenv("HILUM_SECOND_LOOK", "1")
    assert cc.main(["--seeds", "60", "--out", str(tmp_path / "b.json"), "--plot", plot, "--cache", str(cache)]) == 0
    assert "; 3 encoder passes" in capsys.readouterr().out  # the film's own and the two rescaled (seed 60 has findings)
    monkeypatch.delenv("HILUM_SECOND_LOOK")
    assert cc.main(["--seeds", "60", "--out", str(tmp_path / "c.json"), "--plot", "", "--cache", str(cache),
                    "--second-reader-tables", "--render", "detector"]) == 0
    assert "encoder passes" in capsys.readouterr().out
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["weights"] != json.loads((tmp_path / "a.json").read_text())["weights"] and doc["render"] == "detector"
    names = sorted(p.name for p in cache.iterdir())
    assert len(names) == 3 and sum("second-look" in n for n in names) == 2 and all("gate" in n for n in names)
    assert sum("render-detector" in n for n in names) == 1
    with pytest.raises(SystemExit):
        cc.main(["--seeds", "60", "--render", "all", "--out", str(tmp_path / "d.json"), "--plot", "", "--cache", ""])
    assert not (tmp_path / "d.json").exists()  # padding moves the film's frame: refused before any film


def test_second_reader_tables_fit_the_weights_named(tmp_path: Path) -> None:
    """``--second-reader-tables --onnx W`` fitted the served second reader's tables and named its weights, whatever W
    was: a candidate's tables were its predecessor's. Without ``--onnx``: the tables of the weights that read a film
    alone, where they are others than the second reader's."""
    import shutil

    served = Settings().alone_reader_onnx_path
    assert served is not None and served != Settings().second_reader_onnx_path
    candidate = tmp_path / "anatomy_encoder.onnx"
    shutil.copyfile(Settings().onnx_path, candidate)  # other weights than the served second reader's
    _, enc, tag, _ = cc._encoder_maps(candidate, second_reader_tables=True)
    try:
        assert tag.startswith("anatomy_encoder.onnx@") and tag != cc.weights_tag(served)
        assert tag == cc.weights_tag(candidate)
    finally:
        enc.close()
    _, enc, tag, _ = cc._encoder_maps(None, second_reader_tables=True)
    try:
        assert tag == cc.weights_tag(served)
    finally:
        enc.close()
