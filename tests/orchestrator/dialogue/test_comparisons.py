"""Comparisons a radiologist asks: which side, which finding, left against right; and the cardiothoracic ratio near its
limit said the same way from either side of it. Sessions start from the SCENARIO-like facts of the conftest (F1 a 12 mm
spiculated nodule in the right middle lobe, F2 a 25 x 18 mm strand at the left base)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from orchestrator.dialogue import checklists as cl
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.parser import parse
from orchestrator.encoders.second_reader import WARNING as READ_ALONE
from orchestrator.facts import ImageFacts
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.conftest import NoEncoderDouble, scenario_facts

CANCER_COUNT = ("Typical signs of early lung cancer", "早期肺癌典型X线表现")


def dialogue(facts: ImageFacts, *questions: str, lang: str = "en") -> list[Any]:
    """Every turn of one session over ``facts`` that asks ``questions`` in order."""
    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.start_session(facts, lang=lang).session_id
    return [eng.ask(sid, q) for q in questions]


def alone(facts: ImageFacts, ctr: float | None = None, view: str = "frontal") -> ImageFacts:
    """``facts`` as a child's JPEG the second reader read alone (no view in the file), with ``ctr`` as its ratio."""
    anatomy = facts.anatomy if ctr is None else dataclasses.replace(facts.anatomy, cardiothoracic_ratio=ctr)
    return dataclasses.replace(facts, anatomy=anatomy, spacing=dataclasses.replace(facts.spacing, source="estimated"),
                               film_check=dataclasses.replace(facts.film_check, view=view, warnings=(READ_ALONE,)))


def counts_cancer_signs(text: str) -> bool:
    return any(c in text for c in CANCER_COUNT)


# --- 1. which side is worse, and whose signs are counted -------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang"), [("which side is worse?", "en"), ("哪一侧更重", "zh"), ("哪侧更严重", "zh"),
                                                ("compare the two findings", "en"), ("compare A1 and A2", "en"),
                                                ("比较一下两个病灶", "zh")])
def test_a_comparison_nobody_asked_cancer_of_counts_no_cancer_signs(question: str, lang: str) -> None:
    """On a child's pneumonia film read alone, "which side is worse?" / "哪一侧更重" / "compare the two findings" ended with
    "Typical signs of early lung cancer (of those this film decides): A2 1 of 2": nobody had asked about cancer."""
    (turn,) = dialogue(alone(scenario_facts()), question, lang=lang)
    assert turn.intent == "compare" and not counts_cancer_signs(turn.answer.text)


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("which side is worse?", "en", "By projected area the left lung's candidate regions are the more extensive: about 3.5 "
                                   "cm² (A2), against about 1.1 cm² in the right lung (A1)."),
    ("哪一侧更重", "zh", "按投影面积,左肺的候选病灶范围较大:约3.5 cm²(A2),右肺约1.1 cm²(A1)。"),
    ("which lung has more opacity?", "en", "By projected area the left lung's candidate regions are the more extensive"),
    ("which side has more lesions?", "en", "By projected area the left lung's candidate regions are the more extensive"),
    ("哪侧病灶多", "zh", "按投影面积,左肺的候选病灶范围较大"),
])
def test_which_side_is_worse_says_which_lungs_findings_are_the_more_extensive(question: str, lang: str, said: str) -> None:
    """"Which side is worse?" said what each lung shows and then compared the two findings as two findings (which is
    closer to its hilum, which lies higher) whether or not they lay in one lung; "which lung has more opacity?"
    compared the findings and counted their lung-cancer signs. It answers which lung's findings cover more, by their
    projected areas (an extent, not a grade), after what each lung shows."""
    assert parse(question).sides_graded
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    text = turn.answer.text
    assert said in text
    assert text.startswith("Hilum does not grade which lung is worse" if lang == "en" else "Hilum不评判哪一侧病变更重")
    assert "closer to its hilum" not in text and "lies higher" not in text and "离肺门" not in text
    base = scenario_facts()
    both_left = dataclasses.replace(base, findings=(base.findings[1],))
    (one,) = dialogue(both_left, "which side is worse?")
    assert "Only the left lung has a candidate region: A1, about 3.5 cm² by projected area." in one.answer.text


def test_a_comparison_counts_the_signs_of_a_checklist_the_dialogue_asked() -> None:
    """Sign counts come with a comparison of the findings whole, or of the two lungs, when the dialogue asked about that
    checklist (in this question or an earlier turn, carried on through turns between); a question of one thing ("which
    one is bigger?") stays that thing; a checklist asked is the one counted (benign nodule, not lung cancer)."""
    cancer = "If this were early lung cancer, how many typical signs does it show?"
    turns = dialogue(scenario_facts(), "compare A1 and A2", cancer, "how big is A2?", "compare A1 and A2",
                     "which side is worse?", "which one is bigger?")
    fresh, _, _, after, sides, bigger = (t.answer.text for t in turns)
    assert not counts_cancer_signs(fresh)
    said = "Typical signs of early lung cancer (of those this film decides): A1 3 of 5; a count of signs, not a diagnosis."
    assert said in after and said in sides
    assert not counts_cancer_signs(bigger)
    (named,) = dialogue(scenario_facts(), "which one has more signs of early lung cancer?")
    assert named.intent == "compare" and said in named.answer.text
    benign = dialogue(scenario_facts(), "is A1 benign?", "compare A1 and A2")[-1].answer.text
    assert "Signs of a benign nodule (of those this film decides): A1 1 of 4" in benign and not counts_cancer_signs(benign)
    zh = dialogue(scenario_facts(), "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?", "比较一下两个病灶", lang="zh")
    assert "早期肺癌典型X线表现(可判定者):A1符合3/5条" in zh[-1].answer.text


# --- 2. the cardiothoracic ratio just under its limit ----------------------------------------------------------------


@pytest.mark.parametrize("ctr", [0.49, 0.46, 0.50])
def test_a_ratio_just_under_the_limit_on_a_film_read_alone_is_no_flat_no(ctr: float) -> None:
    """A child's film read by the second reader alone measured 0.49 and was told "Cardiomegaly (enlarged heart): no",
    where 0.51 is "just above 0.50 ... cannot be judged": a ratio that close to the limit, measured on a film read
    alone, is said to be just under it and settles nothing, in every answer that states it and in both languages."""
    facts = alone(scenario_facts(), ctr)
    words = "at 0.50" if ctr == 0.50 else "just under 0.50"
    why = "the second reader read this film alone, and a ratio it measured this close to the limit does not settle it"
    enlarged, ratio, checklist = dialogue(facts, "is the heart enlarged?", "what is the cardiothoracic ratio?",
                                          "What signs of heart failure does it show?")
    (normal,) = dialogue(dataclasses.replace(facts, findings=()), "is this film normal?")
    sign = next(s for s in enlarged.answer.sections if s["kind"] == "sign")
    assert sign["status"] == "uncertain"
    assert f"the cardiothoracic ratio is about {ctr:.2f} ({words}). {why[0].upper()}{why[1:]}." in sign["text"]
    assert f"The cardiothoracic ratio is about {ctr:.2f} (the heart about 14.0 cm across, the chest 30.0 cm), {words}; " \
           f"{why}." in ratio.answer.text
    item = next(i for i in checklist.checklist["items"] if i["sign"] == "cardiomegaly")
    assert item["status"] == "uncertain" and f"(cardiothoracic ratio {ctr:.2f} → uncertain)" in checklist.answer.text
    assert f"Cardiothoracic ratio about {ctr:.2f} ({words}; {why})." in normal.answer.text
    assert "so whether the heart is enlarged this film cannot settle" in normal.answer.text
    zh_words = "等于0.50" if ctr == 0.50 else "略小于0.50"
    zh_enlarged, zh_ratio = dialogue(facts, "心脏大吗", "心胸比是多少", lang="zh")
    assert "心影增大:本片无法判断" in zh_enlarged.answer.text and f"心胸比约{ctr:.2f}({zh_words})" in zh_enlarged.answer.text
    assert f"心胸比约{ctr:.2f}(心影横径约14.0 cm,胸廓内径约30.0 cm),{zh_words};本片由第二读片模型单独读取" in zh_ratio.answer.text


@pytest.mark.parametrize(("ctr", "read_alone", "view", "status", "words"), [
    (0.44, True, "frontal", "no", "not above 0.50"),  # below the band: a plain no, read alone or not
    (0.49, False, "PA", "no", "not above 0.50"),  # the encoder's measure on a PA film
    (0.49, False, "frontal", "no", "not above 0.50"),  # an AP film only makes a heart look larger
    (0.51, True, "frontal", "uncertain", "just above 0.50"),  # as before
])
def test_the_ratio_near_its_limit_elsewhere(ctr: float, read_alone: bool, view: str, status: str, words: str) -> None:
    base = scenario_facts()
    facts = alone(base, ctr, view) if read_alone else dataclasses.replace(
        base, anatomy=dataclasses.replace(base.anatomy, cardiothoracic_ratio=ctr),
        film_check=dataclasses.replace(base.film_check, view=view))
    (turn,) = dialogue(facts, "is the heart enlarged?")
    sign = next(s for s in turn.answer.sections if s["kind"] == "sign")
    assert sign["status"] == status and f"about {ctr:.2f} ({words}" in sign["text"]
    assert cl.ctr_reference(ctr, view, read_alone)[1].startswith(words)
    assert cl.film_ctr_reference(facts) == cl.ctr_reference(ctr, view, read_alone)


# --- 3. what a radiologist compares ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "lead"), [
    ("is the left lung clearer than the right?", "en", "Hilum does not compare how dark or clear the two lung fields look; "
                                                       "what each shows: the right lung: A1"),
    ("is the right lung darker than the left?", "en", "Hilum does not compare how dark or clear the two lung fields look"),
    ("which lung is darker?", "en", "Hilum does not compare how dark or clear the two lung fields look"),
    ("左肺比右肺清楚吗", "zh", "Hilum不比较两侧肺野的明暗(透亮度);两侧所见:右肺:A1"),
])
def test_one_lung_field_set_against_the_other_says_what_each_lung_shows(question: str, lang: str, lead: str) -> None:
    """"Is the left lung clearer than the right?" got the whole screening answer, and "左肺比右肺清楚吗" was read as a
    margin question ("which one do you mean?"): Hilum does not read how dark a lung field is; it says so, and what each
    lung shows."""
    q = parse(question)
    assert (q.intent, q.sides_compared, q.attribute) == ("compare", True, "lucency")
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    assert turn.answer.text.startswith(lead)


@pytest.mark.parametrize(("question", "lang"), [("are the costophrenic angles the same?", "en"),
                                                ("are the costophrenic angles the same on both sides?", "en"),
                                                ("are the costophrenic angles equal on both sides?", "en")])
def test_the_same_of_two_structures_points_at_no_finding(question: str, lang: str) -> None:
    """"Are the costophrenic angles the same?" asked back "which one do you mean — A1 or A2?", "... the same on both
    sides?" compared the two findings, and "... equal on both sides?" described their margins: "the same" and "on both
    sides" said of the two angles compared point at no finding ("the same one" still does)."""
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    assert turn.intent == "assess_anatomy" and not turn.clarification
    assert "The right costophrenic angle is sharp (about 35°). The left costophrenic angle is sharp (about 38°)." in (
        turn.answer.text)
    assert "same" in parse("is it the same one?").references


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is the heart shifted?", "en", "Mediastinal shift: Hilum does not read this sign."),
    ("is the heart displaced?", "en", "Mediastinal shift: Hilum does not read this sign."),
    ("心脏移位了吗", "zh", "纵隔移位:"),
])
def test_a_heart_shifted_is_the_mediastinums_place_not_its_size(question: str, lang: str, said: str) -> None:
    """"Is the heart shifted?" was answered with the cardiothoracic ratio (the heart's size): a shift is where the heart
    and mediastinum lie, which Hilum does not read; "is the heart enlarged?" keeps the ratio."""
    assert parse(question).signs == ("mediastinal_shift",)
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    assert turn.answer.text.startswith(said) and "0.46" not in turn.answer.text
    assert parse("心脏偏大吗").signs == parse("is the heart enlarged?").signs == ("cardiomegaly",)


@pytest.mark.parametrize(("question", "lang"), [("which one is denser?", "en"), ("哪个密度高", "zh")])
def test_which_finding_is_denser_says_what_is_read_of_each_not_which_is_larger(question: str, lang: str) -> None:
    """"Which one is denser?" was answered "A2 is the larger; margins: ...": it says Hilum does not rank density, and
    what it reads of each finding's density."""
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    text = turn.answer.text
    if lang == "en":
        assert "Hilum does not rank findings by how dense they look; what it reads of each:" in text
        assert "A1: internal density homogeneous" in text and "is the larger" not in text
    else:
        assert "Hilum不比较病灶之间的密度高低;它对各处的判读:" in text and "A1内部密度均匀" in text and "较大" not in text
    assert "closer to its hilum" not in text and "离肺门" not in text


@pytest.mark.parametrize(("question", "lang", "said"), [("which one is bigger, A1 or A2?", "en", "A2 is the larger"),
                                                        ("哪个病灶更大", "zh", "A2较大")])
def test_which_is_bigger_answers_the_sizes_not_where_each_lies(question: str, lang: str, said: str) -> None:
    """"Which one is bigger, A1 or A2?" answered which was larger, then which was closer to its hilum and which lay
    higher: asked of their sizes, it gives the sizes; asked whole ("compare A1 and A2") or of a place, it gives those."""
    (turn,) = dialogue(scenario_facts(), question, lang=lang)
    assert said in turn.answer.text
    assert all(s not in turn.answer.text for s in ("closer to its hilum", "lies higher", "离肺门", "位置较高"))
    (whole,) = dialogue(scenario_facts(), "compare A1 and A2")
    assert "A1 is the closer to its hilum" in whole.answer.text and "A1 lies higher" in whole.answer.text
