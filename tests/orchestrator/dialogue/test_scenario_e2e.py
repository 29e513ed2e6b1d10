"""docs/SCENARIO.md's four turns, in Chinese and English, on a phantom film, through the whole engine:
decode (DICOM / PNG) → encoder → findings → dialogue.

Two encoders: ``PhantomTruthMapsEncoder`` — a test double that returns the phantom's truth
anatomy masks and lesion mask as AnatomyMaps (it tests every layer after the encoder) — and
the real embedded ONNX encoder (``build_encoder``).
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.findings.calibration import THRESHOLD
from orchestrator.settings import Settings

phantom = pytest.importorskip("encoder.phantom")

TURNS = {
    "zh": ["右肺中叶那个圆形影,边缘是否规则?", "这个病灶距离右肺门有多远?是否与肺门结构相连?",
           "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?"],
    "en": ["Is the margin of the round opacity in the right middle lobe regular?",
           "How far is this lesion from the right hilum? Is it connected to the hilar structures?",
           "If this were early lung cancer, what are the typical X-ray signs, and how many does this image show?"],
}


class PhantomTruthMapsEncoder:
    """Test double for the encoder: the phantom's truth masks as maps; counts its passes."""

    name = "phantom-truth-double"

    def __init__(self, case: Any) -> None:
        self.case = case
        self.calls = 0

    def encode(self, image: np.ndarray) -> AnatomyMaps:
        self.calls += 1
        c = self.case
        return AnatomyMaps(image=np.asarray(image, dtype=np.float32), anatomy=c.masks.astype(np.float32),
                           lesion=c.lesion_mask.astype(np.float32), hilum_px=dict(c.hilum_px))

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        return None


@pytest.fixture(scope="module", params=[7, 4], ids=["seed7", "seed4"])
def case_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    case = phantom.generate_case(request.param, phantom.scenario_spec())
    out = tmp_path_factory.mktemp(f"scenario{request.param}")
    case.write(out)
    return case, out


def _nodule(truth: dict[str, Any]) -> dict[str, Any]:
    return next(les for les in truth["lesions"] if les["type"] == "nodule")


def _finding_of(turn: Any, anchor_id: str) -> dict[str, Any]:
    return next(f for f in turn.findings if f["anchor_id"] == anchor_id)


def run_scenario(engine: DialogueEngine, encoder: Any, data: bytes, filename: str, lang: str) -> list[Any]:
    base = encoder.calls
    t0 = time.perf_counter()
    view = engine.create_session(data, filename, lang=lang)
    first_s = time.perf_counter() - t0
    assert encoder.calls == base + 1
    turns = [view.turns[0]]
    for q in TURNS[lang]:
        t1 = time.perf_counter()
        turns.append(engine.ask(view.session_id, q))
        assert time.perf_counter() - t1 < first_s / 10, "a follow-up must cost far less than the first turn"
    assert encoder.calls == base + 1, "follow-up turns never run the encoder"
    again = engine.ask(view.session_id, TURNS[lang][1])
    assert again.measurements == turns[2].measurements
    assert re.findall(r"\d+\.\d", again.answer.text) == re.findall(r"\d+\.\d", turns[2].answer.text)
    assert encoder.calls == base + 1
    return turns


def check_scenario(turns: list[Any], truth: dict[str, Any], lang: str, *, diameter_tol: float = 0.15) -> None:
    screen, margin, relation, checklist = turns
    nodule = _nodule(truth)
    mm_per_px = truth["pixel_spacing_mm"][0]
    # turn 1: every region is a numbered anchor, hila too
    assert screen.intent == "screen" and screen.findings
    assert {"A1", "A2"} <= set(screen.referenced_anchor_ids)
    assert any(a["kind"] == "anatomy" and a.get("name") == "hilum_right" for a in screen.anchors)
    # turn 2: binds the anchor of the truth nodule (by location and description)
    assert margin.intent == "describe_margin" and margin.clarification is None
    (aid,) = [a for a in margin.referenced_anchor_ids]
    bound = _finding_of(margin, aid)
    nearest = min(screen.findings, key=lambda f: math.dist(f["center_px"], nodule["center_px"]))
    assert bound["anchor_id"] == nearest["anchor_id"]
    assert math.dist(bound["center_px"], nodule["center_px"]) * mm_per_px < 5.0
    assert bound["side"] == "right"
    assert abs(bound["diameter_mm"] - nodule["diameter_mm"]) <= diameter_tol * nodule["diameter_mm"], bound
    # turn 3: the same anchor, the right hilum, distance within 5 mm of the truth
    assert relation.intent == "measure_relation" and relation.referenced_anchor_ids[0] == aid
    dist = next(m for m in relation.measurements if m["kind"] == "distance")
    assert dist["from"] == aid and dist["spacing_source"] == "dicom"
    assert abs(dist["mm"] - nodule["distance_to_hilum_mm"]) < 5.0
    # turn 4: the yes/no items the truth decides agree with it; never a diagnosis
    card = checklist.checklist
    assert card["name"] == "early_lung_cancer" and card["subject_anchor_id"] == aid
    status = {i["sign"]: i["status"] for i in card["items"]}
    assert status["round_oval_shape"] == ("yes" if nodule["type"] == "nodule" else "no")
    check_honest_margin(margin, checklist, bound, lang)
    if nodule["margin"] in ("lobulated", "spiculated") and bound["margin"] != "smooth":
        # an irregular read is a "yes" when its calibrated probability backs it, else uncertain
        backed = bound["attribute_confidence"]["margin"] >= THRESHOLD
        assert status["spiculation"] == ("yes" if backed else "uncertain"), bound["attribute_confidence"]
    assert status["peripheral_location"] == ("yes" if nodule["distance_to_hilum_mm"] > 30 else "no")
    assert card["matched"] == sum(s == "yes" for s in status.values())
    assert ("不构成诊断" if lang == "zh" else "not a diagnosis") in checklist.answer.text
    assert all(t.lang == lang for t in turns)


HEDGED_SMOOTH = {"zh": "在此分辨率下未见边缘不规则;薄层CT可明确", "en": "no irregularity seen at this resolution; thin-section CT would settle it"}
FLAT_SMOOTH = {"zh": "光滑、规则", "en": "smooth and regular"}


def bound_margin(turns: list[Any]) -> dict[str, Any]:
    margin = turns[1]
    return _finding_of(margin, margin.referenced_anchor_ids[0])


def check_honest_margin(margin: Any, checklist: Any, bound: dict[str, Any], lang: str) -> None:
    """Issue 20: a smooth read is never a flat "smooth and regular" in the margin answer nor a
    flat "no" in the checklist; the finding carries calibrated probabilities."""
    status = {i["sign"]: i["status"] for i in checklist.checklist["items"]}
    assert FLAT_SMOOTH[lang] not in margin.answer.text
    assert 0.0 <= bound["confidence"] <= 1.0
    assert {"presence", "margin", "size"} <= set(bound["attribute_confidence"])
    if bound["margin"] == "smooth":
        assert HEDGED_SMOOTH[lang] in margin.answer.text
        assert status["spiculation"] == "uncertain"
    assert status["spiculation"] != "no"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_smooth_read_is_hedged_and_never_a_flat_no(lang: str, tmp_path: Path) -> None:
    """A smooth 14 mm nodule where the SCENARIO's spiculated one is: the truth maps read it smooth,
    and the answer says what this film cannot see instead of "smooth and regular" / "no"."""
    from encoder.phantom.case import CaseSpec
    from encoder.phantom.lesions import LesionSpec

    spec = CaseSpec(lesions=(LesionSpec(type="nodule", diameter_mm=14.0, lobe="RML", band="outer", margin="smooth",
                                        lobulated=False),))
    case = phantom.generate_case(7, spec)
    enc = PhantomTruthMapsEncoder(case)
    engine = DialogueEngine(enc, Settings())  # type: ignore[arg-type]
    case.write(tmp_path)
    view = engine.create_session((tmp_path / "image.dcm").read_bytes(), "image.dcm", lang=lang)
    margin = engine.ask(view.session_id, TURNS[lang][0])
    checklist = engine.ask(view.session_id, TURNS[lang][2])
    (aid,) = margin.referenced_anchor_ids
    bound = _finding_of(margin, aid)
    assert bound["margin"] == "smooth"
    check_honest_margin(margin, checklist, bound, lang)
    item = next(i for i in checklist.checklist["items"] if i["sign"] == "spiculation")
    assert item["settle"], "an uncertain item says what would settle it"
    assert ("薄层CT" if lang == "zh" else "thin-section CT") in checklist.answer.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scenario_with_phantom_truth_maps(case_dir: tuple[Any, Path], lang: str) -> None:
    case, out = case_dir
    enc = PhantomTruthMapsEncoder(case)
    engine = DialogueEngine(enc, Settings())  # type: ignore[arg-type]
    turns = run_scenario(engine, enc, (out / "image.dcm").read_bytes(), "image.dcm", lang)
    check_scenario(turns, case.truth, lang)


def test_png_upload_says_spacing_is_estimated(case_dir: tuple[Any, Path]) -> None:
    case, out = case_dir
    enc = PhantomTruthMapsEncoder(case)
    engine = DialogueEngine(enc, Settings())  # type: ignore[arg-type]
    view = engine.create_session((out / "image.png").read_bytes(), "image.png", lang="en")
    assert view.spacing.source == "estimated" and "estimated" in view.turns[0].answer.text
    rel = engine.ask(view.session_id, "How far is the right middle lobe nodule from the right hilum?")
    assert rel.measurements[0]["spacing_source"] == "estimated" and "estimated" in rel.answer.text
    assert enc.calls == 1


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scenario_with_the_embedded_encoder(case_dir: tuple[Any, Path], lang: str) -> None:
    from orchestrator.encoders.factory import build_encoder

    case, out = case_dir
    settings = Settings()
    if not settings.onnx_path.exists():
        pytest.skip(f"no encoder weights at {settings.onnx_path}")
    enc = build_encoder(settings)
    try:
        probe = enc.encode(case.image)
        assert int(probe.mask("lung_right").sum()) > 1000, "the encoder does not segment the right lung"
        assert int((probe.lesion >= 0.5).sum()) > 0, "the encoder finds no lesion on the scenario film"
        engine = DialogueEngine(enc, settings)
        turns = run_scenario(engine, enc, (out / "image.dcm").read_bytes(), "image.dcm", lang)
        # Through the encoder: distance within 5 mm and size within 20% (issue 5's targets), and
        # the margin graded as irregular. The 12 mm nodule reads 10.6 mm (seed 7) and 12.3 mm
        # (seed 4) with the stage-D weights and the calibrated lesion map.
        check_scenario(turns, case.truth, lang, diameter_tol=0.20)
        assert bound_margin(turns)["margin"] in ("lobulated", "spiculated"), "the default weights read it irregular"
    finally:
        enc.close()
