"""Issue 20 in the answers: calibrated probabilities in the finding JSON, "possibly" / "cannot be
judged on this film" below the threshold, and a smooth margin read that is never stated flatly
(margin answer) nor scored a flat "no" (early-lung-cancer checklist)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.dialogue import checklists as cl
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.facts import ImageFacts
from orchestrator.findings.calibration import THRESHOLD
from orchestrator.ontology.loader import load_ontology
from orchestrator.settings import Settings

HIGH = {"presence": 0.97, "margin": 0.9, "size": 0.95, "density": 0.9, "calcification": 0.98, "cavity": 0.97, "lobe": 0.98}
LOW = THRESHOLD - 0.15
MARGIN_Q = {"zh": "右肺中叶那个圆形影,边缘是否规则?", "en": "Is the margin of the round opacity in the right middle lobe regular?"}
CANCER_Q = {"zh": "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?",
            "en": "If this were early lung cancer, what are the typical X-ray signs, and how many does this image show?"}
HEDGED_SMOOTH = {"zh": "在此分辨率下未见边缘不规则;薄层CT可明确", "en": "no irregularity seen at this resolution; thin-section CT would settle it"}
FLAT_SMOOTH = {"zh": ("光滑、规则", "边缘光滑"), "en": ("smooth and regular", "margin smooth")}
CANNOT = {"zh": "本片无法判断", "en": "cannot be judged on this film"}


class NoEncoderDouble:
    name = "none"
    calls = 0

    def encode(self, image: Any) -> Any:
        raise AssertionError("not used")


_BASE: list[ImageFacts] = []


@pytest.fixture(autouse=True)
def _base(make_facts: Callable[..., ImageFacts]) -> None:
    _BASE[:] = [make_facts("dicom")]


def facts_with(confidence: float = 0.97, read: str | None = None, **attrs: float) -> ImageFacts:
    """The SCENARIO facts (F1 a spiculated 12 mm nodule) with probabilities; ``read="smooth"``
    turns F1's margin read smooth."""
    base = _BASE[0]
    f1 = base.findings[0]
    changes: dict[str, Any] = {"confidence": confidence, "attribute_confidence": {**HIGH, "presence": confidence, **attrs}}
    if read == "smooth":
        changes.update(margin="smooth", notches=(), spicules=())
    f2 = replace(base.findings[1], confidence=0.97, attribute_confidence={**HIGH, "presence": 0.97})
    return replace(base, findings=(replace(f1, **changes), f2))


def ask(facts: ImageFacts, lang: str, *questions: str) -> list[Any]:
    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    view = eng.start_session(facts, lang=lang)
    return [view.turns[0], *(eng.ask(view.session_id, q) for q in questions)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_finding_json_carries_the_probabilities(lang: str) -> None:
    (screen,) = ask(facts_with(0.91), lang)
    f = screen.findings[0]
    assert f["confidence"] == pytest.approx(0.91)
    assert f["attribute_confidence"]["margin"] == pytest.approx(HIGH["margin"])
    assert set(f["attribute_confidence"]) == set(HIGH)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_smooth_read_is_hedged_in_the_margin_answer_and_uncertain_in_the_checklist(lang: str) -> None:
    # even with a high margin probability: the lesion map cannot show 1 mm spicules
    _, margin, cancer = ask(facts_with(read="smooth", margin=0.95), lang, MARGIN_Q[lang], CANCER_Q[lang])
    assert HEDGED_SMOOTH[lang] in margin.answer.text
    assert not any(flat in margin.answer.text for flat in FLAT_SMOOTH[lang]), margin.answer.text
    item = next(i for i in cancer.checklist["items"] if i["sign"] == "spiculation")
    assert item["status"] == "uncertain" and item["settle"]
    assert not any(flat in cancer.answer.text for flat in FLAT_SMOOTH[lang]), cancer.answer.text
    assert ("此分辨率下未见边缘不规则" if lang == "zh" else "no irregularity seen at this resolution") in cancer.answer.text


def test_a_smooth_read_never_scores_yes_for_a_smooth_margin_either() -> None:
    onto = load_ontology()
    facts = facts_with(read="smooth")
    benign = {r.sign: r.status for r in cl.evaluate(onto.checklist("benign_nodule"), facts, facts.findings[0], "en", onto)}  # type: ignore[arg-type]
    assert benign["smooth_margin"] == "uncertain"


def test_a_backed_irregular_read_stays_yes_and_flat() -> None:
    _, margin, cancer = ask(facts_with(), "en", MARGIN_Q["en"], CANCER_Q["en"])
    assert "the margin is irregular (spiculated)" in margin.answer.text
    assert next(i for i in cancer.checklist["items"] if i["sign"] == "spiculation")["status"] == "yes"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_irregular_read_below_the_threshold_cannot_be_judged(lang: str) -> None:
    _, margin, cancer = ask(facts_with(margin=LOW), lang, MARGIN_Q[lang], CANCER_Q[lang])
    assert CANNOT[lang] in margin.answer.text
    assert ("A1边缘不规则,呈" if lang == "zh" else "A1: the margin is irregular") not in margin.answer.text
    item = next(i for i in cancer.checklist["items"] if i["sign"] == "spiculation")
    assert item["status"] == "uncertain" and item["settle"]
    assert cancer.checklist["matched"] == sum(i["status"] == "yes" for i in cancer.checklist["items"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_finding_below_the_threshold_is_possibly(lang: str) -> None:
    (screen,) = ask(facts_with(confidence=LOW), lang)
    line = next(s["text"] for s in screen.answer.sections if s["kind"] == "findings")
    a1 = line.split("A2")[0]
    assert ("可能见" if lang == "zh" else "A1: possibly a") in a1, a1
    (sure,) = ask(facts_with(confidence=0.97), lang)
    text = next(s["text"] for s in sure.answer.sections if s["kind"] == "findings")
    assert "可能" not in text and "possibly" not in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_attributes_below_the_threshold_cannot_be_judged(lang: str) -> None:
    facts = facts_with(calcification=LOW, cavity=LOW, density=LOW, size=LOW, lobe=LOW)
    q = {"zh": ["它有钙化吗", "它有多大?", "A1在哪里?"], "en": ["Is it calcified?", "How big is it?", "Where is A1?"]}[lang]
    density, size, where = ask(facts, lang, MARGIN_Q[lang], *q)[2:]
    assert density.answer.text.count(CANNOT[lang]) >= 3, density.answer.text  # density, calcification, cavity
    assert ("未见钙化" if lang == "zh" else "no calcification") not in density.answer.text
    assert CANNOT[lang] in size.answer.text and size.measurements  # the numbers stay, hedged
    assert CANNOT[lang] in where.answer.text
    high = ask(facts_with(), lang, MARGIN_Q[lang], *q)
    assert all(CANNOT[lang] not in t.answer.text.replace("空气支气管征本片无法判断", "").replace(
        "air bronchogram cannot be judged on this film", "") for t in high[2:])


def _calcified(calcification: float) -> ImageFacts:
    """The SCENARIO facts with F1 read as a 9 mm calcified nodule, its calcification at that probability."""
    facts = facts_with(calcification=calcification)
    f1 = facts.findings[0]
    f1 = replace(f1, kind="calcified_nodule", diameter_mm=9.0, density=replace(f1.density, calcified=True))
    return replace(facts, findings=(f1, *facts.findings[1:]))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_calcification_that_cannot_be_judged_is_not_named_anywhere(lang: str) -> None:
    """A nodule read calcified whose calcification is below the threshold (on a film read alone, a rib crossing: the
    presence 0.62 holds the claim under it) is named a nodule, in the screening line and its anchor's label; the
    density answer says the calcification cannot be judged and the benign checklist counts it uncertain, not yes."""
    benign_q = {"zh": "A1是良性的吗?", "en": "Is A1 benign?"}[lang]
    calc_q = {"zh": "A1有钙化吗", "en": "Is A1 calcified?"}[lang]
    named = {"zh": "钙化结节", "en": "calcified nodule"}[lang]
    screen, density, benign = ask(_calcified(LOW), lang, calc_q, benign_q)
    line = next(s["text"] for s in screen.answer.sections if s["kind"] == "findings").split("A2")[0]
    assert named not in line and ("结节" if lang == "zh" else "nodule") in line, line
    assert named not in next(a["label"] for a in screen.anchors if a["id"] == "A1")
    f1 = screen.findings[0]  # the JSON keeps the reading, and names it as the text does (the page, the PR)
    assert (f1["kind"], f1["named_kind"], f1["calcified"], f1["stated"]["calcification"]) == \
        ("calcified_nodule", "nodule", True, False)
    assert CANNOT[lang] in density.answer.text and ("可见钙化" if lang == "zh" else "calcification present") \
        not in density.answer.text
    assert benign.checklist["name"] == "benign_nodule", benign.checklist
    item = next(i for i in benign.checklist["items"] if i["sign"] == "calcification")
    assert item["status"] == "uncertain"
    sure_screen, sure_density, sure_benign = ask(_calcified(0.95), lang, calc_q, benign_q)
    assert named in next(s["text"] for s in sure_screen.answer.sections if s["kind"] == "findings").split("A2")[0]
    assert sure_screen.findings[0]["named_kind"] == "calcified_nodule"
    assert ("可见钙化" if lang == "zh" else "calcification present") in sure_density.answer.text
    assert next(i for i in sure_benign.checklist["items"] if i["sign"] == "calcification")["status"] == "yes"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_lucency_read_inside_is_never_stated_a_bubble_like_lucency(lang: str) -> None:
    """The phantom draws no bubble-like lucency, so its reading "present" was never shown right (a child's airway over
    the mediastinum was one on a real film): the density answer says a small lucency is seen and that whether it is the
    sign cannot be judged, the early-lung-cancer checklist counts the sign uncertain, not yes, the JSON says it is not
    stated, and the answers pass the narration guard, which refuses a narration that states it present. Read absent,
    it stays "no", as before."""
    present = {"zh": "可见空泡样透亮影", "en": "bubble-like lucency present"}[lang]
    base = facts_with()
    f1 = base.findings[0]
    seen = replace(base, findings=(replace(f1, density=replace(f1.density, bubble_lucency=True)), *base.findings[1:]))
    from orchestrator.narration.guard import check_narration

    screen, density, cancer = ask(seen, lang, MARGIN_Q[lang], CANCER_Q[lang])
    assert present not in density.answer.text
    assert {"zh": "内见小透亮区(是否为空泡征本片无法判断)",
            "en": "a small lucency inside (whether it is a bubble-like lucency cannot be judged on this film)"}[lang] \
        in density.answer.text
    item = next(i for i in cancer.checklist["items"] if i["sign"] == "bubble_lucency")
    assert item["status"] == "uncertain" and item["settle"], item
    assert (screen.findings[0]["bubble_lucency"], screen.findings[0]["stated"]["bubble_lucency"]) == (True, False)
    for t in (density, cancer):
        assert check_narration(t.answer.text, t.facts(), t.answer.text).ok
    claim = {"zh": "A1内可见空泡征。", "en": "A1 shows a bubble-like lucency."}[lang]
    assert not check_narration(claim, density.facts(), density.answer.text).ok
    _, absent_density, absent_cancer = ask(base, lang, MARGIN_Q[lang], CANCER_Q[lang])
    assert {"zh": "未见空泡样透亮影", "en": "no bubble-like lucency"}[lang] in absent_density.answer.text
    assert next(i for i in absent_cancer.checklist["items"] if i["sign"] == "bubble_lucency")["status"] == "no"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_old_facts_without_probabilities_read_as_before(lang: str) -> None:
    base = _BASE[0]
    assert not base.findings[0].attribute_confidence
    _, margin, cancer = ask(base, lang, MARGIN_Q[lang], CANCER_Q[lang])
    assert ("边缘不规则" if lang == "zh" else "the margin is irregular") in margin.answer.text
    assert next(i for i in cancer.checklist["items"] if i["sign"] == "spiculation")["status"] == "yes"


def test_hedged_answers_pass_the_narration_fact_guard() -> None:
    from orchestrator.narration.guard import check_narration

    low = facts_with(confidence=LOW, margin=LOW, calcification=LOW, cavity=LOW, density=LOW, size=LOW, lobe=LOW)
    smooth = facts_with(read="smooth")
    for facts in (low, smooth):
        for lang in ("zh", "en"):
            qs = [MARGIN_Q[lang], CANCER_Q[lang], *({"zh": ["它有钙化吗", "它有多大?", "它是良性的吗?"],
                                                     "en": ["Is it calcified?", "How big is it?", "Is it benign?"]}[lang])]
            for t in ask(facts, lang, *qs):
                verdict = check_narration(t.answer.text, t.facts(), t.answer.text)
                assert verdict.ok, (lang, t.intent, verdict.violations)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("over", ["heart", "mediastinum", "diaphragm"])
def test_a_finding_projected_over_the_heart_mediastinum_or_a_dome_is_said_so(lang: str, over: str) -> None:
    """The screening line places it with what it is projected over, and "where is it?" says what that means on a frontal
    film and what would tell; a finding on the open field gets neither."""
    where_q = {"zh": "A1在哪里?", "en": "Where is A1?"}[lang]
    phrase = {"heart": ("投影于心影内", "projected over the heart"),
              "mediastinum": ("投影于纵隔内", "projected over the mediastinum"),
              "diaphragm": ("投影于膈顶下方", "projected below the dome of the diaphragm")}[over][lang == "en"]
    tells = {"heart": ("侧位片可显示该处肺组织", "a lateral view shows that part of the lung"),
             "mediastinum": ("可位于纵隔而非肺内", "it may lie in the mediastinum rather than the lung"),
             "diaphragm": ("也可位于膈下", "or below the diaphragm")}[over][lang == "en"]
    facts = facts_with()
    placed = replace(facts, findings=(replace(facts.findings[0], overlies=over), *facts.findings[1:]))
    screen, where = ask(placed, lang, where_q)
    line = next(s["text"] for s in screen.answer.sections if s["kind"] == "findings").split("A2")[0]
    assert phrase in line, line
    assert phrase in where.answer.text and tells in where.answer.text, where.answer.text
    assert screen.findings[0]["overlies"] == over
    open_screen, open_where = ask(facts, lang, where_q)
    assert phrase not in open_screen.answer.text and tells not in open_where.answer.text
    assert open_screen.findings[0]["overlies"] is None
