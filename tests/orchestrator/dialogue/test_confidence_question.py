""""How sure are you?" is answered with the calibrated probabilities the answers already act on (issue 20: every
finding and attribute carries one), for the finding meant or every finding, never "which one?". It read as out of
scope ("how confident are you?") or as a size question ("你有多大把握") before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.dialogue.parser import parse
from orchestrator.encoders.second_reader import ALONE_REAL_INSERTED


@pytest.mark.parametrize(("question", "attribute"), [
    ("how confident are you?", None), ("你有多大把握", None), ("确定吗", None),
    ("how sure are you about the margin?", "margin"), ("边缘这个判断可靠吗", "margin"),
    ("how certain is the size of the nodule?", "size"), ("how likely is it real?", "presence"),
])
def test_confidence_questions_and_the_statement_asked(question: str, attribute: str | None) -> None:
    q = parse(question)
    assert (q.intent, q.attribute) == ("confidence", attribute)


def test_every_finding_with_its_probabilities_and_whether_they_are_stated_flatly(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    facts = make_facts()
    f1, f2 = facts.findings
    facts = replace(facts, findings=(replace(f1, attribute_confidence={"margin": 0.62, "size": 0.93}), f2))
    turn = ask("how confident are you?", facts=facts)
    assert turn.intent == "confidence" and not turn.clarification
    text = turn.answer.text
    assert "A1" in text and "A2" in text
    assert "that it is a real lesion, about 0.90 (stated flatly)" in text
    assert "its margin as stated, about 0.62 (hedged)" in text and "its size (within 20%), about 0.93 (stated flatly)" in text
    assert "that it is a real lesion, about 0.70 (hedged)" in text  # A2
    margin = ask("how sure are you about the margin of the nodule?", facts=facts).answer.text
    assert "its margin as stated, about 0.62 (hedged)" in margin and "A2" not in margin and "size" not in margin
    zh = ask("A2有多大把握", lang="zh", facts=facts).answer.text
    assert "A2" in zh and "是真实病灶约0.70(措辞保留)" in zh and "A1" not in zh


@pytest.mark.parametrize("question", ["why is A2 only 'possibly'?", "为什么A2只是可能"])
def test_why_a_finding_is_only_possibly_there(question: str, ask: Callable[..., Any]) -> None:
    turn = ask(question, lang="zh" if "为什么" in question else "en")
    assert turn.intent == "confidence" and [a["id"] for a in turn.anchors if a["kind"] == "finding"] == ["A2"]
    assert ("0.70" in turn.answer.text) and ("hedged" in turn.answer.text or "措辞保留" in turn.answer.text)


@pytest.mark.parametrize("question", ["could you have missed anything?", "会不会漏掉小的 nodule?", "did you miss a nodule?"])
def test_what_may_be_missed_is_said_of_the_read_not_of_a_finding(question: str, ask: Callable[..., Any]) -> None:
    turn = ask(question)
    assert (turn.intent, parse(question).attribute) == ("confidence", "missed")
    assert not [a for a in turn.anchors if a["kind"] == "finding"] and not turn.clarification
    text = turn.answer.text
    assert ("8 mm" in text) and ("not been measured" in text or "没有测定" in text)
    assert "ruled out" in text or "排除" in text


@pytest.mark.parametrize("question", [
    "what are the limits of this reading?", "what might you miss?", "how good are you on real films?",
    "what are your limitations?", "你的局限性是什么", "准确率多少",
])
def test_hilums_own_limits_asked_say_what_it_may_miss(question: str) -> None:
    """"What are the limits of this reading?" was read as a margin question ("which one do you mean?"), "what might you
    miss?" and "how good are you on real films?" as out of scope."""
    assert (parse(question).intent, parse(question).attribute) == ("confidence", "missed")
    assert parse("Is the CTR within normal limits on this PA film?").intent == "assess_anatomy"


def test_sure_there_is_nothing_on_a_film_with_nothing_says_what_may_be_missed(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """"Are you sure there is nothing?" on a film with no finding said only that there was nothing to give a probability
    for."""
    empty = replace(make_facts(), findings=())
    for question, lang in (("are you sure there is nothing?", "en"), ("你确定没有吗", "zh")):
        text = ask(question, lang=lang, facts=empty).answer.text
        assert ("about nine in ten lesions of 8 mm or more" in text) if lang == "en" else ("约九成 8 mm 及以上的病灶" in text)


def test_what_a_film_read_alone_may_miss_is_measured_where_such_films_were(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """A real child's film, read by the second reader alone, was told "on validation phantom films it finds about nine in
    ten lesions of 8 mm or more": that is the main weights' rate on the phantom's own patient. Films read alone are
    unfamiliar ones; on the CT no weights had seen, the second reader found about six in ten nodules."""
    from orchestrator.encoders.second_reader import ALONE_NODULES_BY_SIZE, ALONE_NODULES_FOUND
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE

    facts = make_facts()
    alone = replace(facts, film_check=replace(facts.film_check, warnings=(READ_ALONE,)))
    text = ask("could you have missed anything?", facts=alone).answer.text
    found, nodules = ALONE_NODULES_FOUND
    assert f"that reader found {found} of {nodules} nodules of 9-25 mm (" in text and "nine in ten" not in text
    # by size, from the same films: the small nodules are what it misses
    (lo, hi, small_found, small), (_, _, large_found, large) = ALONE_NODULES_BY_SIZE
    assert (small_found + large_found, small + large) == ALONE_NODULES_FOUND and small_found / small < 0.5
    assert f"({lo}-{hi} mm: {small_found} of {small}; " in text
    zh = ask("你会不会漏掉什么?", facts=alone, lang="zh").answer.text
    assert f"({lo}–{hi} mm:{small}个中{small_found}个;" in zh
    assert "behind the heart" in text and "not been measured" not in text
    # and as measured on real films: plain nodules put into the real checking films (ALONE_REAL_INSERTED)
    assert all(f < n / 2 for _, _, f, n in ALONE_REAL_INSERTED)  # "fewer than half" is what the counts say
    assert "Of plain nodules put into real children's films it found fewer than half (" + "; ".join(
        f"{lo}-{hi} mm: {f} of {n}" for lo, hi, f, n in ALONE_REAL_INSERTED) + ")." in text
    assert "在放入真实儿童胸片的清晰结节中,它找到的也不到一半(" in zh
    assert "nine in ten" in ask("could you have missed anything?", facts=facts).answer.text


def test_what_may_be_missed_says_how_few_hidden_lesions_were_found(make_facts: Callable[..., Any],
                                                                   ask: Callable[..., Any]) -> None:
    """"Could you have missed anything?" said nine in ten lesions were found, measured on films where every lesion lay
    on the open lung field; placed behind the heart, the mediastinum or a dome, far fewer were (``CaseSpec.hidden``).
    The answer gives both, and "anything behind the heart?" with nothing found there says how few were found there."""
    from orchestrator.encoders.second_reader import ALONE_HIDDEN_FOUND, HIDDEN_FOUND
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE

    facts = make_facts()
    heart, mediastinum, dome = HIDDEN_FOUND["heart"], HIDDEN_FOUND["mediastinum"], HIDDEN_FOUND["diaphragm"]
    assert all(f / n < 0.75 for f, n in (heart, mediastinum)) and list(HIDDEN_FOUND) == list(ALONE_HIDDEN_FOUND)
    text = ask("could you have missed anything?", facts=facts).answer.text
    assert "nine in ten lesions of 8 mm or more on the open lung field" in text
    assert (f"behind the heart {heart[0]} of {heart[1]}, behind the mediastinum {mediastinum[0]} of {mediastinum[1]} "
            f"and behind a dome {dome[0]} of {dome[1]}") in text
    zh = ask("你会不会漏掉什么?", facts=facts, lang="zh").answer.text
    assert f"心影后方{heart[1]}个中{heart[0]}个" in zh
    alone = replace(facts, film_check=replace(facts.film_check, warnings=(READ_ALONE,)))
    f, n = ALONE_HIDDEN_FOUND["heart"]
    assert f"at physical contrast, it found behind the heart {f} of {n}" in ask(
        "could you have missed anything?", facts=alone).answer.text
    # asked behind the heart, with nothing there (the scenario's findings lie elsewhere)
    empty = replace(facts, findings=())
    behind = ask("anything behind the heart?", facts=empty).answer.text
    assert f"Behind the heart lesions are missed most: on simulated films it found {heart[0]} of {heart[1]}" in behind
    assert "Behind the heart" not in ask("anything in the right upper zone?", facts=empty).answer.text


@pytest.mark.parametrize("question", ["where is the pneumonia?", "is it bilateral?", "any air bronchograms?"])
def test_nothing_to_describe_says_what_not_found_can_hide(question: str, make_facts: Callable[..., Any],
                                                          ask: Callable[..., Any]) -> None:
    """"Where is the pneumonia?" on a real pneumonia film with nothing found, read by the second reader alone, was told
    only "no lesion was found on this film, so there is nothing to describe": a lesion not found is not ruled out."""
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE

    empty = replace(make_facts(), findings=())
    alone = replace(empty, film_check=replace(empty.film_check, warnings=(READ_ALONE,)))
    text = ask(question, facts=alone).answer.text
    assert text.startswith("No lesion was found on this film, so there is nothing to describe.")
    assert "read by the second reader alone, which can miss larger ones too" in text
    lo, hi, found, put = ALONE_REAL_INSERTED[-1]
    assert f"of plain {lo}-{hi} mm nodules put into real films it found {found} of {put}." in text
    assert "a smaller or fainter one can be missed" in ask(question, facts=empty).answer.text
    assert "本片由第二读片模型单独读取" in ask("肺炎在哪", lang="zh", facts=alone).answer.text


def test_on_a_film_read_alone_a_lesion_not_found_is_not_ruled_out(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """A real child's pneumonia film, read by the second reader alone with nothing found, was told "consolidation: no",
    "pleural effusion: no", and "0 of the 4 decidable signs" of pneumonia: that reader found about six in ten nodules
    on an unseen patient's films, so what it did not find is uncertain there, never "no" (nor is the checklist's
    parapneumonic effusion, which the sharp angles had left "no")."""
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE

    empty = replace(make_facts(), findings=())
    alone = replace(empty, film_check=replace(empty.film_check, warnings=(READ_ALONE,)))
    for question in ("is there consolidation?", "is there a pleural effusion?"):
        assert sign_status(ask(question, facts=empty)) == "no"
        turn = ask(question, facts=alone)
        assert sign_status(turn) == "uncertain" and "read by the second reader alone, which can miss a lesion" in (
            turn.answer.text)
    card = ask("is there pneumonia?", facts=alone).checklist
    items = {i["sign"]: i["status"] for i in card["items"]}
    assert items["consolidation"] == items["patchy_opacity"] == items["air_bronchogram"] == "uncertain"
    # "parapneumonic effusion (blunted costophrenic angle)": what "is there a pleural effusion?" says, which cannot judge
    # it here (it had said "no", counted "0 of the 1 decidable signs")
    assert items["costophrenic_angle_blunting"] == "uncertain"
    assert (card["matched"], card["total"]) == (0, 0)
    tb = ask("could this be TB?", facts=alone)
    assert tb.checklist["total"] == 0 and "None of these signs can be decided on this film." in tb.answer.text
    assert ask("is there pneumonia?", facts=empty).checklist["total"] == 4
    # the screening's "elsewhere" line: it had said flatly "the remaining lung fields show no mass, consolidation, ..."
    elsewhere = "remaining lung fields show no"
    assert elsewhere in ask("anything abnormal?", facts=empty).answer.text
    screened = ask("anything abnormal?", facts=alone).answer.text
    assert elsewhere not in screened and "was found in the remaining lung fields, but this film was read by the second " \
        "reader alone, which can miss a lesion." in screened
    assert "但本片由第二读片模型单独读取,它可能漏掉病灶" in ask("有什么异常吗", facts=alone, lang="zh").answer.text


def sign_status(turn: Any) -> str:
    return next(s for s in turn.answer.sections if s["kind"] == "sign")["status"]


def test_nothing_found_on_a_film_read_alone_says_its_reader_misses_more(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """"None seen", "is this film normal?" and "what next?" on a film read alone said only that lesions under about 8 mm
    can be missed, and "what next?" that the reading "leaves nothing on this film unsettled"."""
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE

    empty = replace(make_facts(), findings=())
    alone = replace(empty, film_check=replace(empty.film_check, warnings=(READ_ALONE,)))
    more = "read by the second reader alone, which can miss larger ones too"
    for question in ("anything in the right upper zone?", "is this film normal?"):
        assert more in ask(question, facts=alone).answer.text and more not in ask(question, facts=empty).answer.text
    assert "nothing found on it does not rule a lesion out" in ask("what should be done next?", facts=alone).answer.text
    assert "leaves nothing on this film unsettled" in ask("what should be done next?", facts=empty).answer.text
    assert "更大的病灶也可能漏掉" in ask("这个片子正常吗", lang="zh", facts=alone).answer.text


def read_alone_as_analysed(facts: Any) -> Any:
    """Facts of a film read by the second reader alone as ``analyse(..., read_alone=True)`` makes them: its hilum
    points, the hila's outlines and every distance to a hilum not given (``hila_levels.HILA_READ_ALONE``)."""
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE
    from orchestrator.findings.hila_levels import HILA_READ_ALONE

    anatomy = replace(facts.anatomy, hilum_px={},
                      regions=tuple(r for r in facts.anatomy.regions if not r.name.startswith("hilum")))
    return replace(facts, anatomy=anatomy, findings=tuple(replace(f, hilum=None) for f in facts.findings),
                   film_check=replace(facts.film_check, warnings=(READ_ALONE, HILA_READ_ALONE)))


def test_a_distance_to_a_hilum_on_a_film_read_alone_is_not_measured_and_says_why(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """On the real checking films the second reader's right hilum lay just above the right dome; "how far is it from
    the right hilum?" there gave a distance to it (until 2026-12-08 with a note that the hilum was its estimate). A film
    read alone now gives no hilum, and each hilum question says why."""
    facts = make_facts()
    alone = read_alone_as_analysed(facts)
    why = "whose hilum points were found misplaced on films unlike its training films"
    far = ask("how far is A1 from the right hilum?", facts=alone).answer.text
    assert "A1's distance to a hilum cannot be measured" in far and why in far
    assert why not in ask("how far is A1 from the right hilum?", facts=facts).answer.text
    assert why in ask("is the left hilum higher than the right?", facts=alone).answer.text
    assert "经核查有误" in ask("A1离右肺门多远", lang="zh", facts=alone).answer.text


def test_where_a_hilum_is_on_a_film_read_alone_says_none_is_placed_and_why(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """"Where is the right hilum?" on a real film answered a bare image position (then, until 2026-12-08, one worded as
    the second reader's estimate); no hilum is placed on a film read alone, and the answer says why."""
    facts = make_facts()
    turn = ask("where is the right hilum?", facts=read_alone_as_analysed(facts))
    assert "No position for the right hilum was established" in turn.answer.text
    assert "read by the second reader alone" in turn.answer.text and "3.5 cm" not in turn.answer.text
    assert "(right hilum, marked on the film) lies about 3.5 cm" in ask("where is the right hilum?", facts=facts).answer.text


def test_a_film_whose_findings_are_all_possible_is_possibly_not_normal(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """"Is this film normal?" on a real film read alone answered "No:" from two findings each worded "possibly" (a film
    read alone never states one flatly): it says "possibly not", and that each needs a check."""
    facts = make_facts()
    unsure = replace(facts, findings=tuple(replace(f, confidence=0.55) for f in facts.findings))
    text = ask("is this film normal?", facts=unsure).answer.text
    assert text.startswith("Possibly not: among the signs Hilum reads, this film shows 2 regions that may be lesions "
                           "(below), none of them certain; each needs a radiologist's check.")
    assert ask("这个片子正常吗", lang="zh", facts=unsure).answer.text.startswith("可能不正常:")
    assert ask("is this film normal?", facts=facts).answer.text.startswith("No: among the signs Hilum reads")  # A1 sure
    blunted = replace(unsure, anatomy=replace(unsure.anatomy, costophrenic=tuple(
        replace(c, state="blunted") for c in unsure.anatomy.costophrenic)))
    assert ask("is this film normal?", facts=blunted).answer.text.startswith("No:")  # a blunted angle is read, not possible


def test_an_angle_read_from_the_second_readers_field_alone_is_possibly_blunted(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """A normal child's film read alone was told "the left costophrenic angle is blunted" and, asked whether it was
    normal, "No: ... a blunted left costophrenic angle": the angle is read from that reader's lung field outline, and no
    finding of such a film is stated flatly."""
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE

    facts = replace(make_facts(), findings=())
    angles = (facts.anatomy.costophrenic[0], replace(facts.anatomy.costophrenic[1], state="blunted", angle_deg=95.0))
    blunted = replace(facts, anatomy=replace(facts.anatomy, costophrenic=angles))
    alone = replace(blunted, film_check=replace(blunted.film_check, warnings=(READ_ALONE,)))
    assert "The left costophrenic angle is possibly blunted." in ask("anything abnormal?", facts=alone).answer.text
    assert "The left costophrenic angle is blunted." in ask("anything abnormal?", facts=blunted).answer.text
    assert ask("is this film normal?", facts=alone).answer.text.startswith(
        "Possibly not: among the signs Hilum reads, this film shows a possibly blunted left costophrenic angle (below), "
        "not certain; it needs a radiologist's check.")
    assert ask("is this film normal?", facts=blunted).answer.text.startswith("No:")
    assert "The left costophrenic angle is possibly blunted (about 95°)." in ask(
        "are the costophrenic angles sharp?", facts=alone).answer.text
    card = ask("signs of pleural effusion?", facts=alone).checklist
    assert next(i for i in card["items"] if i["sign"] == "costophrenic_angle_blunting")["status"] == "uncertain"
    item = next(i for i in card["items"] if i["sign"] == "costophrenic_angle_blunting")
    assert item["evidence"] == "costophrenic angles: right sharp, left possibly blunted"  # as every other answer says
    assert "左肋膈角可能变钝" in ask("有什么异常", lang="zh", facts=alone).answer.text
