"""Calibrated confidence: the committed tables, the runtime mapping, and what analyse() fills in."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from encoder.dataset import parse_seeds
from evaluation.synthetic import disc_mask, lobulated_mask, star_mask, strand_mask, synthetic_maps
from orchestrator.facts import Finding, ImageFacts, PixelSpacing, from_jsonable, to_jsonable
from orchestrator.findings import analyse, calibration
from orchestrator.findings.calibration import ATTRIBUTES, Calibration, Curve, from_dict, is_confident
from orchestrator.findings.margin import assess_margin, margin_score

SHAPE = (512, 512)
SPACING = PixelSpacing(0.7, 0.7, "dicom")
TEST_SEEDS = set(range(0, 50)) | set(range(200, 400))


def test_curve_interpolates_the_steps_and_is_flat_beyond_the_ends() -> None:
    c = Curve("correct", "s", (0.0, 1.0, 2.0, 4.0), (0.2, 0.2, 0.6, 0.9))
    assert c(-5.0) == pytest.approx(0.2) and c(0.5) == pytest.approx(0.2)
    assert c(1.5) == pytest.approx(0.4) and c(3.0) == pytest.approx(0.75) and c(99.0) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("x", "y"),
    [((), ()), ((0.0, 1.0), (0.5,)), ((1.0, 0.0), (0.1, 0.2)), ((0.0, 1.0), (0.1, 1.2))],
)
def test_curve_rejects_malformed_tables(x: tuple[float, ...], y: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        Curve("correct", "s", x, y)


def test_positive_tables_give_the_stated_value_its_probability() -> None:
    cal = Calibration({"margin": Curve("positive", "margin", (-0.2, 0.0, 0.2), (0.3, 0.5, 0.9))})
    assert cal.probability("margin", 0.2, stated_positive=True) == pytest.approx(0.9)
    assert cal.probability("margin", 0.2, stated_positive=False) == pytest.approx(0.1)
    assert cal.probability("margin", -0.2, stated_positive=False) == pytest.approx(0.7)
    assert cal.probability("margin", float("nan"), True) is None
    assert cal.probability("size", 3.0) is None
    assert cal.probabilities({"margin": float("nan")}, {"margin": False}) == {}


def test_raw_mode_hands_back_the_raw_scores_and_ends() -> None:
    cal = Calibration({"size": Curve("correct", "diameter_mm", (5.0, 20.0), (0.4, 0.9))})
    raw = {"diameter_mm": 12.5, "margin": -0.3}
    with calibration.raw_mode():
        assert cal.probabilities(raw, {}) == raw
    assert cal.probabilities(raw, {}) == {"size": pytest.approx(0.65)}


def test_capped_tables_give_no_statement_of_that_attribute_more_than_its_ceiling() -> None:
    cal = Calibration({"presence": Curve("correct", "lesion_peak", (0.9, 1.0), (0.5, 0.98)),
                       "size": Curve("correct", "diameter_mm", (5.0, 20.0), (0.4, 0.9))})
    capped = cal.capped("presence", 0.58)
    assert capped.probability("presence", 1.0) == pytest.approx(0.58) and cal.probability("presence", 1.0) == 0.98
    assert capped.probability("presence", 0.9) == pytest.approx(0.5)  # below the ceiling: the table's
    assert capped.probabilities({"lesion_peak": 1.0, "diameter_mm": 20.0}, {}) == {"presence": 0.58, "size": 0.9}
    assert cal.ceilings == {}  # the tables themselves unchanged
    with calibration.tables_of(capped):
        assert calibration.load() is capped
    assert calibration.load() is calibration.read(calibration.CALIBRATION_PATH)


def test_claims_of_a_lesion_are_held_to_its_presence() -> None:
    """An irregular margin, a calcification or a cavity stated is right only where there is a lesion: the table's
    probability (fitted on findings on a lesion) times the presence; a statement that it has none, and every other
    attribute, keep the table's; the fitter's raw scores are never touched."""
    probs = {"margin": 0.9, "calcification": 0.98, "cavity": 0.95, "size": 0.9, "density": 0.85, "presence": 0.62}
    held = calibration.held_to_presence(probs, 0.62, {"margin": True, "calcification": True, "cavity": False})
    assert held == {**probs, "margin": pytest.approx(0.558), "calcification": pytest.approx(0.608)}
    assert not is_confident(held["calcification"]) and is_confident(held["cavity"])
    assert calibration.held_to_presence(probs, 0.98, {"calcification": True})["calcification"] == pytest.approx(0.96)
    with calibration.raw_mode():
        assert calibration.held_to_presence(probs, 0.62, {"margin": True}) == probs


def test_a_presence_no_film_showed_right_is_never_stated() -> None:
    """A bubble-like lucency read present is not stated (the phantom draws none: no table, and each one read on
    validation films was wrong); read absent, it is; every other reading is stated as read."""
    assert not calibration.present_stated("bubble_lucency", True) and calibration.present_stated("bubble_lucency", False)
    assert calibration.present_stated("calcified", True) and calibration.present_stated("cavity", True)


def test_threshold_rule() -> None:
    assert is_confident(None) and is_confident(calibration.THRESHOLD) and not is_confident(calibration.THRESHOLD - 0.01)


def test_committed_tables_are_small_valid_and_fitted_on_validation_seeds_only() -> None:
    path = calibration.CALIBRATION_PATH
    assert path.exists(), "run loadtests/calibrate_confidence.py"
    assert path.stat().st_size < 64_000
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert not set(parse_seeds(doc["seeds"])) & TEST_SEEDS
    cal = from_dict(doc)
    assert set(cal.curves) == set(ATTRIBUTES)
    for name, curve in cal.curves.items():
        assert all(0.0 <= v <= 1.0 for v in curve.y), name
        assert list(curve.x) == sorted(curve.x), name
    assert doc["ece_10_bins"]["presence"]["after_crossfit"] < doc["ece_10_bins"]["presence"]["before"]
    assert doc["ece_10_bins"]["margin"]["after_crossfit"] < doc["ece_10_bins"]["margin"]["before"]


def test_runtime_module_imports_no_fitting_code() -> None:
    tree = ast.parse(Path(calibration.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported and not any(m.startswith(("sklearn", "loadtests", "encoder", "scipy")) for m in imported), imported


@pytest.fixture(scope="module")
def scene() -> ImageFacts:
    lesions = [
        disc_mask(SHAPE, (110, 250), 12),
        star_mask(SHAPE, (360, 170), 10, 6, 9, 0.2, 5),
        strand_mask(SHAPE, (330, 330), (372, 362), 4),
    ]
    return analyse(synthetic_maps(lesions), SPACING)


def test_every_finding_carries_probabilities(scene: ImageFacts) -> None:
    assert scene.findings
    for f in scene.findings:
        assert 0.0 <= f.confidence <= 1.0
        assert f.attribute_confidence and set(f.attribute_confidence) <= set(ATTRIBUTES)
        assert "presence" in f.attribute_confidence and f.attribute_confidence["presence"] == pytest.approx(f.confidence)
        assert all(0.0 <= p <= 1.0 for p in f.attribute_confidence.values()), f.attribute_confidence
    strand = next(f for f in scene.findings if f.shape == "strand-like")
    assert "margin" not in strand.attribute_confidence  # a strand's margin is not graded
    round_ = next(f for f in scene.findings if f.shape != "strand-like")
    assert {"margin", "size", "lobe"} <= set(round_.attribute_confidence)


def test_probabilities_follow_the_committed_tables(scene: ImageFacts) -> None:
    maps = synthetic_maps([disc_mask(SHAPE, (110, 250), 12)])
    with calibration.raw_mode():
        (raw,) = analyse(maps, SPACING).findings
    (f,) = analyse(maps, SPACING).findings
    cal = calibration.load()
    curve = cal.curves["size"]
    assert f.attribute_confidence["size"] == pytest.approx(curve(raw.attribute_confidence[curve.score]), abs=1e-3)
    m = cal.curves["margin"]
    p_irregular = m(raw.attribute_confidence["margin"])
    want = p_irregular if f.margin != "smooth" else 1.0 - p_irregular
    assert f.attribute_confidence["margin"] == pytest.approx(want, abs=1e-3)


def test_an_irregular_margin_from_analyse_is_held_to_the_presence() -> None:
    maps = synthetic_maps([lobulated_mask(SHAPE, (110, 250), 16, 4, 0.45)])
    with calibration.raw_mode():
        (raw,) = analyse(maps, SPACING).findings
    (f,) = analyse(maps, SPACING).findings
    assert f.margin != "smooth"
    p_irregular = calibration.load().curves["margin"](raw.attribute_confidence["margin"])
    assert f.attribute_confidence["margin"] == pytest.approx(p_irregular * f.confidence, abs=2e-3)


@pytest.mark.parametrize(
    ("mask", "irregular"),
    [
        (disc_mask(SHAPE, (110, 250), 14), False),
        (lobulated_mask(SHAPE, (110, 250), 16, 4, 0.45), True),
        (star_mask(SHAPE, (110, 250), 12, 7, 12, 0.2, 5), True),
    ],
)
def test_margin_score_sign_is_the_call(mask: np.ndarray, irregular: bool) -> None:
    ys, xs = np.nonzero(mask)
    m = assess_margin(mask, (float(xs.mean()), float(ys.mean())), SPACING)
    assert (m.margin != "smooth") is irregular
    assert math.isfinite(m.score) and (m.score >= 0) is irregular


def test_margin_score_combines_notches_and_spicules() -> None:
    assert margin_score(-0.1, 0) < 0 and margin_score(-0.1, 1) < 0
    assert margin_score(-0.1, 2) > 0 and margin_score(0.05, 0) == pytest.approx(0.05)
    assert margin_score(-0.1, 3) > margin_score(-0.1, 2)


def test_facts_json_round_trip_and_old_json_without_the_field(scene: ImageFacts) -> None:
    data = to_jsonable(scene)
    assert from_jsonable(ImageFacts, data) == scene
    for f in data["findings"]:
        del f["attribute_confidence"]
    old = from_jsonable(ImageFacts, data)
    assert all(isinstance(f, Finding) and f.attribute_confidence == {} for f in old.findings)
