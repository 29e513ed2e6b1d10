"""Four dialogue faults, each with what it got:

1. "有空洞的呢" ("and the one with a cavity?") after the screening was read as "is there a cavity?" (the film's
   screening for cavities again), and "the one with a cavity?" bound whichever finding was in focus: a finding named by
   what it holds is that finding; where none holds it the answer says so, where several do it says which and asks;
2. "is it bigger than the other one?" among three findings took the more recently mentioned of the two others as "the
   other one" without a word, and "is A1 bigger than the other one?" said there was "only one candidate region": with
   two others, the one asked about is set against each (and a distance to "the other one" asks which);
3. "by how much?" after a comparison or a distance repeated the whole previous answer: it gives the difference alone,
   in mm, with the estimated-spacing note where the spacing was estimated;
4. "why?" after an answer listed every probability of the finding: it says what the last answer's claim rested on (and
   why it was hedged, where it was), briefly.
"""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.dialogue.parser import parse
from orchestrator.facts import ImageFacts
from tests.orchestrator.dialogue.conftest import scenario_facts
from tests.orchestrator.dialogue.test_pointing import dialogue, findings_of, kinds, three_findings

_PROBABILITY_DUMP = ("calibrated on validation phantom films", "在验证用的模拟胸片上校准")


def holding_a_cavity(facts: ImageFacts, *ids: str) -> ImageFacts:
    """``facts`` with the findings ``ids`` (F1, F2, ...) read as holding a cavity."""
    return dataclasses.replace(facts, findings=tuple(
        dataclasses.replace(f, density=dataclasses.replace(f.density, cavity=True)) if f.id in ids else f
        for f in facts.findings))


# --- 1. a finding named by what it holds ------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "want"), [
    ("有空洞的呢", "zh", "A1"), ("带空洞的呢", "zh", "A1"), ("那个有空洞的呢", "zh", "A1"), ("有空洞的那个呢", "zh", "A1"),
    ("and the one with a cavity?", "en", "A1"), ("the one with the cavity?", "en", "A1"),
    ("the lesion that has a cavity?", "en", "A1"),
    ("那个钙化的呢", "zh", "A3"), ("有钙化的呢", "zh", "A3"), ("the calcified one?", "en", "A3"),
    ("and the one with calcification?", "en", "A3"),
])
def test_a_finding_named_by_what_it_holds_after_the_screening_is_that_finding(question: str, lang: str,
                                                                              want: str) -> None:
    """A1 holds a cavity, A3 is calcified, A2 holds neither: "有空洞的呢" had screened the film for cavities again."""
    (turn,) = dialogue(holding_a_cavity(three_findings(), "F1"), question, lang=lang)
    assert turn.intent != "screen" and turn.clarification is None
    assert turn.referenced_anchor_ids[:1] == (want,) and findings_of(turn) == [want]


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("有空洞的呢", "zh", "本片的病灶均未见空洞:A1(右肺中叶圆形结节)、A2(左肺下叶条索影)。"),
    ("and the one with a cavity?", "en", "None of the findings on this film shows a cavity: A1 (right middle lobe round "
     "nodule), A2 (left lower lobe strand-like opacity)."),
    ("有钙化的呢", "zh", "本片的病灶均未见钙化:A1"),
    ("the calcified one?", "en", "None of the findings on this film shows calcification: A1"),
])
def test_a_content_no_finding_holds_is_said_of_the_findings(question: str, lang: str, said: str) -> None:
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    assert turn.intent != "screen" and findings_of(turn) == [] and turn.answer.text.startswith(said)


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("有空洞的呢", "zh", "A1、A2均见空洞。"), ("the one with a cavity?", "en", "A1 and A2 both show a cavity."),
])
def test_a_content_several_findings_hold_says_which_and_asks(question: str, lang: str, said: str) -> None:
    (turn,) = dialogue(holding_a_cavity(three_findings(), "F1", "F2"), question, lang=lang)
    assert turn.clarification is not None and findings_of(turn) == []
    assert sorted(c["anchor_id"] for c in turn.clarification["candidates"]) == ["A1", "A2"]
    assert turn.answer.text.startswith(said)


@pytest.mark.parametrize("question", ["有空洞吗", "有没有空洞", "是空洞的吗", "is there a cavity?",
                                      "is there a nodule with a cavity?", "any lesion with calcification?"])
def test_whether_there_is_one_is_still_asked_not_pointed_with(question: str) -> None:
    assert "cavitary" not in parse(question).descriptors and "calcified" not in parse(question).descriptors


# --- 2. "the other one" among three or more ------------------------------------------------------------------------


@pytest.mark.parametrize(("questions", "lang", "note"), [
    (("where is A1?", "and A3?", "is it bigger than the other one?"), "en",
     "\"The other one\" could be A1 or A2, so A3 is set against each."),
    (("A1在哪", "A3呢", "它比另一个大吗"), "zh", "“另一个”可以是A1或A2,因此把A3与二者分别比较。"),
])
def test_it_against_the_other_one_among_three_is_set_against_each(questions: tuple[str, ...], lang: str,
                                                                   note: str) -> None:
    """A3 in focus, A1 mentioned the turn before: "the other one" had been A1, without a word."""
    *_, turn = dialogue(three_findings(), *questions, lang=lang)
    assert turn.intent == "compare" and turn.clarification is None
    assert findings_of(turn)[0] == "A3" and sorted(findings_of(turn)) == ["A1", "A2", "A3"]
    assert kinds(turn)[0] == "each_other" and turn.answer.sections[0]["text"] == note
    verdict = next(s["text"] for s in turn.answer.sections if s["kind"] == "size_verdict")
    if lang == "en":
        assert "A3 is smaller than A1" in verdict and "A3 is smaller than A2" in verdict
    else:
        assert "A3比A1小" in verdict and "A3比A2小" in verdict


def test_a_finding_named_against_the_other_one() -> None:
    """"is A1 bigger than the other one?" had said "only one candidate region on this film"."""
    (two,) = dialogue(scenario_facts(), "is A1 bigger than the other one?")
    assert findings_of(two) == ["A1", "A2"] and two.answer.text.startswith("No: A1 is smaller than A2")
    (zh,) = dialogue(scenario_facts(), "A1比另一个大吗", lang="zh")
    assert findings_of(zh) == ["A1", "A2"] and zh.answer.text.startswith("否:A1比A2小")
    (three,) = dialogue(three_findings(), "is A1 bigger than the other one?")
    assert findings_of(three)[0] == "A1" and sorted(findings_of(three)) == ["A1", "A2", "A3"]
    assert kinds(three)[0] == "each_other"


@pytest.mark.parametrize(("questions", "asked_of", "measured"), [
    (("where is A1?", "and A3?", "how far is it from the other one?", "A2"), ["A1", "A2"], ["A3", "A2"]),
    (("how far is A1 from the other one?", "A3"), ["A2", "A3"], ["A1", "A3"]),
])
def test_a_distance_to_the_other_one_among_three_asks_which_and_the_reply_measures_it(
        questions: tuple[str, ...], asked_of: list[str], measured: list[str]) -> None:
    """"how far is A1 from the other one?" had measured A1 to its hilum."""
    *_, asked, replied = dialogue(three_findings(), *questions)
    assert asked.clarification is not None and findings_of(asked) == []
    assert sorted(c["anchor_id"] for c in asked.clarification["candidates"]) == asked_of
    assert replied.intent == "measure_relation" and findings_of(replied) == measured
    assert replied.answer.text.startswith(f"The centres of {measured[0]} and {measured[1]} are about")


def test_it_against_the_other_one_of_two_is_unchanged() -> None:
    _, turn = dialogue(scenario_facts(), "where is A1?", "is it bigger than the other one?")
    assert findings_of(turn) == ["A1", "A2"] and "each_other" not in kinds(turn)


# --- 3. "by how much?" ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("questions", "lang", "said"), [
    (("is A1 bigger than A2?", "by how much?"), "en",
     "A1 is about 9.1 mm smaller than A2 in equivalent diameter (12.0 mm against 21.1 mm)."),
    (("A1比A2大吗", "大多少"), "zh", "A1的等效直径比A2小约9.1 mm(12.0 mm对21.1 mm)。"),
    (("which one is bigger?", "by how much?"), "en",
     "A2 is about 9.1 mm larger than A1 in equivalent diameter (21.1 mm against 12.0 mm)."),
    (("how far apart are A1 and A2?", "by how much?"), "en", "About 157.3 mm (15.7 cm) between the centres of A1 and A2."),
    (("how far is A1 from the hilum?", "by how much?"), "en",
     "About 50.1 mm (5.0 cm) from A1's centre to the right hilum (A3)."),
    (("is A1 more than 2 cm from the hilum?", "by how much?"), "en",
     "About 30.1 mm more than 20.0 mm: 50.1 mm from A1's centre to the right hilum (A3)."),
    (("A1离肺门超过2厘米吗", "多多少"), "zh", "比20.0 mm多约30.1 mm:A1中心至右肺门(A3)50.1 mm。"),
    (("A1比A2大吗", "差多少"), "zh", "A1的等效直径比A2小约9.1 mm(12.0 mm对21.1 mm)。"),
    (("which one is closer to the pleura?", "by how much?"), "en", "A1 is about 6.0 mm nearer the pleura than A2 (14.0 mm "
     "against 20.0 mm)."),
    (("is A1 bigger than 1 cm?", "by how much?"), "en", "About 3.1 mm more than 10.0 mm: A1's longest diameter is 13.1 mm."),
])
def test_by_how_much_gives_the_difference_alone(questions: tuple[str, ...], lang: str, said: str) -> None:
    *_, before, turn = dialogue(scenario_facts(), *questions, lang=lang)
    assert turn.intent == before.intent and turn.answer.text == said
    assert turn.referenced_anchor_ids == before.referenced_anchor_ids


def test_by_how_much_on_an_estimated_spacing_says_so() -> None:
    _, turn = dialogue(scenario_facts(source="estimated"), "is A1 bigger than A2?", "by how much?")
    assert turn.answer.text.startswith("A1 is about 9.1 mm smaller than A2 in equivalent diameter")
    assert kinds(turn) == ["amount", "spacing"] and "estimated spacing" in turn.answer.text


# --- 4. "why?" -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("questions", "lang", "said"), [
    (("is A1 bigger than A2?", "why?"), "en",
     "A2 is the larger: its equivalent diameter, 21.1 mm, is more than A1's, 12.0 mm, by more than the 10% the "
     "measurement tells apart; each is measured on its outline on this film, with the DICOM pixel spacing."),
    (("A1比A2大吗", "为什么"), "zh", "A2较大:其等效直径21.1 mm大于A1的12.0 mm,差别超过测量能分辨的10%;两者都在本片上按其轮廓、"
     "用DICOM像素间距测量。"),
    (("how big is A1?", "why?"), "en",
     "A1's size is measured on its outline on this film (equivalent diameter 12.0 mm, longest 13.1 mm, shortest "
     "11.2 mm), with the DICOM pixel spacing."),
    (("how far is A1 from the hilum?", "why?"), "en",
     "A1's distance is measured on this film from its centre to where the anatomy maps place the hilum, with the DICOM "
     "pixel spacing; a frontal film measures in its own plane, not in depth."),
])
def test_why_says_what_the_last_claim_rested_on_without_every_probability(questions: tuple[str, ...], lang: str,
                                                                          said: str) -> None:
    *_, before, turn = dialogue(scenario_facts(), *questions, lang=lang)
    assert turn.intent == "confidence" and kinds(turn)[0] == "why_basis"
    assert turn.answer.sections[0]["text"] == said
    assert not any(d in turn.answer.text for d in _PROBABILITY_DUMP)
    assert [a for a in turn.referenced_anchor_ids if a.startswith("A")][:2] == [
        a for a in before.referenced_anchor_ids if a in ("A1", "A2")][:2]
