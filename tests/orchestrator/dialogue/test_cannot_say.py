"""What Hilum cannot say, said plainly (an audit of refusals and short follow-ups):

1. "is the nodule cancer?" / "恶性的概率多大" / "是肿瘤吗": that Hilum cannot say whether it is cancer, nor how likely,
   comes first; the checklist follows as observations, its non-specific present signs named as such.
2. "could it be a hamartoma?" / "could it be a lung abscess?": the disease has no checklist; the closest one is shown
   and named as that (as "could it be a metastasis?" says it has none); "what else could it be?" gets no
   differential diagnosis, and what Hilum can describe.
3. "should we biopsy it?" / "需要活检吗": no test is recommended, as a CT question is told.
4. Short follow-ups: ordinals past the third and past the findings' count, "the last one", "the former / latter",
   "why?" after a hedged answer, "by how much?" after a change, and "hmm" / "?" (not understood, not "outside what a
   chest radiograph can show").
5. "how far from the spine?": measured to the spine's outline, or said not measurable (never the hilum's distance).
6. "that one is in the left lung right?": yes, and where; "is A2 the heart?" / "is it the thymus?": Hilum cannot tell
   a normal structure from a lesion; "what is it?": its description, and no name for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.parser import parse
from orchestrator.facts import AnatomyRegion, FilmCheck, ImageFacts
from orchestrator.findings.interval import FindingChange, IntervalComparison
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.conftest import NoEncoderDouble


def _session(facts: ImageFacts, *questions: str, lang: str = "en", interval: IntervalComparison | None = None) -> Any:
    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.start_session(facts, lang=lang, interval=interval).session_id
    turn = None
    for q in questions:
        turn = eng.ask(sid, q)
    return turn


def _kinds(turn: Any) -> list[str]:
    return [s["kind"] for s in turn.answer.sections]


def _section(turn: Any, kind: str) -> str:
    return next(s["text"] for s in turn.answer.sections if s["kind"] == kind)


# --- 1. a verdict asked -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "question", "lead"), [
    ("where is A1?", "Is the nodule cancer?", "Hilum cannot say whether A1 is cancer, nor give a probability"),
    ("where is A1?", "what's the chance it's cancer?", "Hilum cannot say whether A1 is cancer, nor give a probability"),
    ("where is A1?", "is it a tumor?", "Hilum cannot say whether A1 is a tumour (or cancer), nor give a probability"),
    ("A1在哪", "他抽烟40年了，这个结节是恶性的概率多大", "Hilum无法判断A1是不是癌(恶性),也不能给出其概率"),
    ("A1在哪", "是肿瘤吗", "Hilum无法判断A1是不是肿瘤或癌,也不能给出其概率"),
])
def test_a_verdict_asked_is_refused_first_and_the_checklist_follows(make_facts: Callable[..., ImageFacts], before: str,
                                                                    question: str, lead: str) -> None:
    """The sign count came with no word that Hilum cannot say whether it is cancer ("是肿瘤吗" was a generic refusal)."""
    turn = _session(make_facts(), before, question, lang="zh" if before == "A1在哪" else "en")
    assert turn.intent == "sign_checklist" and _kinds(turn)[0] == "no_verdict"
    assert turn.answer.text.startswith(lead)
    assert ("CT" in _section(turn, "no_verdict")) and turn.checklist["name"] == "early_lung_cancer"
    assert _kinds(turn).index("no_verdict") < _kinds(turn).index("checklist")


def test_signs_counted_are_not_a_verdict_asked(make_facts: Callable[..., ImageFacts]) -> None:
    turn = _session(make_facts(), "where is A1?", "If this were early lung cancer, how many typical signs does it show?")
    assert turn.intent == "sign_checklist" and "no_verdict" not in _kinds(turn)
    assert parse("any signs of lung cancer?").verdict_asked is None
    assert parse("is it benign or malignant?").verdict_asked == "benign_or_malignant"


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "Of the signs present, more than 3 cm from the hilum and round or oval nodule are non-specific"),
    ("zh", "其中距肺门大于3 cm、圆形或类圆形结节是非特异性表现"),
])
def test_the_non_specific_signs_present_are_named_and_the_specific_ones_counted(
        make_facts: Callable[..., ImageFacts], lang: str, said: str) -> None:
    """The count mixed in what most peripheral nodules have (round or oval, more than 3 cm from the hilum) with no
    word: they stay in the checklist, and the answer says which are non-specific (signs.json specificity 0.3 or less)
    and how many of the rest are present (the scenario's spiculated margin: 1 of 3)."""
    turn = _session(make_facts(), "A1在哪" if lang == "zh" else "where is A1?",
                    "是恶性的吗" if lang == "zh" else "is it malignant?", lang=lang)
    score = _section(turn, "score")
    assert said in score
    assert ("特异性较高的征象可判定的3条中符合1条" if lang == "zh" else "1 of the 3 decidable more specific signs is present") in score
    assert (turn.checklist["matched"], turn.checklist["total"]) == (3, 5)  # the count itself is unchanged


# --- 2. a disease with no checklist, and the differential -------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "checklist", "said"), [
    ("Could it be a hamartoma?", "en", "benign_nodule",
     "Hilum has no sign checklist for hamartoma; the closest it has is the benign nodule checklist"),
    ("错构瘤吗", "zh", "benign_nodule", "本系统没有错构瘤的征象清单;最接近的是良性结节的清单"),
    ("可能是炎性假瘤吗", "zh", "benign_nodule", "本系统没有炎性假瘤的征象清单;最接近的是良性结节的清单"),
    ("could it be a lung abscess?", "en", "pneumonia",
     "Hilum has no sign checklist for lung abscess; the closest it has is the pneumonia checklist"),
])
def test_a_disease_without_a_checklist_names_the_closest_one(make_facts: Callable[..., ImageFacts], question: str,
                                                              lang: str, checklist: str, said: str) -> None:
    """They ran the early lung cancer checklist with no word said."""
    turn = _session(make_facts(), "A1在哪" if lang == "zh" else "where is A1?", question, lang=lang)
    assert turn.intent == "sign_checklist" and _kinds(turn)[0] == "no_checklist"
    assert turn.answer.text.startswith(said) and turn.checklist["name"] == checklist
    # a metastasis is still answered as before: no checklist, the default one for reference only
    meta = _session(make_facts(), "where is A1?", "could it be a metastasis?")
    assert "Hilum has no sign checklist for metastases" in meta.answer.text
    assert meta.checklist["name"] == "early_lung_cancer"


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("What else could it be?", "en", "Hilum does not give a differential diagnosis"),
    ("还可能是什么", "zh", "Hilum不给出鉴别诊断"),
])
def test_what_else_it_could_be_gets_no_differential(make_facts: Callable[..., ImageFacts], question: str, lang: str,
                                                    said: str) -> None:
    turn = _session(make_facts(), "A1在哪" if lang == "zh" else "where is A1?", question, lang=lang)
    assert turn.intent == "sign_checklist" and _kinds(turn)[0] == "differential"
    assert turn.answer.text.startswith(said)
    assert ("它可以描述A1在片上的表现" if lang == "zh" else "It can describe what the film shows of A1") in turn.answer.text


# --- 3. a biopsy --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang"), [
    ("Should we biopsy it?", "en"), ("should it be biopsied?", "en"), ("需要活检吗", "zh"), ("要不要穿刺", "zh"),
])
def test_a_biopsy_asked_is_told_hilum_recommends_no_test(make_facts: Callable[..., ImageFacts], question: str,
                                                         lang: str) -> None:
    """A margin answer ("should it be biopsied?") or the generic refusal: the reply a CT question gets."""
    turn = _session(make_facts(), "A1在哪" if lang == "zh" else "where is A1?", question, lang=lang)
    ct = _session(make_facts(), "A1在哪" if lang == "zh" else "where is A1?", "需要做CT吗" if lang == "zh" else
                  "should we do a CT?", lang=lang)
    assert turn.intent == "out_of_scope" and _kinds(turn)[0] == "next_step" == _kinds(ct)[0]
    head = "本系统不推荐检查或治疗" if lang == "zh" else "Hilum does not recommend tests or treatment"
    assert turn.answer.text.startswith(head) and ct.answer.text.startswith(head)


# --- 4. short follow-ups ------------------------------------------------------------------------------------


def _five_findings(facts: ImageFacts) -> ImageFacts:
    f = facts.findings[0]
    return dataclasses.replace(facts, findings=tuple(
        dataclasses.replace(f, id=f"F{i}", center_px=(140.0 + 10 * i, 260.0 - 30 * i)) for i in range(1, 6)))


@pytest.mark.parametrize(("questions", "lang", "said"), [
    (("the fourth one",), "en", "There are only 2 findings on this film, in the order listed: A1"),
    (("第四个",), "zh", "本片只有2处病灶,按列出的顺序为:A1"),
])
def test_an_ordinal_past_the_findings_says_how_many_there_are(make_facts: Callable[..., ImageFacts],
                                                              questions: tuple[str, ...], lang: str, said: str) -> None:
    """"The fourth one" on a two-finding film was "outside what a chest radiograph can show"."""
    turn = _session(make_facts(), *questions, lang=lang)
    assert turn.intent == "locate" and turn.answer.text.startswith(said)


@pytest.mark.parametrize(("question", "lang", "anchor"), [
    ("the fifth one", "en", "A5"), ("第五个", "zh", "A5"), ("the last one", "en", "A5"), ("最后一个", "zh", "A5"),
    ("the fourth one", "en", "A4"),
])
def test_ordinals_past_the_third_and_the_last_resolve(make_facts: Callable[..., ImageFacts], question: str, lang: str,
                                                      anchor: str) -> None:
    turn = _session(_five_findings(make_facts()), question, lang=lang)
    assert turn.intent == "locate" and turn.referenced_anchor_ids == (anchor,)
    assert _session(_five_findings(make_facts()), "the sixth one").answer.text.startswith(
        "There are only 5 findings on this film")
    # a rib counted is no ordinal
    assert parse("Is the strand at the level of the 9th posterior rib?").ordinal is None


@pytest.mark.parametrize(("question", "lang", "anchor"), [
    ("the former", "en", "A1"), ("the latter", "en", "A2"), ("前一个", "zh", "A1"), ("后一个", "zh", "A2"),
    ("the last one", "en", "A2"), ("最后一个", "zh", "A2"),
])
def test_the_former_the_latter_and_the_last_point_at_a_finding(make_facts: Callable[..., ImageFacts], question: str,
                                                               lang: str, anchor: str) -> None:
    turn = _session(make_facts(), "compare A1 and A2" if lang == "en" else "比较A1和A2", question, lang=lang)
    assert turn.intent == "locate" and turn.referenced_anchor_ids == (anchor,)
    one = dataclasses.replace(make_facts(), findings=make_facts().findings[:1])
    assert _session(one, "the latter").answer.text.startswith("Only one finding is on this film")


def _hedged(facts: ImageFacts) -> ImageFacts:
    f1 = dataclasses.replace(facts.findings[0], attribute_confidence={"margin": 0.6, "lobe": 0.9}, lobe_overlap=("RLL",))
    return dataclasses.replace(facts, findings=(f1, facts.findings[1]))


@pytest.mark.parametrize(("questions", "lang", "said"), [
    (("what is the margin of A1?", "why?"), "en", "the margin is read from the lesion map, drawn at half the working "
     "image's resolution"),
    (("what is the margin of A1?", "why can't you tell?"), "en", "the calibrated probability of the margin reading is "
     "about 0.60, under the 0.8"),
    (("A1边缘怎么样", "为什么"), "zh", "边缘读自病灶图,其分辨率只有工作图像的一半"),
    (("where is A1?", "why?"), "en", "a frontal film is one projection of the chest's whole depth, and here the right "
     "middle lobe and the right lower lobe overlap"),
])
def test_why_after_a_hedged_answer_explains_the_hedge(make_facts: Callable[..., ImageFacts], questions: tuple[str, ...],
                                                      lang: str, said: str) -> None:
    """"Why?" / "为什么" / "why can't you tell?" were "outside what a chest radiograph can show"."""
    turn = _session(_hedged(make_facts()), *questions, lang=lang)
    assert turn.intent == "confidence" and _kinds(turn)[0] == "why_hedged"
    assert said in _section(turn, "why_hedged") and turn.referenced_anchor_ids == ("A1",)


def _grown(facts: ImageFacts) -> IntervalComparison:
    f = facts.findings[0]
    change = FindingChange(finding_id=f.id, earlier_id="F1", kind=f.kind, side=f.side, lobe=f.lobe, now_mm=12.0,
                           then_mm=8.0, status="larger")
    return IntervalComparison(comparable=True, reason="", interval_days=180, sizes_from_file=True, changes=(change,))


@pytest.mark.parametrize(("questions", "lang", "said"), [
    (("has the nodule grown?", "by how much?"), "en", "larger by 4.0 mm (50%)"),
    (("结节长大了吗", "长大了多少"), "zh", "增大4.0 mm(50%)"),
    (("长大了多少",), "zh", "增大4.0 mm(50%)"),
])
def test_by_how_much_after_a_change_gives_it_in_mm_and_percent(make_facts: Callable[..., ImageFacts],
                                                               questions: tuple[str, ...], lang: str, said: str) -> None:
    facts = make_facts()
    turn = _session(facts, *questions, lang=lang, interval=_grown(facts))
    assert turn.intent == "interval_change" and said in turn.answer.text


@pytest.mark.parametrize(("questions", "said"), [
    (("hmm",), "I did not understand that question. You can ask, for example, \"where is A1?\""),
    (("?",), "I did not understand that question."),
    (("where is A2?", "by how much?"), "The last answer gave no size, distance or change between films"),
])
def test_nothing_understood_is_said_so_with_questions_to_ask(make_facts: Callable[..., ImageFacts],
                                                             questions: tuple[str, ...], said: str) -> None:
    turn = _session(make_facts(), *questions)
    assert turn.intent == "out_of_scope" and turn.answer.text.startswith(said)
    assert "outside what a chest radiograph can show" not in turn.answer.text
    # a question of something a radiograph does not show is still out of scope, said so
    assert "outside what a chest radiograph can show" in _session(make_facts(), "can you read her mammogram").answer.text


# --- 5. a landmark outside the vocabulary's ---------------------------------------------------------------------


def _with_spine(facts: ImageFacts) -> ImageFacts:
    spine = AnatomyRegion("spine", (255.0, 290.0), (240.0, 100.0, 270.0, 480.0),
                          ((240.0, 100.0), (270.0, 100.0), (270.0, 480.0), (240.0, 480.0)))
    return dataclasses.replace(facts, anatomy=dataclasses.replace(facts.anatomy, regions=(*facts.anatomy.regions, spine)))


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("How far from the spine?", "en", "A1's edge is about 63.7 mm from the spine."),
    ("离脊柱多远", "zh", "A1边缘距脊柱边缘约63.7 mm。"),
])
def test_the_spine_is_measured_to_where_the_maps_draw_it(make_facts: Callable[..., ImageFacts], question: str,
                                                         lang: str, said: str) -> None:
    """"How far from the spine?" measured to the hilum without a word ("离脊柱多远": the bones are not read)."""
    turn = _session(_with_spine(make_facts()), "A1在哪" if lang == "zh" else "where is A1?", question, lang=lang)
    assert turn.intent == "measure_relation" and turn.answer.text.startswith(said)
    assert [(m["to"], m["mm"]) for m in turn.measurements] == [("spine", 63.7)]
    plain = _session(make_facts(), "where is A1?", question if lang == "en" else "How far from the spine?")
    assert plain.answer.text.startswith("No outline of the spine was found on this film, so A1's distance to it cannot "
                                        "be measured") and not plain.measurements


def test_a_landmark_not_measured_to_is_said_so(make_facts: Callable[..., ImageFacts]) -> None:
    turn = _session(make_facts(), "how far is A2 from the aorta?")
    assert turn.intent == "measure_relation" and not turn.measurements
    assert turn.answer.text.startswith("Hilum does not measure distances to the aorta. It measures a finding's distance "
                                       "to the hilum")


# --- 6. yes / no and "what is it?" ------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "said"), [
    ("that one is in the left lung right?", "Yes: A2 is in the left lung."),
    ("it is in the left lower lobe, correct?", "Yes: A2 is in the left lower lobe."),
])
def test_a_place_stated_with_a_tag_is_answered_yes_and_where(make_facts: Callable[..., ImageFacts], question: str,
                                                             said: str) -> None:
    """"That one is in the left lung right?" got a margin answer (its "right" read as a side beside "left")."""
    turn = _session(make_facts(), "where is A2?", question)
    assert turn.intent == "locate" and turn.answer.text.startswith(said)
    assert "A2 lies in the left lung" in turn.answer.text
    assert parse("is it on the right?").side == "right"  # a side asked keeps its side


@pytest.mark.parametrize(("questions", "facts_of", "said"), [
    (("is A2 the heart?",), "adult", "Hilum does not identify normal structures, and it cannot tell whether A2 is the "
     "heart or a lesion"),
    (("where is A1?", "is it the thymus?"), "child", "A child's thymus can be large"),
    (("A1在哪", "是胸腺吗"), "child", "本系统不识别正常解剖结构,无法判断A1是胸腺还是病灶"),
])
def test_a_finding_asked_to_be_a_normal_structure(make_facts: Callable[..., ImageFacts], questions: tuple[str, ...],
                                                  facts_of: str, said: str) -> None:
    facts = make_facts()
    if facts_of == "child":
        facts = dataclasses.replace(facts, film_check=FilmCheck(view="frontal", age_group="child"))
    turn = _session(facts, *questions, lang="zh" if "A1在哪" in questions else "en")
    assert turn.intent == "locate" and _kinds(turn)[0] == "structure_or_lesion"
    assert said in turn.answer.text and ("侧位片" in turn.answer.text or "lateral view" in turn.answer.text)


def test_what_is_it_describes_the_finding_and_names_nothing(make_facts: Callable[..., ImageFacts]) -> None:
    """"What is it?" with a finding in focus answered its margin alone."""
    turn = _session(make_facts(), "where is A1?", "what is it?")
    assert _kinds(turn)[0] == "not_named"
    assert turn.answer.text.startswith("Hilum does not say what A1 is (it gives no diagnosis)")
    assert "A1: a round nodule in the right middle lobe" in turn.answer.text and "12.0 mm" in turn.answer.text
