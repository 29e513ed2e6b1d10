"""An audit's findings on the comparison with an earlier film and on follow-ups in a session, each with what it got:

1. a growth stated in mm and % from an earlier reading that was only a "possibly" ("10.6 mm now, 5.6 mm on the earlier
   film (where the earlier film only possibly shows a lesion): larger by 5.0 mm (89%)");
2. change questions routed elsewhere ("与前片比较有什么变化?" compared A1 with A2, "变化大吗" was out of scope, "what's the
   interval change?" an unknown term, "by how much in mm?" the current size), and "show me where it was on the earlier
   film" drew only this film's outline;
3. the past tense of what the dialogue said ("go back to A1 — what was its size again?") refused as needing an earlier
   film;
4. "it" / "它" / "左侧呢" after a turn about an anatomy anchor asked "A1 or A2?", an anchor id of a hilum answered the
   costophrenic angles or "a comparison needs two findings";
5. "summarise the session" / "总结一下" / "write the report" dropped what the session had worked out.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.dialogue.anchors import screening_registry
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.interval_answer import interval_section
from orchestrator.dialogue.parser import parse
from orchestrator.dialogue.turn import Turn
from orchestrator.facts import AnatomyRegion, ImageFacts
from orchestrator.findings.interval import FindingChange, IntervalComparison
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.conftest import NoEncoderDouble, scenario_facts


def _engine() -> DialogueEngine:
    return DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]


def _turns(facts: ImageFacts, *questions: str, lang: str = "en",
           interval: IntervalComparison | None = None) -> list[Turn]:
    eng = _engine()
    sid = eng.start_session(facts, lang=lang, interval=interval).session_id
    return [eng.ask(sid, q) for q in questions]


def _comparison(facts: ImageFacts, *, uncertain: bool, here: bool = True, then_mm: float = 8.0) -> IntervalComparison:
    """F1 12 mm now, ``then_mm`` on the earlier film (``uncertain``: read there only as a "possibly"), 180 days before;
    ``here``: its earlier place carried onto this film (a comparison stored before that was kept has none)."""
    f = facts.findings[0]
    x0, y0, x1, y1 = f.bbox_px
    change = FindingChange(finding_id=f.id, earlier_id="F1", kind=f.kind, side=f.side, lobe=f.lobe, now_mm=12.0,
                           then_mm=then_mm, status="larger", earlier_bbox_px=(60.0, 200.0, 72.0, 212.0),
                           earlier_uncertain=uncertain,
                           earlier_bbox_here_px=(x0 + 3.0, y0 - 2.0, x1 - 3.0, y1 - 6.0) if here else None)
    return IntervalComparison(comparable=True, reason="", interval_days=180, sizes_from_file=True, changes=(change,))


# --- 1. a growth from an earlier reading that was only a "possibly" -----------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_size_change_is_stated_from_an_earlier_reading_that_was_only_a_possibly(lang: str) -> None:
    facts = scenario_facts()
    section, rows = interval_section(_comparison(facts, uncertain=True), screening_registry(facts), lang)
    text = section["text"]
    assert not re.search(r"[(（]\d+%[)）]", text) and "larger by" not in text and "增大4.0" not in text and "8.0 mm" not in text
    if lang == "en":
        assert "A1 (the nodule in the right middle lobe): seen on this film (12.0 mm); at its place the earlier film " \
               "only possibly shows a lesion, so whether it has grown, and by how much, cannot be measured from these " \
               "films (a reader comparing the two films, or CT, would settle it)." in text
    else:
        assert "以前的片子上该处仅可能为病灶,因此是否增大、增大多少无法由这两张片子测量(由阅片者对照两张片子,或CT可明确)" in text
    assert rows[0]["change_mm"] is None and rows[0]["doubling_days"] is None and rows[0]["earlier_uncertain"]
    # both readings definite: the numbers stay
    sure, sure_rows = interval_section(_comparison(facts, uncertain=False), screening_registry(facts), lang)
    assert ("larger by 4.0 mm (50%)" if lang == "en" else "增大4.0 mm(50%)") in sure["text"]
    assert sure_rows[0]["change_mm"] == 4.0


def test_a_possibly_earlier_reading_decides_no_growth_sign_and_by_how_much_says_why() -> None:
    facts = scenario_facts()
    turns = _turns(facts, "has the nodule grown?", "by how much in mm?",
                   "if this were early lung cancer, how many typical signs does it show?",
                   interval=_comparison(facts, uncertain=True))
    for t in turns[:2]:
        assert t.intent == "interval_change" and "cannot be measured from these films" in t.answer.text
        assert "larger by" not in t.answer.text
    items = {i["sign"]: i for i in turns[2].checklist["items"]}  # type: ignore[index]
    assert items["interval_growth"]["status"] == "uncertain"
    assert "only possibly shows a lesion" in items["interval_growth"]["evidence"]


# --- 2. change questions, with and without an earlier film -----------------------------------------------------------

_CHANGE_QUESTIONS = [("与前片比较有什么变化?", "zh"), ("变化大吗", "zh"), ("what's the interval change?", "en"),
                     ("what changed?", "en"), ("较前有变化吗", "zh")]


@pytest.mark.parametrize(("question", "lang"), _CHANGE_QUESTIONS)
def test_a_change_question_is_the_comparison_with_the_earlier_film(question: str, lang: str) -> None:
    q = parse(question)
    assert (q.intent, q.needs_prior) == ("out_of_scope", True)
    facts = scenario_facts()
    turn = _turns(facts, question, lang=lang, interval=_comparison(facts, uncertain=False))[0]
    assert turn.intent == "interval_change" and [m["kind"] for m in turn.measurements] == ["interval_change"]
    assert ("与以前的片子对比" if lang == "zh" else "Compared with the earlier film") in turn.answer.text
    # without an earlier film: that one is needed
    alone = _turns(facts, question, lang=lang)[0]
    assert ("本次检查没有上传以前的片子" if lang == "zh" else "opened without an earlier film") in alone.answer.text


def test_its_meaning_asked_is_still_a_term() -> None:
    assert parse("what does interval change mean?").intent == "explain_term"
    assert not parse("what does interval change mean?").needs_prior


def test_by_how_much_in_mm_after_a_change_gives_the_change_and_without_an_earlier_film_says_one_is_needed() -> None:
    facts = scenario_facts()
    turns = _turns(facts, "has the nodule grown?", "by how much in mm?", interval=_comparison(facts, uncertain=False))
    assert turns[1].intent == "interval_change" and "larger by 4.0 mm (50%)" in turns[1].answer.text
    turns = _turns(facts, "what changed?", "by how much in mm?", interval=_comparison(facts, uncertain=False))
    assert turns[1].intent == "interval_change" and "larger by 4.0 mm (50%)" in turns[1].answer.text
    alone = _turns(facts, "has the nodule grown?", "by how much in mm?")[1]
    assert "opened without an earlier film" in alone.answer.text and "no size, distance" not in alone.answer.text


def test_how_much_bigger_asks_the_change_not_the_bigger_finding() -> None:
    facts = scenario_facts()
    turn = _turns(facts, "how much bigger is it?", interval=_comparison(facts, uncertain=False))[0]
    assert turn.intent == "interval_change" and "A1" in turn.referenced_anchor_ids


def test_where_it_was_on_the_earlier_film_is_drawn_on_this_film_where_the_comparison_carried_it() -> None:
    facts = scenario_facts()
    question = "show me where it was on the earlier film"
    assert parse(question).earlier_place
    turn = _turns(facts, question, interval=_comparison(facts, uncertain=False))[0]
    drawn = [o for o in turn.overlays if o["style"]["role"] == "earlier_position"]
    assert len(drawn) == 1 and drawn[0]["anchor_id"] == "A1" and drawn[0]["layer"] == "earlier"
    assert "earlier film" in drawn[0]["label"]
    # this film's frame, not the earlier film's box
    x0, y0, x1, y1 = (round(v, 1) for v in turn.measurements[0]["earlier_bbox_here_px"])
    assert drawn[0]["points"] == [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    assert "where A1 lay on the earlier film, carried onto this film by its place within its lung field" in \
        turn.answer.text
    # a comparison without the place carried over: said not drawn, nothing drawn in the wrong frame
    old = _turns(facts, question, interval=_comparison(facts, uncertain=False, here=False))[0]
    assert not [o for o in old.overlays if o["style"]["role"] == "earlier_position"]
    assert "Where A1 lay on the earlier film is not drawn on this film" in old.answer.text
    zh = _turns(facts, "以前的片子上它在哪里", lang="zh", interval=_comparison(facts, uncertain=False))[0]
    assert [o["label"] for o in zh.overlays if o["style"]["role"] == "earlier_position"] == ["A1 以前的片子"]


# --- 3. the past tense of what the dialogue said --------------------------------------------------------------------


@pytest.mark.parametrize("question", ["go back to A1 — what was its size again?", "going back to A1, how big was it?",
                                      "earlier you said A1 was lobulated; how big was it?", "how big was A1?",
                                      "what was A1's size again?"])
def test_a_size_asked_again_in_the_past_tense_is_answered(question: str) -> None:
    assert not parse(question).needs_prior
    turns = _turns(scenario_facts(), "how big is A2?", question)
    assert turns[1].intent == "size" and turns[1].referenced_anchor_ids == ("A1",)
    assert "12.0 mm" in turns[1].answer.text and "earlier film" not in turns[1].answer.text


@pytest.mark.parametrize("question", ["how big was it originally?", "how big was the nodule before?",
                                      "you said it was 9 mm, has it grown?", "What was its size on the prior?"])
def test_the_past_tense_of_an_earlier_film_still_needs_one(question: str) -> None:
    assert parse(question).needs_prior


# --- 4. follow-ups about an anatomy anchor ------------------------------------------------------------------------


def _with_trachea(facts: ImageFacts) -> ImageFacts:
    trachea = AnatomyRegion("trachea", (256.0, 120.0), (246.0, 60.0, 266.0, 180.0))
    return replace(facts, anatomy=replace(facts.anatomy, regions=(*facts.anatomy.regions, trachea)))


def test_it_and_the_other_side_after_a_costophrenic_angle_are_that_angle() -> None:
    turns = _turns(scenario_facts(), "右肋膈角锐利吗?", "它的角度是多少度?", "左侧呢?", lang="zh")
    assert turns[1].intent == "assess_anatomy" and "右肋膈角" in turns[1].answer.text and "35°" in turns[1].answer.text
    assert turns[1].clarification is None and turns[1].referenced_anchor_ids == turns[0].referenced_anchor_ids
    assert turns[2].intent == "assess_anatomy" and "左肋膈角" in turns[2].answer.text and "38°" in turns[2].answer.text
    assert "A2" not in turns[2].answer.text


def test_an_anatomy_anchor_named_by_its_id_is_asked_as_by_its_name() -> None:
    enlarged = _turns(scenario_facts(), "A3 is it enlarged?")[0]
    assert enlarged.intent == "assess_anatomy" and "costophrenic" not in enlarged.answer.text
    assert "Hilar enlargement: Hilum does not read this sign" in enlarged.answer.text
    higher, which = _turns(scenario_facts(), "is A4 higher than A3?", "which hilum is higher?")
    assert "a comparison needs two findings" not in higher.answer.text
    assert higher.answer.text == which.answer.text and higher.referenced_anchor_ids == ("A3", "A4")


@pytest.mark.parametrize(("questions", "said"), [
    (("show me the heart", "how wide is it?"), "the heart about 14.0 cm across"),
    (("is the heart enlarged?", "how wide is it?"), "the heart about 14.0 cm across"),
    (("where is the trachea?", "is it midline?"), "Tracheal deviation"),
])
def test_it_after_a_structure_is_that_structure(questions: tuple[str, ...], said: str) -> None:
    for facts in (scenario_facts(), _with_trachea(scenario_facts())):  # the trachea placed on the film, or not
        turn = _turns(facts, *questions)[-1]
        assert turn.intent == "assess_anatomy" and turn.clarification is None, turn.answer.text
        assert said in turn.answer.text and "Which one do you mean" not in turn.answer.text


def test_after_a_finding_it_is_still_the_finding() -> None:
    turns = _turns(scenario_facts(), "show me the heart", "how far is A1 from the hilum?", "how big is it?")
    assert turns[2].intent == "size" and turns[2].referenced_anchor_ids == ("A1",)
    both = _turns(scenario_facts(), "which hilum is higher?", "is it enlarged?")[1]  # two anchors: no one of them
    assert "Hilar enlargement" not in both.answer.text


# --- 5. a summary of the session ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang"), [("Summarise the session", "en"),
                                                ("summarise what we found including the measurements", "en"),
                                                ("write the report", "en"), ("总结一下", "zh")])
def test_a_summary_lists_what_the_session_stated(question: str, lang: str) -> None:
    if lang == "zh":
        asked = ("A1距肺门多远?", "如果这是早期肺癌,符合几条?", question)
    else:
        asked = ("how far is A1 from the hilum?", "if this were early lung cancer, how many typical signs does it show?",
                 question)
    distance, checklist, summary = _turns(scenario_facts(), *asked, lang=lang)
    stated = {m["kind"]: m["mm"] for m in distance.measurements}
    card = checklist.checklist or {}
    text = summary.answer.text
    assert summary.intent == "screen"
    assert f"{stated['distance']:.1f} mm" in text and f"{stated['gap']:.1f} mm" in text  # as turn 1 stated them
    if lang == "en":
        assert f"{card['matched']} of the {card['total']} decidable signs present" in text
        assert "Stated earlier in this session (image observations, not a diagnosis)" in text and "(turn 2)" in text
        assert text.startswith("Summary for the reader")
    else:
        assert f"可判定的{card['total']}项中符合{card['matched']}项" in text and "(第2轮)" in text
        assert "本次会话中已给出的测量与征象核对(影像所见,非诊断)" in text
    # its rows are the earlier turns' own: the report counts each once
    assert [m for m in summary.measurements if m["kind"] == "distance"] == \
        [m for m in distance.measurements if m["kind"] == "distance"]


def test_a_summary_before_anything_was_measured_is_the_screening_summary_and_the_report_counts_rows_once() -> None:
    eng = _engine()
    sid = eng.start_session(scenario_facts(), lang="en").session_id
    first = eng.ask(sid, "Summarise the session")
    assert "Stated earlier in this session" not in first.answer.text
    eng.ask(sid, "how far is A1 from the hilum?")
    eng.ask(sid, "summarise the session")
    report = eng.report(sid)
    keyed = [(m["kind"], m.get("from") or m.get("of"), m.get("to"), m.get("mm")) for m in report["measurements"]]
    assert len(keyed) == len(set(keyed)) and ("distance", "A1", "A3", 50.1) in keyed


def test_a_summary_read_back_in_the_other_language_keeps_what_the_session_stated() -> None:
    eng = _engine()
    sid = eng.start_session(scenario_facts(), lang="en").session_id
    eng.ask(sid, "how far is A1 from the hilum?")
    eng.ask(sid, "write the report")
    zh: Any = eng.turn_in_language(sid, 3, "zh")
    assert "本次会话中已给出的测量" in zh.answer.text and "50.1 mm" in zh.answer.text
