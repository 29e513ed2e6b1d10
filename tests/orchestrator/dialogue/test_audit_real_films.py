"""An audit of the dialogue on real children's films, other-CT DICOM films and a phantom: each answer below had said more
than the facts allow, or answered another question. On hand-built facts (the SCENARIO's: A1 a 12 mm spiculated RML
nodule, A2 a 25 × 18 mm LLL strand, worded "possibly"; A3 and A4 the hila)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from orchestrator.dialogue.parser import parse
from orchestrator.encoders.second_reader import WARNING as READ_ALONE
from orchestrator.facts import AnatomyRegion, FilmCheck, ImageFacts, PixelSpacing
from orchestrator.findings.dome_floor import DOME_UNPLACED
from orchestrator.findings.hila_levels import HILA_READ_ALONE, HILA_UNPLACED
from orchestrator.findings.spacing import FROM_THORAX
from tests.orchestrator.dialogue.conftest import scenario_facts
from tests.orchestrator.dialogue.test_pointing import dialogue, kinds


def read_alone(facts: ImageFacts, *warnings: str) -> ImageFacts:
    """``facts`` as a film read by the second reader alone (every real film today): no hila given."""
    check = dataclasses.replace(facts.film_check, warnings=(READ_ALONE, HILA_READ_ALONE, *warnings))
    anatomy = dataclasses.replace(facts.anatomy, hilum_px={},
                                  regions=tuple(r for r in facts.anatomy.regions if not r.name.startswith("hilum")))
    findings = tuple(dataclasses.replace(f, hilum=None, confidence=min(f.confidence, 0.5)) for f in facts.findings)
    return dataclasses.replace(facts, film_check=check, anatomy=anatomy, findings=findings)


def one(facts: ImageFacts, question: str, lang: str = "en") -> Any:
    (turn,) = dialogue(facts, question, lang=lang)
    return turn


# --- 1. segments are not mapped ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "fid"), [
    ("is A1 in the apical segment?", "en", "A1"),
    ("is A2 in the superior segment of the left lower lobe?", "en", "A2"),
    ("is A2 in the anterior basal segment?", "en", "A2"),
    ("which segment is A1 in?", "en", "A1"),
    ("A2在左下叶背段吗?", "zh", "A2"),
    ("A1在哪个肺段?", "zh", "A1"),
])
def test_a_segment_asked_is_never_a_yes_from_the_lobe_or_zone(question: str, lang: str, fid: str) -> None:
    """"is A2 in the superior segment of the left lower lobe?" of a basal strand had been "Yes: A2 is in the left lower
    lobe"; "is A1 in the apical segment?" "Yes: A1 is in the upper zone"."""
    assert parse(question).segment is not None
    turn = one(scenario_facts(), question, lang)
    assert turn.referenced_anchor_ids == (fid,)
    assert not any(s["text"].startswith(("Yes", "是")) for s in turn.answer.sections)
    (seg,) = [s for s in turn.answer.sections if s["kind"] == "segment"]
    if lang == "en":
        assert "does not map the lung's segments" in seg["text"] and "a lateral view or CT would settle the segment" in seg["text"]
        assert "territory" in seg["text"]
    else:
        assert "本系统不划分肺段" in seg["text"] and "侧位片或CT可明确所属肺段" in seg["text"]


def _lul_facts() -> ImageFacts:
    base = scenario_facts()
    f2 = dataclasses.replace(base.findings[1], lobe="LUL", zone="middle", lobe_overlap=(), confidence=0.95)
    return dataclasses.replace(base, findings=(base.findings[0], f2))


@pytest.mark.parametrize(("question", "lang"), [("is A2 in the lingula?", "en"), ("A2在舌段吗?", "zh")])
def test_the_lingula_asked_of_a_left_upper_lobe_finding_is_not_a_yes(question: str, lang: str) -> None:
    """"is A3 in the lingula?" had been "Yes: A3 is in the left upper lobe" (zh "是:A3位于左肺上叶")."""
    turn = one(_lul_facts(), question, lang)
    assert "Yes" not in turn.answer.text and "是:" not in turn.answer.text
    assert ("left upper lobe territory" if lang == "en" else "左肺上叶区域") in turn.answer.text
    assert ("the lingula" if lang == "en" else "舌段") in turn.answer.text


def test_the_lingula_asked_of_a_right_lung_finding_is_no() -> None:
    turn = one(scenario_facts(), "is A1 in the lingula?")
    (seg,) = [s for s in turn.answer.sections if s["kind"] == "segment"]
    assert seg["text"].startswith("No: A1 lies in the right lung, and the lingula is in the left lung.")


def test_a_lobe_asked_is_still_confirmed() -> None:
    turn = one(_lul_facts(), "is A2 in the left upper lobe?")
    assert turn.answer.text.startswith("Yes: A2 is in the left upper lobe.") and "segment" not in kinds(turn)


# --- 2. a possible effusion is a possible answer ------------------------------------------------------------------


def _effusion_facts(confidence: float, alone: bool = False) -> ImageFacts:
    """A2 an effusion-like opacity at the left base, its presence ``confidence`` (0.7: worded "possibly")."""
    base = scenario_facts()
    x0, _, x1, y1 = base.findings[1].bbox_px
    f2 = dataclasses.replace(base.findings[1], kind="effusion", shape="patchy", bbox_px=(x0, 367.0, x1, y1),
                             confidence=confidence)
    facts = dataclasses.replace(base, findings=(base.findings[0], f2))
    return read_alone(facts) if alone else facts


@pytest.mark.parametrize(("question", "lang", "alone"), [
    ("is there a pleural effusion?", "en", False), ("有胸腔积液吗?", "zh", False), ("is there a pleural effusion?", "en", True)])
def test_an_effusion_worded_possibly_is_possibly_an_effusion(question: str, lang: str, alone: bool) -> None:
    """The only effusion-like finding worded "possibly" (its presence under the threshold, or the film read alone) had
    given "Pleural effusion: yes … a small effusion"."""
    turn = one(_effusion_facts(0.7, alone), question, lang)
    (sign,) = [s for s in turn.answer.sections if s["kind"] == "sign"]
    assert sign["status"] == "uncertain"
    if lang == "en":
        assert "Pleural effusion: possibly, but this film cannot settle it." in sign["text"]
        assert "is possibly an effusion-like opacity" in sign["text"] and ": yes" not in turn.answer.text
    else:
        assert "胸腔积液:可能有,本片不能确定。" in sign["text"] and "可能为积液样密度影" in sign["text"]
    screen = dialogue(_effusion_facts(0.7, alone), "any signs of pleural effusion?")[0]
    item = next(i for i in screen.checklist["items"] if i["sign"] == "pleural_effusion")
    assert item["status"] == "uncertain" and "basal fluid opacity (possibly A2 → uncertain)" in screen.answer.text


def test_an_effusion_stated_flatly_is_still_yes() -> None:
    sign = next(s for s in one(_effusion_facts(0.95), "is there a pleural effusion?").answer.sections if s["kind"] == "sign")
    assert sign["status"] == "yes" and "is an effusion-like opacity" in sign["text"]
    screen = one(_effusion_facts(0.95), "any signs of pleural effusion?")
    assert next(i for i in screen.checklist["items"] if i["sign"] == "pleural_effusion")["status"] == "yes"


def test_a_possible_consolidation_is_possible_in_the_question_and_the_pneumonia_checklist() -> None:
    base = scenario_facts()
    f2 = dataclasses.replace(base.findings[1], kind="consolidation", shape="patchy", confidence=0.6)
    facts = dataclasses.replace(base, findings=(base.findings[0], f2))
    sign = next(s for s in one(facts, "is there consolidation?").answer.sections if s["kind"] == "sign")
    assert sign["status"] == "uncertain" and "possibly" in sign["text"]
    card = one(facts, "any signs of pneumonia?").checklist
    assert {i["sign"]: i["status"] for i in card["items"]}["consolidation"] == "uncertain"
    assert {i["sign"]: i["status"] for i in card["items"]}["patchy_opacity"] == "uncertain"
    # and the screening does not say "no finding was read as consolidation" of a film with one worded possibly
    assert "No finding was read as consolidation" not in dialogue(facts, "anything abnormal?")[0].answer.text


# --- 3. above the diaphragm: the alternative asked, and no contradiction of the lung map ---------------------------


def _dome_too_high() -> ImageFacts:
    """The right dome placed at A1's height (a dome marker misplaced): A1, a lung nodule 60 mm above the diaphragm on
    the lung map, lies "at about the level of the right dome"."""
    base = scenario_facts()
    domes = {"right": (150.0, 262.0), "left": (360.0, 410.0)}
    return dataclasses.replace(base, anatomy=dataclasses.replace(base.anatomy, diaphragm_dome_px=domes))


@pytest.mark.parametrize(("question", "lang"), [("is A1 above the diaphragm?", "en"), ("is A1 below the diaphragm?", "en"),
                                                ("A1在膈肌上方吗?", "zh")])
def test_a_lung_finding_is_not_said_not_above_the_diaphragm_by_a_misplaced_dome(question: str, lang: str) -> None:
    """"is A1 above the diaphragm?" had been "No: its centre lies at about the level of the right dome" of a nodule in
    the lung field."""
    turn = one(_dome_too_high(), question, lang)
    (height,) = [s for s in turn.answer.sections if s["title"] in ("Height", "高度")]
    assert not height["text"].startswith(("Yes", "No", "是", "否"))
    assert ("cannot be settled from this film" if lang == "en" else "本片无法确定") in height["text"]
    assert ("lies in the lung field" if lang == "en" else "位于肺野内") in height["text"]


def test_a_lung_finding_below_a_well_placed_dome_is_still_above_it() -> None:
    assert one(scenario_facts(), "is A1 above the diaphragm?").answer.text.startswith(
        "Yes: A1's centre lies about 9.8 cm above the right dome of the diaphragm.")


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("A2在膈肌上方还是下方?", "zh", "A2中心位于左侧膈顶上方约2.1 cm。"),
    ("is A2 above or below the diaphragm?", "en", "A2's centre lies about 2.1 cm above the left dome of the diaphragm."),
    ("is A1 above or below the right hilum?", "en", "A1's centre lies about 2.1 cm below the right hilum."),
    ("A1在右肺门内侧还是外侧?", "zh", "A1中心位于右肺门外侧约4.5 cm。"),
    ("is A1 lateral or medial to the right hilum?", "en", "A1's centre lies about 4.5 cm lateral to the right hilum."),
])
def test_an_either_or_question_is_answered_with_the_alternative(question: str, lang: str, said: str) -> None:
    """"A2在膈肌上方还是下方?" had begun "否:" (no to the first alternative)."""
    turn = one(scenario_facts(), question, lang)
    assert turn.answer.text.startswith(said)


# --- 4. follow-ups of a costophrenic angle stay on the angle ------------------------------------------------------


@pytest.mark.parametrize(("questions", "lang", "said"), [
    (("is the right costophrenic angle sharp?", "how many degrees?"), "en", "The right costophrenic angle is sharp (about 35°)."),
    (("is the right costophrenic angle sharp?", "and the left one?"), "en", "The left costophrenic angle is sharp (about 38°)."),
    (("is the left costophrenic angle sharp?", "and the right one?"), "en", "The right costophrenic angle is sharp (about 35°)."),
    (("右肋膈角锐利吗?", "多少度?"), "zh", "右肋膈角锐利(角度约35°)。"),
    (("右肋膈角锐利吗?", "左边那个呢?"), "zh", "左肋膈角锐利(角度约38°)。"),
])
def test_a_costophrenic_angles_follow_up_asks_of_the_angle(questions: tuple[str, str], lang: str, said: str) -> None:
    """"how many degrees?" had brought up the early-lung-cancer checklist, and "and the left one?" had answered of a
    lesion ("No lesion was found" on a film with none)."""
    for facts in (scenario_facts(), dataclasses.replace(scenario_facts(), findings=())):
        turn = dialogue(facts, *questions, lang=lang)[-1]
        assert turn.intent == "assess_anatomy" and turn.answer.text.startswith(said)
        assert turn.checklist is None


def test_and_the_left_one_after_a_finding_still_asks_of_a_finding() -> None:
    turn = dialogue(scenario_facts(), "how big is A1?", "and the left one?")[-1]
    assert turn.intent == "size" and turn.referenced_anchor_ids == ("A2",)


# --- 5/6/9. questions of structures, not of a lesion -------------------------------------------------------------


def _outlined(facts: ImageFacts | None = None) -> ImageFacts:
    """The SCENARIO's facts with the spine and the trachea outlined (the trachea's centre 4.2 mm right of the spine's)."""
    base = facts or scenario_facts()
    regions = (AnatomyRegion("spine", (256.0, 250.0), (240.0, 60.0, 272.0, 460.0)),
               AnatomyRegion("trachea", (262.0, 120.0), (252.0, 60.0, 272.0, 180.0)))
    return dataclasses.replace(base, anatomy=dataclasses.replace(base.anatomy, regions=base.anatomy.regions + regions))


_NO_LESION = ("No lesion was found", "nothing to describe", "未发现病灶", "Which one do you mean", "请问您指的是哪一个")


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("How far is the right hilum from the diaphragm?", "en",
     "The right hilum lies about 11.9 cm above the right dome of the diaphragm (measured in height, using DICOM pixel "
     "spacing)."),
    ("右肺门离膈肌多远?", "zh", "右肺门高出右侧膈顶约11.9 cm(按高度,即上下方向测量,按DICOM像素间距换算)。"),
    ("how wide is the chest?", "en", "The chest is about 30.0 cm (300.0 mm) across at its widest"),
    ("胸廓多宽?", "zh", "胸廓最宽处(两肺野外缘之间)约30.0 cm(300.0 mm,按DICOM像素间距换算)"),
    ("how far is the trachea from the spine?", "en",
     "The trachea's centre lies at about the spine's centre line (4.2 mm from it across the film, using DICOM pixel "
     "spacing)."),
    ("气管离脊柱多远?", "zh", "气管中心位于脊柱中线附近(横向相差约4.2 mm,按DICOM像素间距换算)。"),
    ("how far is the heart from the diaphragm?", "en",
     "Hilum does not measure the distance between the heart and the diaphragm."),
])
def test_a_question_of_structures_is_answered_of_them_never_of_a_lesion(question: str, lang: str, said: str) -> None:
    """These had fallen through to "No lesion was found, so there is nothing to describe" (or "which one?" of the
    findings, or a finding's distance)."""
    for facts in (_outlined(), _outlined(dataclasses.replace(scenario_facts(), findings=()))):
        turn = one(facts, question, lang)
        assert turn.answer.text.startswith(said), turn.answer.text
        assert not any(w in turn.answer.text for w in _NO_LESION)
        assert not [a for a in turn.anchors if a["kind"] == "finding"]


def test_a_hilum_above_its_dome_on_a_film_read_alone_says_why_no_hilum_is_given() -> None:
    text = one(read_alone(scenario_facts()), "How far is the right hilum from the diaphragm?").answer.text
    assert text.startswith("This film was read by the second reader alone, whose hilum points were found misplaced")


def test_the_chest_width_is_not_measured_on_a_spacing_made_from_a_chest_width() -> None:
    """An image file's spacing was estimated by taking the chest as 26.5 cm across: its width would only be that again."""
    facts = _childs_estimated(scenario_facts())
    text = one(facts, "how wide is the chest?").answer.text
    assert "so the chest's width cannot be measured from it" in text and "30.0 cm" not in text


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("where is the spine?", "en", "uses the spine's outline on its anatomy maps only as the midline reference"),
    ("脊柱在哪里?", "zh", "本系统只把解剖图上的脊柱轮廓用作中线参照"),
])
def test_where_is_the_spine_says_its_outline_is_the_midline_reference_and_its_bones_are_not_read(
        question: str, lang: str, said: str) -> None:
    """"where is the spine?" had said "Hilum does not read the bones" while every position is given "from the spine's
    centre line" (and "脊柱在哪里?" had asked back which finding)."""
    turn = one(_outlined(), question, lang)
    assert said in turn.answer.text
    assert ("does not read the spine's bones" if lang == "en" else "不判读脊柱的骨骼") in turn.answer.text
    assert not turn.referenced_anchor_ids


# --- 6. what a finding is asked to be, or where ----------------------------------------------------------------


@pytest.mark.parametrize(("question", "lang"), [("主动脉结在哪里?", "zh"), ("where is the aortic knob?", "en")])
def test_where_the_aortic_knob_is_is_not_a_findings_place(question: str, lang: str) -> None:
    """"主动脉结在哪里?" had returned A1's location (the English said the great vessels are not read)."""
    turn = one(scenario_facts(), question, lang)
    assert turn.intent == "assess_anatomy" and not turn.referenced_anchor_ids
    assert ("不判读心脏和大血管的轮廓" if lang == "zh" else "does not read the outlines of the heart and the great vessels") in \
        turn.answer.text


def _a2_over_the_heart() -> ImageFacts:
    base = scenario_facts()
    return dataclasses.replace(base, findings=(base.findings[0], dataclasses.replace(base.findings[1], overlies="heart")))


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is A1 inside the lung?", "en", "Yes: on this film's lung map A1 lies within the right lung field."),
    ("A1在肺内吗?", "zh", "是:在本片的肺野图上,A1位于右肺野内。"),
    ("is A1 a rib?", "en", "Hilum does not read the bones, so it cannot tell whether A1 is a rib"),
    ("A1是肋骨吗?", "zh", "本系统不判读骨骼,无法判断A1是肋骨"),
    ("is A2 behind the heart?", "en", "On this frontal film A2 is projected over the heart, but whether it lies behind "
                                      "the heart (in the lower lobe), in front of it or in it a frontal film cannot tell"),
    ("A2在心影后面吗?", "zh", "正位片上A2投影于心影内,但它位于心脏后方(下叶)、前方还是心脏本身,正位片无法判断"),
    ("is A1 behind the heart?", "en", "No: on this frontal film A1 is not projected over the heart"),
])
def test_what_a_finding_is_asked_to_be_or_where_is_answered(question: str, lang: str, said: str) -> None:
    """"is A1 inside the lung?" had given a density answer; "is A1 a rib?" the costophrenic angles; "is A2 behind the
    heart?" a location with no yes or no."""
    turn = one(_a2_over_the_heart(), question, lang)
    assert turn.answer.text.startswith(said), turn.answer.text
    assert "costophrenic" not in turn.answer.text and "肋膈角" not in turn.answer.text


def test_an_effusion_is_not_inside_the_lung() -> None:
    text = one(_effusion_facts(0.95), "is A2 inside the lung?").answer.text
    assert text.startswith("No: A2 is an effusion-like opacity in the left pleural space, outside the lung.")


# --- 6. a hilum higher than normal is the hila's heights ----------------------------------------------------------


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is the left hilum higher than normal?", "en", "The two hila lie at about the same height (1.4 mm apart)"),
    ("左肺门比正常高吗?", "zh", "两侧肺门高度相近(相差约1.4 mm)"),
])
def test_a_hilum_higher_than_normal_is_answered_by_the_hilas_heights(question: str, lang: str, said: str) -> None:
    """It had answered "Hilar enlargement: not read" ("normal" read as the hilum's size state)."""
    turn = one(scenario_facts(), question, lang)
    assert turn.answer.text.startswith(said) and "sign" not in kinds(turn)
    assert ("whether a hilum is raised is a reader's call" if lang == "en" else "肺门是否抬高由阅片者判断") in turn.answer.text


# --- 7. a distance to a hilum on a film with none placed ----------------------------------------------------------


@pytest.mark.parametrize(("warning", "lang", "why"), [
    (HILA_READ_ALONE, "en", "no hilum is placed on this film: the second reader's hilum points were found misplaced"),
    (HILA_UNPLACED, "en", "no hilum is placed on this film: the two hila found lie further apart in height"),
    (HILA_UNPLACED, "zh", "本片未定肺门位置:找到的两侧肺门高度相差超出胸片所见的范围"),
])
def test_more_than_3_cm_from_the_hilum_says_no_hilum_is_placed(warning: str, lang: str, why: str) -> None:
    """On a DICOM film with the hila withheld it had said "a film with DICOM pixel spacing would settle it"."""
    base = scenario_facts()  # a DICOM film
    check = dataclasses.replace(base.film_check, warnings=(warning,))
    findings = tuple(dataclasses.replace(f, hilum=None) for f in base.findings)
    facts = dataclasses.replace(base, film_check=check, findings=findings,
                                anatomy=dataclasses.replace(base.anatomy, hilum_px={}))
    turn = one(facts, "any signs of lung cancer?" if lang == "en" else "有肺癌的征象吗?", lang)
    item = next(i for i in turn.checklist["items"] if i["sign"] == "peripheral_location")
    assert item["status"] == "uncertain"
    assert "DICOM pixel spacing" not in turn.answer.text and "DICOM像素间距" not in turn.answer.text
    assert why in turn.answer.text


# --- 8. the screening's sharp angle and the pneumonia checklist's uncertain effusion ------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_pneumonia_checklist_says_why_sharp_angles_leave_its_effusion_uncertain(lang: str) -> None:
    """On a film read alone the screening says "The right costophrenic angle is sharp" while the pneumonia checklist
    called "parapneumonic effusion (blunted angle)" uncertain with no word why."""
    facts = read_alone(scenario_facts())
    screen, turn = dialogue(facts, *(("anything abnormal?", "any signs of pneumonia?") if lang == "en"
                                     else ("有异常吗?", "有肺炎的征象吗?")), lang=lang)
    assert ("The right costophrenic angle is sharp" if lang == "en" else "右肋膈角锐利") in screen.answer.text
    item = next(i for i in turn.checklist["items"] if i["sign"] == "costophrenic_angle_blunting")
    assert item["status"] == "uncertain"
    if lang == "en":
        assert "(angles sharp, which does not rule out an effusion here → uncertain)" in turn.answer.text
        assert "cannot be decided on this film — a radiologist's reading would settle it (the right costophrenic angle is " \
               "sharp" in turn.answer.text
        assert "read by the second reader alone, which can miss a lesion)" in turn.answer.text
    else:
        assert "(肋膈角锐利,但不足以排除积液 → 不确定)" in turn.answer.text and "它可能漏掉病灶;" in turn.answer.text


# --- 10. small things --------------------------------------------------------------------------------------------


def test_one_sign_present_is_singular() -> None:
    """"1 of the 3 decidable signs are present"."""
    facts = read_alone(scenario_facts())
    f1 = dataclasses.replace(facts.findings[0], margin="smooth")
    text = one(dataclasses.replace(facts, findings=(f1, *facts.findings[1:])), "any signs of lung cancer?").answer.text
    assert "1 of the 3 decidable signs is present." in text


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("which hemidiaphragm is higher?", "en", "The two domes of the diaphragm lie at the same height;"),
    ("哪侧膈肌更高?", "zh", "两侧膈顶高度相同;"),
])
def test_domes_at_the_same_height_are_not_0_mm_apart(question: str, lang: str, said: str) -> None:
    base = scenario_facts()
    domes = {"right": (150.0, 410.0), "left": (360.0, 410.0)}
    facts = dataclasses.replace(base, anatomy=dataclasses.replace(base.anatomy, diaphragm_dome_px=domes))
    text = one(facts, question, lang).answer.text
    assert said in text and "0.0 mm" not in text


def _childs_estimated(facts: ImageFacts) -> ImageFacts:
    """An image file of a child's chest: its spacing estimated from an adult's chest width (265 mm)."""
    spacing = PixelSpacing(0.7, 0.7, "estimated", FROM_THORAX)  # type: ignore[arg-type]
    return dataclasses.replace(facts, spacing=spacing, film_check=FilmCheck(view="frontal", age_group="child"))


@pytest.mark.parametrize("question", ["which hemidiaphragm is higher?", "is the left hilum higher than the right?"])
def test_a_height_difference_on_a_childs_estimated_spacing_says_it_is_overstated(question: str) -> None:
    text = one(_childs_estimated(scenario_facts()), question).answer.text
    assert "(The difference uses an estimated pixel spacing; the file gives a child's age, so it is overstated.)" in text


def test_why_says_a_reason_every_finding_shares_once() -> None:
    """"why?" after a distance between two findings had said the no-DICOM-spacing note of each."""
    facts = dataclasses.replace(scenario_facts(), spacing=PixelSpacing(0.7, 0.7, "estimated"))  # type: ignore[arg-type]
    why = dialogue(facts, "how far is A1 from A2?", "why?")[-1]
    assert why.answer.text.count("no DICOM pixel spacing") == 1
    assert "A1 and A2: this film carries no DICOM pixel spacing" in why.answer.text


def test_above_the_diaphragm_where_no_dome_is_placed_is_answered_by_the_lung_map() -> None:
    """A dome off its lung field's floor is not given (``dome_unplaced``): "is A1 above the diaphragm?" had said only
    the edge's distance."""
    base = scenario_facts()
    facts = dataclasses.replace(base, anatomy=dataclasses.replace(base.anatomy, diaphragm_dome_px={"left": (360.0, 410.0)}),
                                film_check=dataclasses.replace(base.film_check, warnings=(DOME_UNPLACED,)))
    text = one(facts, "is A1 above the diaphragm?").answer.text
    assert text.startswith("Yes: on this film's lung map A1 lies in the lung field, above the diaphragm under it")
    assert "No right dome of the diaphragm is placed on this film" in text and "inside its lung field" in text


def test_fluid_in_the_recess_is_not_said_not_above_the_diaphragm() -> None:
    """"is A2 above the diaphragm?" of an effusion-like opacity in the costophrenic recess had been "No: A2's centre lies
    about 3.8 cm below the right dome"; and its edge "about 0.0 mm from the diaphragm"."""
    facts = _effusion_facts(0.95)
    f2 = dataclasses.replace(facts.findings[1], center_px=(330.0, 450.0), distance_to_diaphragm_mm=0.0)
    text = one(dataclasses.replace(facts, findings=(facts.findings[0], f2)), "is A2 above the diaphragm?").answer.text
    assert text.startswith("A2 is an effusion-like opacity in the left pleural space: fluid lies on the diaphragm")
    assert "No:" not in text and "0.0 mm" not in text and "A2's edge touches the diaphragm." in text


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is A2 above the diaphragm?", "en", "Yes: on this film's lung map A2 lies in the lung field, above the diaphragm under "
                                         "it (touching it); A2's centre lies at about the level of the left dome"),
    ("A2在膈肌上方还是下方?", "zh", "在本片的肺野图上A2位于肺野内,在其下方的膈面之上(紧贴膈面);A2中心与左侧膈顶大致在同一水平"),
])
def test_a_basal_finding_on_the_diaphragm_at_the_domes_height_is_above_the_diaphragm(question: str, lang: str,
                                                                                      said: str) -> None:
    """The dome is the diaphragm's highest point: a strand lying on it at the dome's height is no disagreement (the
    phantom's A2 had been said not to be settled)."""
    base = scenario_facts()
    f2 = dataclasses.replace(base.findings[1], center_px=(330.0, 415.0), distance_to_diaphragm_mm=0.0)
    turn = one(dataclasses.replace(base, findings=(base.findings[0], f2)), question, lang)
    assert turn.answer.text.startswith(said) and "cannot be settled" not in turn.answer.text


def test_a_distance_from_two_landmarks_of_the_finding_in_focus_is_still_the_findings() -> None:
    turn = dialogue(scenario_facts(), "where is A1?", "how far from the hilum and the diaphragm?")[-1]
    assert turn.intent == "measure_relation" and turn.referenced_anchor_ids[0] == "A1"
    assert parse("how far from the hilum and the diaphragm?").structure_asked is None
