"""Dense objects set aside from the findings (``ImageFacts.objects``, ``orchestrator/findings/external_objects.py``):
the screening answer says where they lie and why they are not counted, never what they are; a film without them reads
as before, and the facts round-trip with and without them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.facts import DenseObject, ImageFacts, from_jsonable, to_jsonable
from tests.orchestrator.dialogue.conftest import scenario_facts

OBJECTS = (DenseObject((120.0, 150.0), (112.0, 142.0, 128.0, 158.0), 10.2, "right", "upper"),
           DenseObject((380.0, 300.0), (372.0, 292.0, 388.0, 308.0), 9.8, "left", "lower"))


def _with_objects(n: int = 2) -> ImageFacts:
    return replace(scenario_facts(), objects=OBJECTS[:n])


@pytest.mark.parametrize(("question", "lang"), [("anything abnormal?", "en"), ("有什么异常吗", "zh")])
def test_the_screening_answer_sets_the_objects_aside_in_words(question: str, lang: str,
                                                              ask: Callable[..., Any]) -> None:
    turn = ask(question, lang=lang, facts=_with_objects())
    kinds = [s["kind"] for s in turn.answer.sections]
    assert kinds.index("findings") + 1 == kinds.index("dense_objects")
    text = next(s["text"] for s in turn.answer.sections if s["kind"] == "dense_objects")
    if lang == "en":
        assert text.startswith("Set aside, not counted as findings: 2 small, very dense, sharp-edged objects")
        assert "(right upper zone; left lower zone)" in text and "does not identify devices" in text
    else:
        assert text.startswith("另见2处") and "右上肺野;左下肺野" in text and "未计为病灶" in text and "不识别器械" in text
    assert len(turn.findings) == 2  # the findings are the SCENARIO's, unchanged


def test_one_object_is_one_and_a_film_without_reads_as_before(ask: Callable[..., Any]) -> None:
    text = ask("anything abnormal?", facts=_with_objects(1)).answer.text
    assert "1 small, very dense, sharp-edged object (right upper zone)" in text
    before = ask("anything abnormal?", facts=scenario_facts())
    assert "dense_objects" not in [s["kind"] for s in before.answer.sections]


def test_a_follow_up_on_a_finding_does_not_repeat_them(ask: Callable[..., Any]) -> None:
    kinds = [s["kind"] for s in ask("is the margin of F1 regular?", facts=_with_objects()).answer.sections]
    assert "dense_objects" not in kinds


def test_the_facts_round_trip_with_and_without_objects() -> None:
    facts = _with_objects()
    assert from_jsonable(ImageFacts, to_jsonable(facts)) == facts
    stored_before = to_jsonable(scenario_facts())
    del stored_before["objects"]  # facts stored before objects existed still load
    assert from_jsonable(ImageFacts, stored_before).objects == ()


def test_the_screening_picture_draws_each_object_where_it_lies(ask: Callable[..., Any]) -> None:
    drawn = [o for o in ask("anything abnormal?", facts=_with_objects()).overlays if o["style"]["role"] == "dense_object"]
    assert [o["points"] for o in drawn] == [[[112.0, 142.0], [128.0, 142.0], [128.0, 158.0], [112.0, 158.0]],
                                            [[372.0, 292.0], [388.0, 292.0], [388.0, 308.0], [372.0, 308.0]]]
    assert all(o["anchor_id"] is None and o["type"] == "polygon" and o["style"]["dash"] for o in drawn)
    plain = ask("anything abnormal?").overlays
    assert not [o for o in plain if o["style"]["role"] == "dense_object"]


def test_the_session_report_lists_the_objects_set_aside() -> None:
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.settings import Settings
    from tests.orchestrator.dialogue.conftest import NoEncoderDouble

    engine = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    with_objects = engine.start_session(_with_objects(), lang="en").session_id
    report = engine.report(with_objects)
    assert [(o["side"], o["zone"], o["bbox_px"]) for o in report["objects_set_aside"]] == [
        ("right", "upper", [112.0, 142.0, 128.0, 158.0]), ("left", "lower", [372.0, 292.0, 388.0, 308.0])]
    assert len(report["findings"]) == 2
    assert engine.report(engine.start_session(scenario_facts(), lang="en").session_id)["objects_set_aside"] == []


LINE = DenseObject((160.0, 120.0), (150.0, 90.0, 170.0, 150.0), 12.4, "right", "upper", look="line")


@pytest.mark.parametrize(("question", "lang"), [("anything abnormal?", "en"), ("有什么异常吗", "zh")])
def test_a_line_is_set_aside_by_its_own_look(question: str, lang: str, ask: Callable[..., Any]) -> None:
    """A catheter or tube is not a small dense object: the answer counts it by its own look, with where it lies, and
    names what such a band may be as examples, never as what it is."""
    turn = ask(question, lang=lang, facts=replace(scenario_facts(), objects=(OBJECTS[0], LINE, OBJECTS[1])))
    text = next(s["text"] for s in turn.answer.sections if s["kind"] == "dense_objects")
    if lang == "en":
        assert text.startswith("Set aside, not counted as findings: 2 small, very dense, sharp-edged objects (right "
                               "upper zone; left lower zone) and 1 long, thin band of even width (right upper zone) over "
                               "lung of no added density")
        assert "(an ECG electrode, a clip, a wire, a catheter, a tube, a lead)" in text
        assert "or a lateral view for a line or tube in place, settles" in text
    else:
        assert text.startswith("另见2处小而极致密、边缘锐利的物体(右上肺野;左下肺野)及1条细长、粗细均匀的带状影(右上肺野)")
        assert "导管" in text and "不识别器械" in text and "体内置管可加拍侧位片" in text
    only_line = ask(question, lang=lang, facts=replace(scenario_facts(), objects=(LINE,))).answer.text
    assert ("1 long, thin band of even width (right upper zone)" in only_line and "sharp-edged" not in only_line
            and "ECG electrode" not in only_line) if lang == "en" else ("1条细长" in only_line and "心电电极" not in only_line)


CAN = DenseObject((380.0, 90.0), (355.0, 65.0, 405.0, 120.0), 44.0, "left", "upper", look="large")


@pytest.mark.parametrize(("question", "lang"), [("anything abnormal?", "en"), ("有什么异常吗", "zh")])
def test_a_large_dense_object_is_not_called_small_and_a_lateral_view_settles_one_in_place(
        question: str, lang: str, ask: Callable[..., Any]) -> None:
    """A generator's can is not a small object: the answer counts it as large, names what such an object may be as
    examples (a generator, a port), and, since an implanted one is not taken off for a repeat film, says a lateral
    view settles whether a lesion lies beneath; with a line too, both in one phrase."""
    only_can = ask(question, lang=lang, facts=replace(scenario_facts(), objects=(CAN,)))
    text = next(s["text"] for s in only_can.answer.sections if s["kind"] == "dense_objects")
    if lang == "en":
        assert text.startswith("Set aside, not counted as findings: 1 large, very dense, sharp-edged object (left "
                               "upper zone) over lung of no added density")
        assert "small" not in text and "(a pacemaker's or defibrillator's generator, a port)" in text
        assert "or a lateral view for an implanted generator in place, settles" in text
    else:
        assert text.startswith("另见1处大而极致密、边缘锐利的物体(左上肺野)") and "小而" not in text
        assert "起搏器或除颤器的脉冲发生器" in text and "体内植入装置可加拍侧位片" in text
    both = ask(question, lang=lang, facts=replace(scenario_facts(), objects=(CAN, LINE))).answer.text
    assert ("or a lateral view for a line, a tube or an implanted generator in place" in both if lang == "en"
            else "体内置管或植入装置可加拍侧位片" in both)


@pytest.mark.parametrize(("question", "lang", "look"), [
    ("is there a central line?", "en", "line"), ("有没有深静脉置管", "zh", "line"),
    ("is there a pacemaker?", "en", "large"), ("有起搏器吗", "zh", "large")])
def test_a_device_question_says_where_an_object_of_its_look_was_set_aside(
        question: str, lang: str, look: str, ask: Callable[..., Any]) -> None:
    obj, said_en, said_zh = {
        "line": (LINE, "1 long, thin band of even width (right upper zone)", "1条细长、粗细均匀的带状影(右上肺野)"),
        "large": (CAN, "1 large, very dense, sharp-edged object (left upper zone)", "1处大而极致密、边缘锐利的物体(左上肺野)"),
    }[look]
    text = ask(question, lang=lang, facts=replace(scenario_facts(), objects=(obj,))).answer.text
    if lang == "en":
        assert "can say neither yes nor no" in text
        assert f"{said_en} was set aside from the findings; it may be" in text
    else:
        assert "既不能说有,也不能说没有" in text and f"本片另有{said_zh}未计为病灶" in text


def test_an_object_stored_before_lines_were_set_aside_reads_as_dense() -> None:
    facts = replace(scenario_facts(), objects=(OBJECTS[0], LINE, CAN))
    assert from_jsonable(ImageFacts, to_jsonable(facts)) == facts
    stored_before = to_jsonable(_with_objects(1))
    del stored_before["objects"][0]["look"]
    assert from_jsonable(ImageFacts, stored_before).objects[0].look == "dense"
