"""Which finding a turn takes a question to point at (``orchestrator/dialogue/pointing.py``, ``referring.py``): the image's
side is the patient's other side on a film shown the standard way, and the answer says so; a size the reader states is
compared with the finding under discussion, not used to pick another; "the lower one" ranks the findings by height; a
correction keeps the question asked and changes only the finding; the Chinese "X的" pointers pick as the English ones
do; "the other one" among three or more asks which."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from orchestrator.dialogue import anchors as anc
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.parser import parse
from orchestrator.dialogue.referring import patient_sides
from orchestrator.facts import Density, FilmCheck, ImageFacts
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.conftest import NoEncoderDouble, scenario_facts


def dialogue(facts: ImageFacts, *questions: str, lang: str = "en") -> list[Any]:
    """The turns answering ``questions`` in order, in one session over ``facts`` (its screening turn left out)."""
    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.start_session(facts, lang=lang).session_id
    return [eng.ask(sid, q) for q in questions]


def findings_of(turn: Any) -> list[str]:
    return [f["anchor_id"] for f in turn.findings]


def kinds(turn: Any) -> list[str]:
    return [s["kind"] for s in turn.answer.sections]


def three_findings() -> ImageFacts:
    """The SCENARIO's two (A1 a 12 mm spiculated RML nodule, A2 a 25 × 18 mm smooth LLL strand) and A3, a 9 mm lobulated
    calcified nodule high in the right upper lobe."""
    base = scenario_facts()
    f1 = base.findings[0]
    c3, r3 = (150.0, 150.0), 6.5
    f3 = dataclasses.replace(
        f1, id="F3", kind="calcified_nodule", center_px=c3, bbox_px=(c3[0] - r3, c3[1] - r3, c3[0] + r3, c3[1] + r3),
        polygon_px=tuple((c3[0] + r3 * math.cos(k / 4), c3[1] + r3 * math.sin(k / 4)) for k in range(25)),
        diameter_mm=9.0, longest_mm=9.6, shortest_mm=8.4, area_mm2=63.6, lobe="RUL", lobe_overlap=(), zone="upper",
        margin="lobulated", spicules=(), notches=(),
        density=Density(homogeneous=True, contrast=0.4, calcified=True, cavity=False, bubble_lucency=False,
                        air_bronchogram="no"))
    return dataclasses.replace(base, findings=(*base.findings, f3))


# --- 1. the image's side ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "want", "said"), [
    ("which is the one on the left side of the image?", "en", "A1", "The left of the image is the patient's right"),
    ("the one on the right of the picture", "en", "A2", "The right of the image is the patient's left"),
    ("图像左侧那个", "zh", "A1", "图像左侧是患者的右侧"),
    ("片子上右边那个", "zh", "A2", "图像右侧是患者的左侧"),
])
def test_the_images_side_is_the_patients_other_side_and_the_answer_says_so(question: str, lang: str, want: str,
                                                                           said: str) -> None:
    """On a frontal film shown the standard way the image's left is the patient's right: "the one on the left side of the
    image" had been A2 (the patient's left lung), with nothing said."""
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    assert turn.referenced_anchor_ids == (want,)
    assert kinds(turn)[0] == "image_side" and turn.answer.text.count(said) == 1
    assert turn.answer.sections[0]["text"].endswith((f"that is {want}.", f"即{want}。"))
    assert turn.query["side"] == ("right" if want == "A1" else "left")  # the patient's, as every side in the turn JSON


@pytest.mark.parametrize(("question", "lang"), [("the left one", "en"), ("左边那个", "zh"), ("where is the left one?", "en")])
def test_a_plain_left_is_the_patients_left(question: str, lang: str) -> None:
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    assert turn.referenced_anchor_ids == ("A2",) and "image_side" not in kinds(turn)
    assert parse(question).image_side is None


@pytest.mark.parametrize(("question", "shown"), [
    ("the one on the left side of the image", "left"), ("the image's right", "right"), ("屏幕左边那个", "left"),
    ("图像左侧肺门在哪", "left"), ("这张片子左肺有结节吗", None), ("is the nodule in the right lung on the image?", None),
    ("the right lung on this film", None), ("the left one", None), ("右侧那个", None),
])
def test_only_the_images_side_is_read_as_the_viewers(question: str, shown: str | None) -> None:
    assert parse(question).image_side == shown


def test_a_structure_named_by_the_images_side_is_the_patients_other_one() -> None:
    (turn,) = dialogue(scenario_facts(), "图像左侧肺门在哪", lang="zh")
    assert [a.get("name") for a in turn.anchors] == ["hilum_right"]


@pytest.mark.parametrize("check", [FilmCheck(view="PA", orientation="flipped_lr", warnings=("flipped_lr",)),
                                   FilmCheck(view="frontal", warnings=("sides_unconfirmed",))])
def test_the_images_side_is_not_turned_on_a_film_not_shown_the_standard_way(check: FilmCheck) -> None:
    """A mirrored film (PatientOrientation R\\F, or a heart on the image's left) or one whose sides are not established:
    its image's left is not taken for the patient's right; the answer withholds sides, as every answer on it does."""
    facts = dataclasses.replace(scenario_facts(), film_check=check)
    q = parse("the one on the left side of the image")
    assert patient_sides(q, facts) == q
    assert patient_sides(q, scenario_facts()).lesion_side == "right"
    (turn,) = dialogue(facts, "the one on the left side of the image")
    assert turn.referenced_anchor_ids == () and "image_side" not in kinds(turn)
    assert "patient's right" not in turn.answer.text


# --- 2. a size the reader states ---------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "then", "lang", "said", "whose"), [
    ("how big is the nodule?", "really? it looks bigger to me, like 15 mm", "en", "You put A1 at 15.0 mm",
     "your figure"),
    ("how big is the nodule?", "the radiologist measured it at 2 cm", "en",
     "The radiologist's measurement of A1, 20.0 mm, takes precedence", "the radiologist's figure"),
    ("how big is the nodule?", "the report says 2 cm, how big is it?", "en",
     "The radiologist's measurement of A1, 20.0 mm, takes precedence", "the radiologist's figure"),
    ("右肺那个结节多大", "我觉得有15毫米", "zh", "您给出的A1大小是15.0 mm", "您的数值"),
])
def test_a_size_the_reader_states_keeps_the_finding_and_is_compared(first: str, then: str, lang: str, said: str,
                                                                    whose: str) -> None:
    """"really? it looks bigger to me, like 15 mm" had switched to A2 ("bigger" read as "the bigger one"), and "the report
    says 2 cm" to A2 (21.1 mm, the size named); "the radiologist measured it at 2 cm" gave A1's size with no word of the
    radiologist's: the finding under discussion stays, its size is given again, against the number stated."""
    before, turn = dialogue(scenario_facts(), first, then, lang=lang)
    assert findings_of(before) == ["A1"]
    assert turn.intent == "size" and findings_of(turn) == ["A1"] and turn.clarification is None
    assert kinds(turn)[:2] == ["stated_size", "size"]
    lead = turn.answer.sections[0]["text"]
    assert lead.startswith(said) and whose in lead
    assert "13.1 mm" in lead  # A1's longest diameter, against which the number is compared
    assert ("precedence" in lead) if lang == "en" else ("优先" in lead or "为准" in lead)
    assert ("can be off" in lead) if lang == "en" else ("误差" in lead)
    for word in ("really", "looks", "bigger to me", "measured it", "says", "觉得"):  # no raw input echoed
        assert word not in turn.answer.text


def test_a_size_stated_within_the_measured_range_is_said_to_agree() -> None:
    _, turn = dialogue(scenario_facts(), "how big is A1?", "I'd say about 12 mm")
    assert findings_of(turn) == ["A1"] and "within what Hilum measures" in turn.answer.sections[0]["text"]


def test_a_size_stated_before_anything_is_in_focus_asks_which_and_is_kept_for_the_reply() -> None:
    asked, turn = dialogue(scenario_facts(), "I think it's 15 mm", "A1")
    assert asked.clarification is not None
    assert findings_of(turn) == ["A1"] and kinds(turn)[0] == "stated_size"


@pytest.mark.parametrize("question", ["is it bigger than 15 mm?", "is it 15 mm?", "I think it's 15 mm from the pleura",
                                      "I saw the report says 12 mm, but is the edge spiky?"])
def test_a_value_asked_about_or_a_distance_is_no_size_stated(question: str) -> None:
    assert parse(question).stated_mm is None


# --- 3. a rank by height ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "first", "said"), [
    ("Which is the lower one?", "en", "A2", "A2 is the lower of the two."),
    ("which is lower?", "en", "A2", "A2 is the lower of the two."),
    ("which one is higher?", "en", "A1", "A1 is the higher of the two."),
    ("哪个位置更低", "zh", "A2", "A2位置较低。"),
])
def test_which_is_the_lower_one_compares_the_heights_and_says_which(question: str, lang: str, first: str,
                                                                    said: str) -> None:
    """"Which is the lower one?" on a two-finding film had said "There is only one candidate region"."""
    turn, after = dialogue(scenario_facts(), question, "how big is it?" if lang == "en" else "它多大", lang=lang)
    assert turn.intent == "compare" and turn.referenced_anchor_ids[0] == first and len(turn.referenced_anchor_ids) == 2
    assert turn.answer.sections[0]["text"] == said
    assert findings_of(after) == [first]  # "it" next is the one it settled on


@pytest.mark.parametrize(("first", "then", "lang", "want"), [
    ("where is A2?", "the lower one", "en", "A2"), ("where is A2?", "the upper one", "en", "A1"),
    ("where is A1?", "the lower one", "en", "A2"), ("where is A1?", "the higher one", "en", "A1"),
    ("A1在哪", "下面那个", "zh", "A2"), ("A2在哪", "上面那个", "zh", "A1"),
])
def test_the_upper_and_lower_one_rank_the_findings_wherever_the_focus_is(first: str, then: str, lang: str,
                                                                         want: str) -> None:
    """"where is A2?" then "the lower one" had said "There is no lesion matching that description" (nothing lies below
    A2): "the lower one" is the lowest of the findings, not the one below the finding in focus."""
    _, turn = dialogue(scenario_facts(), first, then, lang=lang)
    assert findings_of(turn) == [want] and turn.clarification is None


@pytest.mark.parametrize(("question", "ranked"), [
    ("the upper one", True), ("下面那个", True), ("Is the upper one bigger than the lower one?", True),
    ("the one above it", False), ("它上面那个在哪?", False), ("A1上面那个", False), ("How big is the one below it?", False),
])
def test_a_rank_by_height_is_told_from_the_one_beside_the_focus(question: str, ranked: bool) -> None:
    assert parse(question).relative_ranked is ranked


def test_findings_at_one_height_ask_which_is_meant() -> None:
    base = scenario_facts()
    f2 = dataclasses.replace(base.findings[1], center_px=(330.0, 262.0), bbox_px=(312.0, 249.0, 348.0, 275.0))
    reg = anc.screening_registry(dataclasses.replace(base, findings=(base.findings[0], f2)))
    res = anc.resolve_findings(reg, parse("the lower one"))
    assert res.outcome == "ambiguous" and [a.id for a in res.candidates] == ["A2", "A1"]


# --- 4. a correction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("questions", "lang", "intents", "subjects"), [
    (("右肺那个结节边缘规则吗", "不是，我说的是左边那个"), "zh", ["describe_margin"] * 2, ["A1", "A2"]),
    (("how big is the nodule?", "不是，我说的是右边那个"), "en", ["size"] * 2, ["A1", "A1"]),
    (("is the margin of the right one regular?", "no, I meant the left one", "sorry, the other one", "I meant A1"), "en",
     ["describe_margin"] * 4, ["A1", "A2", "A1", "A1"]),
    (("is the nodule bigger than 1 cm?", "no, I meant the left one"), "en", ["size"] * 2, ["A1", "A2"]),
])
def test_a_correction_keeps_the_question_and_changes_only_the_finding(questions: tuple[str, ...], lang: str,
                                                                      intents: list[str], subjects: list[str]) -> None:
    """"不是,我说的是左边那个" after a margin question had answered where the left one lies; "sorry, the other one" after a
    margin question had answered where it lies, and so did "I meant A1" after that."""
    turns = dialogue(scenario_facts(), *questions, lang=lang)
    assert [t.intent for t in turns] == intents
    assert [findings_of(t) for t in turns] == [[s] for s in subjects]


def test_a_corrected_threshold_is_checked_against_the_finding_now_meant() -> None:
    _, turn = dialogue(scenario_facts(), "is the nodule bigger than 1 cm?", "no, I meant the left one")
    assert turn.answer.text.startswith("Yes: its longest diameter is 25.0 mm, more than 10.0 mm.")


@pytest.mark.parametrize(("question", "corrects"), [
    ("不是，我说的是左边那个", True), ("no, I meant the left one", True), ("sorry, the other one", True),
    ("不是，我问的是它在哪", False), ("no calcification?", False), ("膈顶指的是哪", False), ("是不是钙化", False),
])
def test_a_correction_is_one_that_only_points(question: str, corrects: bool) -> None:
    assert parse(question).correction is corrects


# --- 5. Chinese descriptor pointers --------------------------------------------------------------------------


@pytest.mark.parametrize(("zh", "en", "want"), [
    ("那个钙化的呢", "and the calcified one?", ["A3"]),
    ("钙化的那个呢", "the calcified one?", ["A3"]),
    ("毛刺的呢", "the spiculated one?", ["A1"]),
    ("光滑的那个呢", "the smooth one?", ["A2"]),
    ("分叶的呢", "the lobulated one?", ["A3"]),
    ("最大的呢", "the biggest one?", ["A2"]),
    ("最小的呢", "the smallest one?", ["A3"]),
    ("空洞的呢", "the cavitary one?", []),
    ("磨玻璃的呢", "the ground-glass one?", []),
])
def test_chinese_descriptor_words_pick_as_the_english_ones_do(zh: str, en: str, want: list[str]) -> None:
    """"左肺那个多大" then "那个钙化的呢" had given the left lung's (non-calcified) strand's density; "the calcified one?"
    picked the calcified nodule."""
    _, zh_turn = dialogue(three_findings(), "左肺那个多大", zh, lang="zh")
    _, en_turn = dialogue(three_findings(), "how big is the one in the left lung?", en)
    assert findings_of(zh_turn) == findings_of(en_turn) == want
    assert zh_turn.intent == "size"  # an ellipsis: the size asked before, of the one it points at


@pytest.mark.parametrize(("question", "lang"), [("实性的呢", "zh"), ("and the solid one?", "en")])
def test_the_solid_one_says_a_radiograph_cannot_tell_and_asks_which(question: str, lang: str) -> None:
    _, turn = dialogue(three_findings(), "左肺那个多大" if lang == "zh" else "how big is the left one?", question,
                       lang=lang)
    assert turn.clarification is not None and kinds(turn)[0] == "unread_descriptor"


# --- 6. the other one among three or more -------------------------------------------------------------------


@pytest.mark.parametrize("questions", [("the upper one", "the other one"),
                                       ("where is A1?", "the upper one", "the other one"),
                                       ("how big is A2?", "and A3?", "the other one")])
def test_the_other_one_among_three_asks_which(questions: tuple[str, ...]) -> None:
    """After "where is A1?" and "the upper one" (A3), "the other one" had bound A1, the more recently mentioned of the two
    others, without a word."""
    *_, turn = dialogue(three_findings(), *questions)
    assert turn.clarification is not None and findings_of(turn) == []
    focus = {"the upper one": "A3", "and A3?": "A3"}[questions[-2]]
    assert sorted(c["anchor_id"] for c in turn.clarification["candidates"]) == sorted({"A1", "A2", "A3"} - {focus})


def test_the_other_one_of_two_is_still_the_other() -> None:
    _, turn = dialogue(scenario_facts(), "how big is A1?", "and the other one?")
    assert findings_of(turn) == ["A2"] and turn.intent == "size"
