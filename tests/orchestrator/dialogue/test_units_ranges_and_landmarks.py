"""An audit's questions of sizes, units, counts and the film's own structures (SCENARIO-like facts, conftest):

1. a size range ("between 8 and 15 mm?", "1-2 cm?", "是不是在8到15毫米之间" read as "over 15 mm") is checked against both
   bounds with the threshold's own yes / no / cannot settle;
2. a unit asked ("in inches?", "结节多少英寸", "in pixels?", "... in cm?") leads the answer, with the mm; a threshold in
   pixels is converted with the film's spacing, and said so;
3. "How many are in the left lung?" counts the findings there (a sign checklist before); "list them" / "列出来" lists them;
4. "which is nearer the pleura, A1 or A2?" / "哪个离胸膜更近" leads with the two distances to the pleura;
5. "is one lung bigger than the other?" compares the lung fields' outlines, or says it does not compare them here;
6. "are the costophrenic angles the same?": two sharp angles 36° apart are said to differ, and by how much;
7. a distance to an anatomy anchor asked by its id or its name is measured to it (the hilum's distance before), or said
   not to be measurable;
8. "and A2?" after "how far is A1 from the right hilum?" says that hilum is A2's other side's, with its own's distance;
9. the trachea is placed in words where the maps outline it, never by pixel coordinates, and never said untraced;
10. "用英文回答:A1多大?" answers the question, in the language asked (only the language before).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from orchestrator.contracts.lesion_reader import Frame
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.parser import parse
from orchestrator.facts import AnatomyRegion, CostophrenicAngle, ImageFacts
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.conftest import NoEncoderDouble, scenario_facts


def _turns(facts: ImageFacts, *questions: str, lang: str = "en", frame: Frame | None = None) -> list[Any]:
    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.start_session(facts, lang=lang, frame=frame).session_id
    return [eng.ask(sid, q) for q in questions]


def _last(facts: ImageFacts, *questions: str, lang: str = "en", frame: Frame | None = None) -> Any:
    return _turns(facts, *questions, lang=lang, frame=frame)[-1]


def _box(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _with_regions(facts: ImageFacts, *regions: AnatomyRegion) -> ImageFacts:
    return dataclasses.replace(facts, anatomy=dataclasses.replace(
        facts.anatomy, regions=(*facts.anatomy.regions, *regions)))


# --- 1. ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "low", "high"), [
    ("is the nodule between 8 and 15 mm?", 8.0, 15.0), ("is it 1-2 cm?", 10.0, 20.0),
    ("是不是在8到15毫米之间", 8.0, 15.0), ("is A1 between 0.8 cm and 1.5 cm?", 8.0, 15.0), ("A1在1到2厘米之间吗", 10.0, 20.0),
])
def test_a_size_range_is_read_as_its_two_bounds(question: str, low: float, high: float) -> None:
    q = parse(question)
    assert (q.intent, q.size_op, q.size_mm, q.size_to_mm) == ("size", "between", low, high)


@pytest.mark.parametrize(("question", "lang", "said"), [
    # F1's longest diameter is 13.1 mm
    ("is A1 between 8 and 15 mm?", "en", "Yes: its longest diameter is 13.1 mm, between 8.0 and 15.0 mm."),
    ("is A1 1-2 cm?", "en", "Yes: its longest diameter is 13.1 mm, between 10.0 and 20.0 mm."),
    ("A1是不是在8到15毫米之间", "zh", "是:最长径13.1 mm,在8.0–15.0 mm之间。"),
    ("is A1 between 15 and 30 mm?", "en", "No: its longest diameter is 13.1 mm, less than 15.0 mm, so not between 15.0 "
                                          "and 30.0 mm."),
    ("is A1 between 5 and 10 mm?", "en", "No: its longest diameter is 13.1 mm, more than 10.0 mm"),
    # within 10% of a bound the film cannot settle it
    ("is A1 between 12 and 20 mm?", "en", "Its longest diameter, 13.1 mm, is within measurement error of 12.0 mm, so "
                                          "this film cannot settle whether it is between 12.0 and 20.0 mm."),
])
def test_a_size_range_is_answered_against_both_bounds(question: str, lang: str, said: str) -> None:
    """"是不是在8到15毫米之间" had been "无法判断是否超过15.0 mm"; "between 8 and 15 mm?" and "1-2 cm?" had given the sizes
    with no yes or no."""
    turn = _last(scenario_facts(), question, lang=lang)
    assert turn.intent == "size" and turn.answer.text.startswith(said)


# --- 2. units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "unit"), [
    ("how big is it in inches?", "inch"), ("结节多少英寸", "inch"), ("in pixels?", "px"), ("in inches?", "inch"),
    ("how far is the nodule from the chest wall in cm?", "cm"), ("A1离胸膜多少厘米", "cm"), ("how big is A1?", None),
    ("像素间距是多少?", None),
])
def test_the_unit_asked_is_read(question: str, unit: str | None) -> None:
    assert parse(question).unit == unit


def test_a_size_in_inches_leads_with_inches_then_mm() -> None:
    en = _last(scenario_facts(), "how big is A1 in inches?")
    assert en.intent == "size"
    assert en.answer.text.startswith("In inches (1 in = 25.4 mm): A1 about 0.47 in (12.0 mm) across, longest 0.52 in "
                                     "(13.1 mm).")
    assert "equivalent diameter 12.0 mm" in en.answer.text
    zh = _last(scenario_facts(), "A1多少英寸", lang="zh")
    assert zh.intent == "size" and zh.answer.text.startswith("按英寸(1英寸=25.4 mm):A1等效直径约0.47 in(12.0 mm)")


def test_in_pixels_says_which_pixels() -> None:
    """"In pixels?" after a size was out of scope: the working image's pixels where the session has no upload's frame,
    the uploaded film's where it has."""
    turn = _last(scenario_facts(), "how big is A1?", "in pixels?")
    assert turn.intent == "size"
    assert turn.answer.text.startswith("In pixels of Hilum's 512 × 512 working image, at 0.700 mm per pixel")
    assert "A1 about 17 px (12.0 mm) across, longest 19 px (13.1 mm)" in turn.answer.text
    frame = Frame((2048, 2048), (512, 512), 4.0, (0.0, 0.0))
    turn = _last(scenario_facts(), "how big is A1?", "in pixels?", frame=frame)
    assert turn.answer.text.startswith("In pixels of the uploaded film, 2048 × 2048, at 0.175 mm per pixel: A1 about 69 px "
                                       "(12.0 mm) across")


def test_a_threshold_in_pixels_is_converted_with_the_spacing() -> None:
    """"Is it bigger than 20 px?" had been read as a place question."""
    q = parse("is A1 bigger than 10 px?")
    assert (q.intent, q.size_op, q.size_mm, q.threshold_px) == ("size", "gt", 10.0, True)
    turn = _last(scenario_facts(), "is A1 bigger than 10 px?")
    assert turn.answer.text.startswith("The pixels asked are converted with the film's pixel spacing: 10 px is about 7.0 mm")
    assert "Yes: its longest diameter is 13.1 mm, more than 7.0 mm." in turn.answer.text


def test_a_distance_asked_in_cm_is_given_in_cm() -> None:
    """"How far is the nodule from the chest wall in cm?" answered "14.0 mm" only."""
    turn = _last(scenario_facts(), "how far is A1 from the chest wall in cm?")
    assert turn.intent == "measure_relation"
    assert turn.answer.text.startswith("In centimetres: A1 to the pleura about 1.4 cm (14.0 mm).")
    assert "A1's edge is about 14.0 mm from the pleura." in turn.answer.text


# --- 3. counts and lists ------------------------------------------------------------------------


def test_how_many_in_a_lung_counts_the_findings_there() -> None:
    q = parse("How many are in the left lung?")
    assert (q.intent, q.lesion_side, q.checklist) == ("screen", "left", None)
    turn = _last(scenario_facts(), "How many are in the left lung?")
    assert turn.checklist is None and "In the left lung: 1 candidate region: A2" in turn.answer.text
    assert "A1:" not in turn.answer.text


@pytest.mark.parametrize(("question", "lang"), [("list them", "en"), ("列出来", "zh"), ("can you list the findings?", "en")])
def test_list_them_lists_the_findings(question: str, lang: str) -> None:
    """"list them" asked which finding was meant; "列出来" was out of scope."""
    turn = _last(scenario_facts(), question, lang=lang)
    assert turn.intent == "screen" and turn.clarification is None
    text = turn.answer.text
    assert "A1" in text and "A2" in text and ("right middle lobe" in text or "右肺中叶" in text)
    assert ("about 1.2 cm across (12.0 mm)" in text) or ("直径约1.2 cm(12.0 mm)" in text)


def test_list_them_after_a_count_lists_what_was_counted() -> None:
    turn = _last(scenario_facts(), "How many are in the left lung?", "list them")
    assert turn.intent == "screen" and turn.clarification is None
    assert turn.answer.text.startswith("In the left lung: 1 candidate region: A2:") and "A1:" not in turn.answer.text


# --- 4. nearer a landmark -----------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "lead"), [
    ("Which is nearer the pleura, A1 or A2?", "en", "A1 is the closer to the pleura (A1 14.0 mm, A2 20.0 mm)."),
    ("which is closer to the pleura?", "en", "A1 is the closer to the pleura (A1 14.0 mm, A2 20.0 mm)."),
    ("哪个离胸膜更近", "zh", "A1离胸膜较近(至胸膜:A1 14.0 mm、A2 20.0 mm)。"),
])
def test_which_is_nearer_the_pleura_compares_the_distances_to_it(question: str, lang: str, lead: str) -> None:
    turn = _last(scenario_facts(), question, lang=lang)
    assert turn.intent == "compare" and turn.answer.text.startswith(lead)


# --- 5. the lungs' sizes ------------------------------------------------------------------------


def _with_lungs(facts: ImageFacts) -> ImageFacts:
    return _with_regions(facts, AnatomyRegion("lung_right", (150.0, 240.0), (60.0, 60.0, 240.0, 420.0),
                                              _box(60.0, 60.0, 240.0, 420.0)),
                         AnatomyRegion("lung_left", (370.0, 230.0), (290.0, 60.0, 450.0, 400.0),
                                       _box(290.0, 60.0, 450.0, 400.0)))


def test_is_one_lung_bigger_compares_the_lung_fields() -> None:
    """It asked which finding was meant."""
    q = parse("Is one lung bigger than the other?")
    assert q.intent == "assess_anatomy" and q.lungs_sized and not q.references
    turn = _last(_with_lungs(scenario_facts()), "Is one lung bigger than the other?")
    assert turn.clarification is None
    assert turn.answer.text.startswith("By projected area the right lung field is the larger, by about 16%: the right "
                                       "lung field about 318 cm² (25.2 cm tall), the left about 267 cm² (23.8 cm tall).")
    assert "not the lungs' volume" in turn.answer.text
    zh = _last(_with_lungs(scenario_facts()), "两侧肺一样大吗", lang="zh")
    assert zh.answer.text.startswith("按投影面积,右肺野较大(大约16%)")


def test_is_one_lung_bigger_without_outlines_says_what_it_can() -> None:
    turn = _last(scenario_facts(), "Is one lung bigger than the other?")
    assert turn.clarification is None
    assert turn.answer.text.startswith("Hilum does not compare the lungs' sizes on this film")
    assert "compare the two sides" in turn.answer.text


# --- 6. the costophrenic angles compared --------------------------------------------------------


def _angles(right: float, left: float) -> ImageFacts:
    facts = scenario_facts()
    cps = (CostophrenicAngle("right", (80.0, 420.0), right, "sharp"), CostophrenicAngle("left", (430.0, 425.0), left, "sharp"))
    return dataclasses.replace(facts, anatomy=dataclasses.replace(facts.anatomy, costophrenic=cps))


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("are the costophrenic angles the same?", "en",
     "The two angles differ by about 36° (right about 11°, left about 47°): both read as sharp, but Hilum does not read "
     "what a difference between them means"),
    ("两侧肋膈角一样吗", "zh", "两侧肋膈角相差约36°(右侧约11°,左侧约47°):两侧均读作锐利,但两角相差的意义本系统不判读"),
])
def test_two_sharp_angles_far_apart_are_said_to_differ(question: str, lang: str, said: str) -> None:
    turn = _last(_angles(11.0, 47.0), question, lang=lang)
    assert turn.intent == "assess_anatomy" and turn.answer.text.startswith(said)


def test_two_close_angles_are_about_the_same() -> None:
    turn = _last(scenario_facts(), "are the costophrenic angles the same?")
    assert turn.answer.text.startswith("The two angles are about the same (right about 35°, left about 38°), both sharp.")


# --- 7. a distance to an anatomy anchor ---------------------------------------------------------


def test_a_distance_to_an_angle_asked_by_its_id_is_measured_to_it() -> None:
    """"How far is A1 from A5?" (A5 the right costophrenic angle) gave A1's distance to the right hilum."""
    shown, turn = _turns(scenario_facts(), "show me the right costophrenic angle", "how far is A1 from A5?")
    assert any(a["id"] == "A5" and a.get("name") == "costophrenic_right" for a in shown.anchors)
    assert turn.answer.text.startswith("A1's centre is about 12.0 cm (119.6 mm) from the right costophrenic angle (A5)")
    assert "its edge is about" in turn.answer.text and "hilum" not in turn.answer.text
    assert {m["to"] for m in turn.measurements} == {"A5"}


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("A1距离右侧肋膈角多远?", "zh", "A1中心至右肋膈角(A5)约12.0 cm(119.6 mm"),
    ("how far is A2 from the left costophrenic angle?", "en",
     "A2's centre is about 7.7 cm (76.8 mm) from the left costophrenic angle (A5)"),
])
def test_a_distance_to_an_angle_asked_by_its_name_is_measured_to_it(question: str, lang: str, said: str) -> None:
    turn = _last(scenario_facts(), question, lang=lang)
    assert turn.answer.text.startswith(said)
    assert "肺门" not in turn.answer.text and "hilum" not in turn.answer.text


def test_a_distance_to_an_angle_the_film_does_not_place_is_said_unmeasurable() -> None:
    facts = scenario_facts()
    facts = dataclasses.replace(facts, anatomy=dataclasses.replace(facts.anatomy, costophrenic=()))
    turn = _last(facts, "how far is A1 from the right costophrenic angle?")
    assert turn.answer.text.startswith("No position for the right costophrenic angle was established on this film, so "
                                       "A1's distance to it cannot be measured")
    assert not turn.measurements


def test_a_distance_to_the_heart_asked_by_its_id_is_measured_to_its_outline() -> None:
    facts = _with_regions(scenario_facts(), AnatomyRegion("heart", (260.0, 330.0), (200.0, 270.0, 340.0, 400.0),
                                                          _box(200.0, 270.0, 340.0, 400.0)))
    facts = dataclasses.replace(facts, anatomy=dataclasses.replace(
        facts.anatomy, regions=tuple(r for r in facts.anatomy.regions if not (r.name == "heart" and not r.polygon_px))))
    shown, turn = _turns(facts, "where is the heart?", "how far is A1 from A5?")
    assert any(a["id"] == "A5" and a.get("name") == "heart" for a in shown.anchors)
    assert re.match(r"A1's edge is about \d+\.\d mm from the heart border\.", turn.answer.text)
    assert "hilum" not in turn.answer.text and {m["to"] for m in turn.measurements} == {"A5"}


# --- 8. the other side's hilum ------------------------------------------------------------------


def test_and_a2_after_the_right_hilum_says_it_is_the_other_sides() -> None:
    """"and A2?" (A2 in the left lung) measured A2 to the right hilum without a word."""
    turn = _last(scenario_facts(), "how far is A1 from the right hilum?", "and A2?")
    text = turn.answer.text
    assert "from the right hilum (A3)" in text
    assert ("Note: A2 lies in the left lung, so the right hilum (A3) is the other side's hilum; its own, the left hilum "
            "(A4), is about 11.0 cm (110.0 mm) from its centre.") in text
    assert [m["to"] for m in turn.measurements if m["kind"] == "distance"] == ["A3", "A4"]
    zh = _last(scenario_facts(), "A1离右肺门多远", "A2呢", lang="zh")
    assert "注意:A2位于左肺,右肺门(A3)是对侧肺门;它同侧的左肺门(A4)距其中心约11.0 cm(110.0 mm)。" in zh.answer.text


def test_a_finding_measured_to_its_own_hilum_gets_no_note() -> None:
    turn = _last(scenario_facts(), "how far is A2 from the left hilum?")
    assert "other side's hilum" not in turn.answer.text


# --- 9. the trachea -----------------------------------------------------------------------------


def _with_trachea() -> ImageFacts:
    return _with_regions(scenario_facts(),
                         AnatomyRegion("trachea", (256.0, 130.0), (246.0, 60.0, 266.0, 200.0), _box(246.0, 60.0, 266.0, 200.0)),
                         AnatomyRegion("spine", (255.0, 300.0), (235.0, 40.0, 275.0, 500.0), _box(235.0, 40.0, 275.0, 500.0)))


def test_where_is_the_trachea_is_said_in_words() -> None:
    """"Where is the trachea?" answered "A7 (trachea) is at image position (245, 125)"."""
    turn = _last(_with_trachea(), "where is the trachea?")
    text = turn.answer.text
    assert text.startswith("A5 (trachea, outlined on the film) lies at about the midline (0.7 mm from the spine's centre "
                           "line), in the upper third of the lung fields' height.")
    assert "does not judge whether it is deviated" in text
    assert "image position" not in text and not re.search(r"\(\d+, \d+\)", text)


def test_show_me_the_trachea_does_not_say_it_is_untraced() -> None:
    """"Show me the trachea" said "Hilum does not trace the trachea" of the film whose maps outline it."""
    turn = _last(_with_trachea(), "show me the trachea")
    assert "does not trace" not in turn.answer.text
    assert turn.answer.text.startswith("The trachea (A5, outlined on the film) lies at about the midline")
    assert "A5" in turn.referenced_anchor_ids


def test_is_the_trachea_central_says_what_the_outline_shows() -> None:
    """"气管居中吗?" created the trachea's anchor, then said Hilum does not trace the trachea."""
    turn = _last(_with_trachea(), "气管居中吗?", lang="zh")
    assert "不追踪气管" not in turn.answer.text
    assert "本系统勾画了气管轮廓(A5),其中心位于中线附近(距脊柱中线约0.7 mm)" in turn.answer.text
    assert "但不判断气管是否移位" in turn.answer.text
    assert "A5" in turn.referenced_anchor_ids


# --- 10. a language asked with the question ----------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("用英文回答:A1多大?", "en", "A1: equivalent diameter 12.0 mm"),
    ("answer in Chinese: how big is A1?", "zh", "A1等效直径12.0 mm"),
    ("how big is A1? please answer in Chinese", "zh", "A1等效直径12.0 mm"),
])
def test_a_question_with_its_answer_language_is_answered_in_it(question: str, lang: str, said: str) -> None:
    """It answered only the language request ("Hilum answers in the language each question is asked in")."""
    q = parse(question)
    assert q.intent == "size" and q.answer_lang == lang
    turn = _last(scenario_facts(), question)
    assert turn.intent == "size" and turn.lang == lang and said in turn.answer.text
    assert parse("answer in English please").intent == "out_of_scope"  # the request alone is answered as before
