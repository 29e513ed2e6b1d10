"""What one answer says, the others say too, and what is stated is drawn (an audit of phantom films, seeds 400-439 and
300-311):

1. the screening listed consolidation among what the remaining lung fields do not show while "is there
   consolidation?" said the findings may be or may hide it: both now read ``checklists.unsettled_by``;
2. "is there a cavity in A1?" said "no cavity" (0.98, stated flatly) of lesions that were cavities: a "no" on a lesion
   of ``calibration.CAVITY_UNEXCLUDED_MM`` or more is hedged ("no cavity seen; one cannot be excluded");
3. "are you sure?" called the lobe "stated flatly" where every location answer calls it an estimate (lobes overlap);
4. a consolidation was described with a nodule's spicules and notches, drawn and compared as "spiculated";
5. "how high does it reach?" of an effusion gave the hilum distance, "is there a meniscus sign?" was out of scope;
6. distances to the pleura and the diaphragm, the cardiothoracic ratio and the costophrenic angles drew no line, and
   a margin's notches were named and drawn once per profile minimum, two at one clock position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.parser import parse
from orchestrator.facts import CostophrenicAngle, ImageFacts, Notch, Spicule
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.conftest import NoEncoderDouble


def _session(facts: ImageFacts, *questions: str, lang: str = "en") -> list[Any]:
    """The screening turn, then one turn per question, of one session over ``facts``."""
    engine = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    view = engine.start_session(facts, lang=lang)
    return [view.turns[0], *(engine.ask(view.session_id, q) for q in questions)]


def _roles(turn: Any) -> list[str]:
    return [o["style"]["role"] for o in turn.overlays]


# --- 1. the screening's negative and "is there consolidation?" ------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_screening_does_not_list_consolidation_as_absent_where_findings_may_be_it(
        make_facts: Callable[..., ImageFacts], lang: str) -> None:
    """Before: "The remaining lung fields show no consolidation, cavity, calcification or pleural effusion." beside a
    nodule and a strand that "is there consolidation?" says may be or may hide it."""
    screen, sign = _session(make_facts(), "is there consolidation?" if lang == "en" else "有实变吗", lang=lang)
    text = screen.answer.text
    if lang == "en":
        assert "The remaining lung fields show no cavity, calcification or pleural effusion." in text
        assert "no consolidation" not in text
        assert "A1 and A2 may be or may hide consolidation: the lesion map does not reliably tell" in text
        assert "cannot be judged" in sign.answer.text and "A1 (" in sign.answer.text and "A2 (" in sign.answer.text
    else:
        assert "其余肺野未见空洞、钙化、胸腔积液。" in text and "未见实变" not in text.replace("未见读为实变", "")
        assert "A1、A2可能是或遮挡了实变" in text
        assert "本片无法判断" in sign.answer.text
    # the same reason, in both answers: one source (checklists.alike_why)
    why = "the lesion map does not reliably tell consolidation from a nodule, mass or strand" if lang == "en" else \
        "病灶图不能可靠地区分"
    assert why in text and why in sign.answer.text


def test_with_no_finding_that_may_be_it_consolidation_stays_absent(make_facts: Callable[..., ImageFacts]) -> None:
    (screen,) = _session(replace(make_facts(), findings=()))
    assert "The remaining lung fields show no consolidation, cavity, calcification or pleural effusion." in \
        screen.answer.text
    assert "may be or may hide" not in screen.answer.text


# --- 2. "no cavity" on a lesion large enough to hold one --------------------------------------------------------------


def _nodule(facts: ImageFacts, diameter_mm: float, **fields: Any) -> ImageFacts:
    f1 = replace(facts.findings[0], diameter_mm=diameter_mm, attribute_confidence={"cavity": 0.98, "lobe": 0.98},
                 **fields)
    return replace(facts, findings=(f1, *facts.findings[1:]))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_cavity_on_a_large_lesion_is_not_seen_and_not_excluded(make_facts: Callable[..., ImageFacts],
                                                                   lang: str) -> None:
    """Before: "no cavity", and "cavity as stated, about 0.98 (stated flatly)", of an 18 mm nodule (4 of 7 cavities on
    the audited films were said so)."""
    questions = ("is there a cavity in A1?", "are you sure?") if lang == "en" else ("A1有空洞吗", "确定吗")
    _, density, sure = _session(_nodule(make_facts(), 18.0), *questions, lang=lang)
    if lang == "en":
        assert "no cavity seen (one cannot be excluded at this resolution)" in density.answer.text
        assert "cavity as stated, about 0.98 (hedged: no cavity is seen, but one cannot be excluded" in sure.answer.text
    else:
        assert "未见空洞(此分辨率下不能排除)" in density.answer.text
        assert "有无空洞约0.98(措辞保留" in sure.answer.text
    assert density.findings[0]["stated"]["cavity"] is False  # the page's table and the SR say no more than the text


def test_no_cavity_on_a_small_lesion_is_still_stated(make_facts: Callable[..., ImageFacts]) -> None:
    _, density, sure = _session(_nodule(make_facts(), 12.0), "is there a cavity in A1?", "are you sure?")
    assert "no cavity," in density.answer.text and "cannot be excluded" not in density.answer.text
    assert "cavity as stated, about 0.98 (stated flatly)" in sure.answer.text


@pytest.mark.parametrize(("diameter_mm", "status"), [(18.0, "uncertain"), (12.0, "no")])
def test_a_checklists_cavity_item_agrees_with_the_density_answer(make_facts: Callable[..., ImageFacts],
                                                                 diameter_mm: float, status: str) -> None:
    """Before: "cavity (no)" in the tuberculosis signs of a film whose 18 mm nodule's density answer now hedges it."""
    _, turn = _session(_nodule(make_facts(with_f2=False), diameter_mm), "could this be tuberculosis?")
    item = next(i for i in turn.checklist["items"] if i["sign"] == "cavity")
    assert item["status"] == status


def test_the_cavity_rule_is_the_findings_layers(make_facts: Callable[..., ImageFacts]) -> None:
    from orchestrator.findings.calibration import CAVITY_UNEXCLUDED_MM, cavity_unexcluded

    f1 = make_facts().findings[0]
    assert cavity_unexcluded(replace(f1, diameter_mm=CAVITY_UNEXCLUDED_MM))
    assert not cavity_unexcluded(replace(f1, diameter_mm=CAVITY_UNEXCLUDED_MM - 0.1))
    assert not cavity_unexcluded(replace(f1, diameter_mm=30.0, density=replace(f1.density, cavity=True)))
    assert not cavity_unexcluded(replace(f1, diameter_mm=30.0, kind="effusion"))  # fluid's contents are not read


# --- 3. the lobe where lobes overlap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_how_sure_of_the_lobe_agrees_with_the_location_answer(make_facts: Callable[..., ImageFacts], lang: str) -> None:
    """Before: "its lobe, about 0.98 (stated flatly)" where "where is A1?" said the lobe is an estimate."""
    questions = ("where is A1?", "how sure are you about A1?") if lang == "en" else ("A1在哪", "A1有多大把握")
    _, where, sure = _session(_nodule(make_facts(), 12.0, lobe_overlap=("RLL",)), *questions, lang=lang)
    if lang == "en":
        assert "the lobe is an estimate; a lateral view would settle it" in where.answer.text
        assert ("its lobe, about 0.98 (hedged: that is the chance that it lies in the right middle lobe or the right "
                "lower lobe, which overlap here in projection, so the lobe named is an estimate; a lateral view would "
                "settle it)") in sure.answer.text
    else:
        assert "所属肺叶为推断,侧位片可明确" in where.answer.text
        assert "所在肺叶约0.98(措辞保留:这是位于右肺中叶或右肺下叶的概率" in sure.answer.text


def test_a_lobe_no_other_overlaps_is_stated_flatly(make_facts: Callable[..., ImageFacts]) -> None:
    _, sure = _session(_nodule(make_facts(), 12.0), "how sure are you about A1?")
    assert "its lobe, about 0.98 (stated flatly)" in sure.answer.text


# --- 4. a consolidation's margin -------------------------------------------------------------------------------------


def _consolidation(facts: ImageFacts) -> ImageFacts:
    f1 = facts.findings[0]
    spicules = (*f1.spicules, Spicule(11, 9.0, (140.0, 251.0), (138.0, 238.0)))
    con = replace(f1, kind="consolidation", shape="oval", diameter_mm=40.0, longest_mm=52.0, shortest_mm=31.0,
                  margin="spiculated", spicules=spicules, attribute_confidence={"margin": 0.9})
    return replace(facts, findings=(con, *facts.findings[1:]))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_consolidation_is_never_spiculated_nor_drawn_with_spicules(make_facts: Callable[..., ImageFacts],
                                                                      lang: str) -> None:
    """Before (var case_000306 A4): "the margin is irregular (spiculated); 7 spicules, 3.8-25.7 mm long", 7 spicules
    drawn, and "margins: A4 spiculated" when compared."""
    questions = ("describe A1's margin", "compare A1 and A2") if lang == "en" else ("A1边缘怎么样", "比较A1和A2")
    _, margin, compare = _session(_consolidation(make_facts()), *questions, lang=lang)
    if lang == "en":
        assert "A1: the margin is ill-defined" in margin.answer.text
        assert "spiculated" not in margin.answer.text and "4 spicules" not in margin.answer.text
        assert "margins: A1 ill-defined" in compare.answer.text and "spiculated" not in compare.answer.text
    else:
        assert "A1边缘模糊" in margin.answer.text and "毛刺状" not in margin.answer.text
        assert "见4条毛刺" not in margin.answer.text and "切迹" not in margin.answer.text.split("。")[0]
        assert "毛刺状" not in compare.answer.text
    assert "spicule_stroke" not in _roles(margin) and "notch_marker" not in _roles(margin)
    row = margin.findings[0]
    assert (row["margin"], row["spicules"], row["notches_clock"]) == ("ill_defined", 0, [])
    assert [r["margin"] for r in compare.answer.sections[0]["rows"]][0] == "ill_defined"


def test_a_nodules_spicules_are_still_named_and_drawn(make_facts: Callable[..., ImageFacts]) -> None:
    _, margin = _session(make_facts(), "describe A1's margin")
    assert "the margin is irregular (spiculated)" in margin.answer.text and "3 spicules" in margin.answer.text
    assert _roles(margin).count("spicule_stroke") == 3


# --- 5. effusion questions -------------------------------------------------------------------------------------------


def _effusion(facts: ImageFacts) -> ImageFacts:
    f2 = facts.findings[1]
    fluid = replace(f2, kind="effusion", shape="oval", side="right", lobe="RLL", zone="lower", band="outer",
                    center_px=(110.0, 390.0), bbox_px=(70.0, 360.0, 150.0, 420.0),
                    polygon_px=((70.0, 360.0), (150.0, 372.0), (150.0, 420.0), (70.0, 420.0)), longest_mm=56.0,
                    shortest_mm=42.0, diameter_mm=48.0, area_mm2=1800.0, pleural_contact=True,
                    distance_to_pleura_mm=0.0, distance_to_diaphragm_mm=0.0, hilum=None, confidence=0.95)
    angles = tuple(replace(c, state="blunted") if c.side == "right" else c for c in facts.anatomy.costophrenic)
    return replace(facts, findings=(fluid,), anatomy=replace(facts.anatomy, costophrenic=angles))


@pytest.mark.parametrize(("questions", "lang"), [
    (("how big is the effusion?", "how high does it reach?", "how far up does it go?"), "en"),
    (("它到哪个高度", "它有多高"), "zh"),
])
def test_how_high_an_effusion_reaches_is_its_height_not_the_hilum_distance(
        make_facts: Callable[..., ImageFacts], questions: tuple[str, ...], lang: str) -> None:
    """Before: "how high does it reach?" gave the centre's distance to the hilum and "no soft-tissue band connects it
    to the hilum; bronchial cut-off cannot be judged"."""
    turns = _session(_effusion(make_facts()), *questions, lang=lang)[1:]
    for turn in turns:
        assert turn.intent == "size", turn.answer.text
        text = turn.answer.text
        assert ("about 42 mm up from the right costophrenic angle (18% of the right hemithorax's height)" in text
                if lang == "en" else "自右肋膈角向上约42 mm,约占右侧胸腔高度的18%" in text)
        assert "hilum" not in text and "肺门" not in text
        assert [m["kind"] for m in turn.measurements if m["kind"] == "effusion_height"] == ["effusion_height"]


@pytest.mark.parametrize(("question", "lang"), [("is there a meniscus sign?", "en"), ("有半月征吗", "zh")])
def test_a_meniscus_sign_is_answered_from_the_effusions_upper_border(
        make_facts: Callable[..., ImageFacts], question: str, lang: str) -> None:
    """Before: out of scope, though the margin answer says the effusion's "upper border is the fluid's meniscus"."""
    _, turn = _session(_effusion(make_facts()), question, lang=lang)
    assert turn.intent == "assess_anatomy" and turn.referenced_anchor_ids[:1] == ("A1",)
    text = turn.answer.text
    if lang == "en":
        assert text.startswith("Meniscus sign: cannot be judged from this film.")
        assert "its upper border is taken as the fluid's meniscus, reaching about 42 mm up from the right " \
            "costophrenic angle" in text
        assert "does not trace that border's curve" in text and "a frontal film grades an effusion only roughly" in text
    else:
        assert text.startswith("半月征:本片无法判断。") and "上缘按液体的弧形边界读取" in text
    assert [m["kind"] for m in turn.measurements] == ["effusion_height"]


def test_no_meniscus_where_no_effusion_was_found(make_facts: Callable[..., ImageFacts]) -> None:
    _, turn = _session(make_facts(), "is there a meniscus sign?")
    assert turn.answer.text.startswith("Meniscus sign: no.") and "no effusion-like opacity was found" in turn.answer.text


@pytest.mark.parametrize(("question", "intent"), [
    ("how high does it reach?", "size"), ("what level does it reach?", "size"), ("它到哪个高度", "size"),
    ("does it reach the hilum?", "measure_relation"), ("how high above the diaphragm is A1?", "measure_relation"),
    ("is there a meniscus sign?", "assess_anatomy"), ("what is a meniscus sign?", "explain_term"),
])
def test_effusion_questions_are_parsed_as_asked(question: str, intent: str) -> None:
    assert parse(question).intent == intent


# --- 6. what is stated is drawn --------------------------------------------------------------------------------------


def _drawn(facts: ImageFacts) -> ImageFacts:
    f1 = replace(facts.findings[0], pleura_px=((128.0, 260.0), (108.0, 260.0)),
                 diaphragm_px=((140.0, 272.0), (140.0, 357.7)))
    angles = (CostophrenicAngle("right", (80.0, 420.0), 35.0, "sharp", (80.0, 380.0), (120.0, 400.0)),
              CostophrenicAngle("left", (430.0, 425.0), 38.0, "sharp", (430.0, 385.0), (390.0, 405.0)))
    anatomy = replace(facts.anatomy, costophrenic=angles, heart_span_px=((190.0, 300.0), (390.0, 300.0)),
                      thorax_span_px=((40.0, 350.0), (468.6, 350.0)))
    return replace(facts, findings=(f1, *facts.findings[1:]), anatomy=anatomy)


@pytest.mark.parametrize(("question", "ends", "label"), [
    ("how far is A1 from the pleura?", [[128.0, 260.0], [108.0, 260.0]], "1.4 cm"),
    ("how far is A1 from the diaphragm?", [[140.0, 272.0], [140.0, 357.7]], "6.0 cm"),
])
def test_a_distance_to_the_pleura_or_the_diaphragm_is_drawn(make_facts: Callable[..., ImageFacts], question: str,
                                                             ends: list[list[float]], label: str) -> None:
    """Before: the distance was stated with no line (the hilum's and the heart's got one)."""
    _, turn = _session(_drawn(make_facts()), question)
    line = next(o for o in turn.overlays if o["style"]["role"] == "measurement_line")
    assert line["points"] == ends and line["label"] == label and line["anchor_id"] == "A1"
    assert turn.measurements[0]["from_px"] == ends[0] and turn.measurements[0]["to_px"] == ends[1]


def test_facts_without_the_ends_draw_no_line(make_facts: Callable[..., ImageFacts]) -> None:
    _, turn = _session(make_facts(), "how far is A1 from the pleura?")
    assert "measurement_line" not in _roles(turn) and "from_px" not in turn.measurements[0]


@pytest.mark.parametrize("question", ["what is the cardiothoracic ratio?", "is the heart enlarged?"])
def test_the_cardiothoracic_ratio_draws_its_two_widths(make_facts: Callable[..., ImageFacts], question: str) -> None:
    """Before: a dot on the heart only."""
    _, turn = _session(_drawn(make_facts()), question)
    lines = [o for o in turn.overlays if o["style"]["role"] == "measurement_line"]
    assert [(o["points"], o["label"], o["measurements"]["of"]) for o in lines] == [
        ([[190.0, 300.0], [390.0, 300.0]], "14.0 cm", "heart"), ([[40.0, 350.0], [468.6, 350.0]], "30.0 cm", "chest")]
    assert [(m["kind"], m["of"], m["mm"]) for m in turn.measurements if m["kind"] == "width"] == [
        ("width", "heart", 140.0), ("width", "chest", 300.0)]


def test_a_costophrenic_angle_draws_its_arms(make_facts: Callable[..., ImageFacts]) -> None:
    """Before: a dot at the angle, or nothing ("how are the costophrenic angles?")."""
    _, one, both = _session(_drawn(make_facts()), "is the right costophrenic angle sharp?",
                            "how are the costophrenic angles?")
    rays = [o for o in one.overlays if o["style"]["role"] == "angle_ray"]
    assert [(o["points"], o["label"]) for o in rays] == [([[80.0, 380.0], [80.0, 420.0], [120.0, 400.0]], "35°")]
    assert [o["label"] for o in both.overlays if o["style"]["role"] == "angle_ray"] == ["35°", "38°"]


def test_an_angle_blunted_by_fluid_draws_no_arms(make_facts: Callable[..., ImageFacts]) -> None:
    """Its outline's degrees are not stated ("an effusion-like opacity lies in the recess"): no arms are drawn."""
    facts = _drawn(make_facts())
    angles = tuple(replace(c, state="blunted") if c.side == "right" else c for c in facts.anatomy.costophrenic)
    _, turn = _session(replace(facts, anatomy=replace(facts.anatomy, costophrenic=angles)),
                       "is the right costophrenic angle sharp?")
    assert "angle_ray" not in _roles(turn)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_notches_at_one_clock_position_are_named_and_drawn_once(make_facts: Callable[..., ImageFacts],
                                                                lang: str) -> None:
    """Before (v2 case_000414): "15 notches at 1 o'clock, 1 o'clock, 2 o'clock, 2 o'clock, ..." and 14 markers."""
    facts = make_facts()
    f1 = replace(facts.findings[0], margin="lobulated", spicules=(),
                 notches=(Notch(10, 1.2, (134.0, 253.0)), Notch(10, 0.6, (133.0, 255.0)), Notch(3, 1.0, (148.5, 260.0)),
                          Notch(3, 1.4, (148.0, 262.0))))
    _, turn = _session(replace(facts, findings=(f1, facts.findings[1])),
                       "describe A1's margin" if lang == "en" else "A1边缘怎么样", lang=lang)
    assert ("2 notches at 10 o'clock, 3 o'clock" in turn.answer.text if lang == "en" else
            "见2处切迹,位于10点、3点方向" in turn.answer.text)
    markers = [o for o in turn.overlays if o["style"]["role"] == "notch_marker"]
    assert [(o["label"], o["at"]) for o in markers] == [("10", [134.0, 253.0]), ("3", [148.0, 262.0])]  # the deepest
    assert turn.findings[0]["notches_clock"] == [10, 3]


@pytest.mark.parametrize(("questions", "lang"), [
    (("is there a cavity in A1?", "could this be tuberculosis?"), "en"),
    (("A1有空洞吗", "符合肺结核吗?"), "zh"),
])
def test_the_hedged_cavity_passes_the_narration_fact_guard(make_facts: Callable[..., ImageFacts],
                                                            questions: tuple[str, ...], lang: str) -> None:
    """The fact guard read the cavity's status from its probability alone ("no"), and "此分辨率下不能排除" as no
    hedge: it rejected the composer's own hedged text and the checklist's "cavity (uncertain)"."""
    from orchestrator.narration.guard import check_narration

    for turn in _session(_nodule(make_facts(), 18.0), *questions, lang=lang)[1:]:
        verdict = check_narration(turn.answer.text, turn.facts(), turn.answer.text)
        assert verdict.ok, verdict.violations


@pytest.mark.parametrize(("diameter_mm", "said"), [
    (12.0, "A1 shows no cavity, so it has no wall to measure."),
    (18.0, "A1: no cavity seen (one cannot be excluded at this resolution), so no wall is measured"),
])
def test_a_wall_asked_of_a_lesion_read_without_a_cavity(make_facts: Callable[..., ImageFacts], diameter_mm: float,
                                                        said: str) -> None:
    """Before: "shows no cavity, so it has no wall to measure" of any lesion read without one."""
    _, turn = _session(_nodule(make_facts(), diameter_mm), "A1, how thick is its wall?")
    assert said in turn.answer.text
