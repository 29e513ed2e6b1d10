"""Questions about the film itself ("is this a PA film?", "is the spacing estimated?"): answered from what the film
gate and the spacing say, on any film the gate accepted, with the AP magnification and an estimated spacing said.
They used to read as a margin question ("this"), out of scope, or a screening."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.dialogue.parser import parse
from orchestrator.facts import FilmCheck


@pytest.mark.parametrize("question", [
    "is this a PA film?", "is this an AP film?", "what view is this film?", "what projection is this?",
    "这是后前位片吗", "这张是正位片吗", "PA 还是 AP", "这是什么体位拍的", "is the spacing estimated?",
    "what is the pixel spacing?", "像素间距是多少", "is the film calibrated?",
])
def test_questions_about_the_film_are_asked_of_the_film(question: str) -> None:
    assert parse(question).intent == "film_info"


@pytest.mark.parametrize(("question", "intent"), [
    ("quick look, anything I should flag on this PA film?", "screen"),  # the film named as the place
    ("Is the CTR within normal limits on this PA film?", "assess_anatomy"),
    ("What does PA stand for?", "explain_term"), ("结节具体位置在哪", "locate"), ("两个病灶间距多少", "measure_relation"),
])
def test_a_film_named_in_passing_is_not_the_question(question: str, intent: str) -> None:
    assert parse(question).intent == intent


def test_the_answer_says_the_view_the_spacing_and_what_ap_does(make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    pa = replace(make_facts(), film_check=FilmCheck(view="PA"))
    text = ask("is this a PA film?", facts=pa).answer.text
    assert "PA (posteroanterior, as the file says)" in text and "comes from the DICOM file" in text
    assert "magnifies" not in text
    ap = ask("这是后前位片吗", lang="zh", facts=replace(make_facts(), film_check=FilmCheck(view="AP")))
    assert ap.intent == "film_info" and "前后位(AP,文件注明)" in ap.answer.text and "心胸比会偏大" in ap.answer.text
    estimated = ask("is the spacing estimated?", facts=make_facts(source="estimated")).answer.text
    assert "carries no DICOM pixel spacing" in estimated and "estimated spacing" in estimated


def test_a_file_that_does_not_say_the_projection_is_not_guessed_from_the_image(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """"AP or PA?" on a film whose file does not say (a JPEG, a DICOM without a view): the answer names the view once and
    says Hilum does not judge it from the image; a file that says PA is answered as it says."""
    frontal = replace(make_facts(), film_check=FilmCheck(view="frontal"))
    text = ask("Is this an AP or PA film?", facts=frontal).answer.text
    assert text.count("frontal") == 2 and "frontal chest film, frontal" not in text, text  # the film, its projection
    assert "does not judge it from the image" in text
    zh = ask("这是前后位还是后前位片?", lang="zh", facts=frontal).answer.text
    assert "不从图像本身判断" in zh
    pa = ask("is this a PA film?", facts=replace(make_facts(), film_check=FilmCheck(view="PA"))).answer.text
    assert "does not judge it from the image" not in pa


def test_a_withheld_film_still_says_what_it_is(make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    withheld = replace(make_facts(), film_check=FilmCheck(view="frontal", anatomy_plausible=False,
                                                          warnings=("anatomy_not_established",)))
    turn = ask("what view is this film?", facts=withheld)
    assert turn.intent == "film_info" and "does not say whether PA or AP" in turn.answer.text
    assert "anatomy could not be established" in turn.answer.text and not turn.anchors


def test_the_heart_answer_gives_the_widths_its_ratio_is_made_of(make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    text = ask("how wide is the heart?").answer.text
    assert "0.46 (the heart about 14.0 cm across, the chest 30.0 cm)" in text and "estimated" not in text
    estimated = ask("心脏横径多少", lang="zh", facts=make_facts(source="estimated")).answer.text
    assert "心影横径约14.0 cm" in estimated and "估计的像素间距" in estimated


def test_the_hila_compared_in_height(make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """"Is the left hilum higher than the right?" read as a question about a finding's place before."""
    facts = make_facts()
    for question in ("is the left hilum higher than the right?", "are the hila symmetric?", "左肺门比右肺门高吗"):
        assert parse(question).intent == "assess_anatomy" and parse(question).anatomy == ("hilum",)
    assert "about the same height (1.4 mm apart)" in ask("are the hila symmetric?").answer.text
    hila = {"right": (205.0, 250.0), "left": (305.0, 230.0)}  # the left 20 px (14 mm) higher
    left_higher = replace(facts, anatomy=replace(facts.anatomy, hilum_px=hila))
    assert "The left hilum lies about 1.4 cm higher than the right, as in most people." in ask(
        "is the left hilum higher than the right?", facts=left_higher).answer.text
    right_higher = replace(facts, anatomy=replace(facts.anatomy, hilum_px={"right": (205.0, 220.0), "left": (305.0, 250.0)}))
    assert "右肺门比左肺门高约2.1 cm,通常是左肺门较高" in ask("左肺门比右肺门高吗", lang="zh", facts=right_higher).answer.text
    assert parse("how many mm from the hilum is the left lower lobe opacity").intent == "measure_relation"
    # a real child's film, read alone: "about 3.8 cm higher than the right, as in most people"; the left lies higher
    # by up to about 2 cm, so more than 2.5 cm is said to be unusual, and why it can be
    far = replace(facts, anatomy=replace(facts.anatomy, hilum_px={"right": (205.0, 280.0), "left": (305.0, 230.0)}))
    text = ask("is the left hilum higher than the right?", facts=far).answer.text
    assert "The left hilum lies about 3.5 cm higher than the right: in most people the left is the higher, but by up " \
           "to about 2 cm" in text and "placed wrongly here" in text and "as in most people" not in text


def test_the_domes_compared_in_height(make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """"Which hemidiaphragm is higher?" compared A1 with A2, "how high is the right dome?" located A1, "哪侧膈肌高"
    gave the domes' image positions, and "is the right hemidiaphragm elevated?" said the contour is not read: the
    domes are placed on every film, so their heights are compared."""
    facts = make_facts()  # the right dome 10 px (7 mm) higher than the left
    for question in ("which hemidiaphragm is higher?", "how high is the right dome?", "is the right hemidiaphragm elevated?",
                     "哪侧膈肌高", "右膈顶多高?", "膈肌位置正常吗", "is the right dome higher than the left?"):
        q = parse(question)
        assert (q.intent, q.anatomy, q.signs, q.domes_compared) == ("assess_anatomy", ("diaphragm",), (), True), question
    text = ask("which hemidiaphragm is higher?").answer.text
    assert text.startswith("The right dome of the diaphragm lies about 0.7 cm higher than the left, as in most people.")
    assert "whether a dome is raised is a reader's call" in text and "A1" not in text and "costophrenic" not in text
    left_higher = replace(facts, anatomy=replace(facts.anatomy, diaphragm_dome_px={"right": (150.0, 420.0),
                                                                                  "left": (360.0, 400.0)}))
    assert "左侧膈顶比右侧膈顶高约1.4 cm,通常是右侧膈顶较高" in ask("哪侧膈肌高", lang="zh", facts=left_higher).answer.text
    # more than about 3 cm is said to be unusual, and why it can be; 3.0 cm as said is not "more than about 3 cm"
    far = replace(facts, anatomy=replace(facts.anatomy, diaphragm_dome_px={"right": (150.0, 340.0), "left": (360.0, 400.0)}))
    text = ask("is the right hemidiaphragm elevated?", facts=far).answer.text
    assert "lies about 4.2 cm higher than the left: in most people the right is the higher, but by up to about 3 cm" \
           in text and "placed wrongly here" in text and "as in most people" not in text
    edge = replace(facts, anatomy=replace(facts.anatomy, diaphragm_dome_px={"right": (150.0, 357.1), "left": (360.0, 400.0)}))
    assert "about 3.0 cm higher than the left, as in most people." in ask("which dome is higher?", facts=edge).answer.text
    one = replace(facts, anatomy=replace(facts.anatomy, diaphragm_dome_px={"right": (150.0, 400.0)}))
    assert "Both domes of the diaphragm could not be placed" in ask("which dome is higher?", facts=one).answer.text
    estimated = ask("which dome is higher?", facts=make_facts(source="estimated")).answer.text
    assert "estimated pixel spacing" in estimated
    # the contour itself is still not read, and a finding's height against a dome is the finding's (below)
    assert parse("is the diaphragm normal?").signs == ("diaphragm_contour",)
    assert not parse("is the strand higher than the right dome?").domes_compared


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is the nodule above the right hilum?", "en", "No: A1's centre lies about 2.1 cm below the right hilum."),
    ("is the strand below the left hilum?", "en", "Yes: A2's centre lies about 10.4 cm below the left hilum."),
    ("is the nodule at the level of the hilum?", "en", "No: A1's centre lies about 2.1 cm below the right hilum."),
    ("结节在右肺门上方吗", "zh", "否:A1中心位于右肺门下方约2.1 cm。"),
    ("条索影低于左肺门吗", "zh", "是:A2中心位于左肺门下方约10.4 cm。"),
    ("is the nodule at the level of the right hemidiaphragm?", "en",
     "No: A1's centre lies about 9.8 cm above the right dome of the diaphragm."),
    ("is the strand higher than the left dome?", "en", "Yes: A2's centre lies about 2.1 cm above the left dome of the diaphragm."),
])
def test_a_finding_above_or_below_a_hilum_or_a_dome(ask: Callable[..., Any], question: str, lang: str, said: str) -> None:
    """"Is the nodule above the right hilum?" was answered with its margin, "is the strand below the left hilum?" with
    where it lies, and neither said above or below: the height against the structure named comes first, then the
    distance (the scenario's A1 20 px below the right hilum at 0.7 mm per pixel, A2 149 px below the left)."""
    q = parse(question)
    assert q.intent == "measure_relation" and q.vertical is not None
    turn = ask(question, lang=lang)
    assert turn.answer.text.startswith(said)
    assert turn.measurements  # the distance is still given


@pytest.mark.parametrize(("question", "lang"), [
    ("is the nodule at the same height as the hilum?", "en"), ("is A1 at the same height as the right hilum?", "en"),
    ("A1和右肺门在同一高度吗", "zh"), ("A1和右肺门一样高吗", "zh")])
def test_a_finding_at_the_same_height_as_a_hilum(ask: Callable[..., Any], question: str, lang: str) -> None:
    """"Is the nodule at the same height as the hilum?" was answered with its margin and "A1和右肺门在同一高度吗" with
    where it lies: its height against the hilum comes first, as "at the same level as" is answered."""
    turn = ask(question, lang=lang)
    assert turn.intent == "measure_relation" and turn.answer.sections[0]["kind"] == "relation"
    assert turn.answer.text.startswith("No: A1's centre lies about 2.1 cm below the right hilum." if lang == "en"
                                       else "否:A1中心位于右肺门下方约2.1 cm。")


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is the nodule lateral to the right hilum?", "en", "Yes: A1's centre lies about 4.5 cm lateral to the right hilum."),
    ("is A1 medial to the right hilum?", "en", "No: A1's centre lies about 4.5 cm lateral to the right hilum."),
    ("结节在右肺门外侧吗", "zh", "是:A1中心位于右肺门外侧约4.5 cm。"),
    ("结节位于右肺门内侧吗", "zh", "否:A1中心位于右肺门外侧约4.5 cm。"),
    ("is A2 lateral to the right hilum?", "en", "No: A2 lies in the left lung, on the other side from the right hilum"),
])
def test_a_finding_lateral_or_medial_to_a_hilum(ask: Callable[..., Any], question: str, lang: str, said: str) -> None:
    """"Is the nodule lateral to the right hilum?" was a margin question, "结节在右肺门外侧吗" its place: the finding's side
    of the hilum across the film comes first, then the distance (the scenario's A1 64 px out from the right hilum)."""
    q = parse(question)
    assert q.intent == "measure_relation" and q.across in ("lateral", "medial") and q.vertical is None
    turn = ask(question, lang=lang)
    assert turn.answer.text.startswith(said)
    assert turn.measurements


def test_a_finding_of_unconfirmed_side_is_placed_by_its_centre(make_facts: Callable[..., Any],
                                                               ask: Callable[..., Any]) -> None:
    """A2 lies in the left lung; with its side unconfirmed (near the midline) it is not said to lie in the other lung,
    only where its centre lies against the right hilum (far out on the image's right: medial, past the midline)."""
    facts = make_facts()
    a2 = replace(facts.findings[1], side_confirmed=False)
    unsure = replace(facts, findings=(facts.findings[0], a2, *facts.findings[2:]))
    text = ask("is A2 lateral to the right hilum?", facts=unsure).answer.text
    assert text.startswith("No: A2's centre lies about") and "medial to the right hilum" in text
    assert "other side" not in text


@pytest.mark.parametrize("question", ["is the nodule lateral to the heart?", "结节在心影外侧吗"])
def test_a_finding_beside_the_heart_is_a_relation(ask: Callable[..., Any], question: str) -> None:
    """A margin question and the cardiothoracic ratio before: the heart's outline is what the side of it rests on (the
    SCENARIO's facts carry none, which the answer says)."""
    q = parse(question)
    assert q.intent == "measure_relation" and q.anatomy == ("heart",)
    text = ask(question, lang="zh" if "心" in question else "en").answer.text
    assert "heart border" in text or "心影的轮廓" in text


@pytest.mark.parametrize(("question", "vertical"), [
    ("外侧那个结节离肺门多远", None), ("is the lateral one near the hilum?", None),
])
def test_the_lateral_one_is_a_finding_not_a_side_of_the_hilum(question: str, vertical: str | None) -> None:
    assert parse(question).vertical == vertical and parse(question).across is None


def test_a_finding_at_the_level_of_a_hilum(make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    """A finding's centre within 10 mm of the hilum's height lies at its level (A1 8 px, 5.6 mm, below it here)."""
    facts = make_facts()
    regions = tuple(replace(r, center_px=(205.0, 252.0)) if r.name == "hilum_right" else r for r in facts.anatomy.regions)
    level = replace(facts, anatomy=replace(facts.anatomy, regions=regions,
                                           hilum_px={"right": (205.0, 252.0), "left": (305.0, 231.0)}))
    assert ask("is the nodule at the level of the right hilum?", facts=level).answer.text.startswith(
        "Yes: A1's centre lies at about the level of the right hilum (5.6 mm apart vertically).")


def test_which_of_two_findings_lies_higher(ask: Callable[..., Any]) -> None:
    """"Is the strand above or below the nodule?" read as a margin question about no finding before."""
    for question in ("is the strand above or below the nodule?", "条索影在结节的上方还是下方"):
        assert parse(question).intent == "compare"
    text = ask("is the strand above or below the nodule?").answer.text
    assert "A1 lies higher and A2 lower (centres 8.4 cm apart vertically)" in text  # 120 px x 0.7 mm


@pytest.mark.parametrize(("question", "lang"), [("describe the nodule", "en"), ("描述一下这个结节", "zh")])
def test_describe_a_finding_gives_place_size_margin_and_density(question: str, lang: str, ask: Callable[..., Any]) -> None:
    """"Describe the nodule" answered its margin alone; a radiologist's description has its place and size too."""
    turn = ask(question, lang=lang)
    assert turn.intent == "describe_margin" and [s["kind"] for s in turn.answer.sections][:4] == [
        "location", "size", "margin", "density"]
    assert turn.measurements and turn.measurements[0]["kind"] == "diameter"
    margin_only = ask("Describe the edges of the RML lesion.")
    assert [s["kind"] for s in margin_only.answer.sections][:2] == ["margin", "density"]


@pytest.mark.parametrize(("question", "attribute"), [
    ("这是 PA 位还是 AP 位?", None), ("Was this taken AP, like a bedside film?", None),
    ("图像是反色显示的吗?窗宽窗位多少?", "display"), ("what window are you using?", "display"),
    ("Is the film rotated, and is the exposure adequate?", "quality"), ("吸气够不够?", "quality"),
    # the ribs counted, how a reader grades inspiration: it was the costophrenic angles' overview
    ("how many ribs are visible?", "quality"), ("能看到几根肋骨", "quality"),
    # a lateral view asked about: "is this a lateral film?" was a margin question asked back, "can you read lateral
    # films?" and "was a lateral taken?" the out-of-scope template
    ("is this a lateral film?", "lateral"), ("can you read lateral films?", "lateral"), ("was a lateral taken?", "lateral"),
    ("do you need a lateral view?", "lateral"), ("能看侧位片吗", "lateral"), ("这是侧位片吗", "lateral"),
])
def test_projection_display_and_technique_are_asked_of_the_film(question: str, attribute: str | None) -> None:
    """They were out of scope (projection words from before film_info existed) or a screening."""
    q = parse(question)
    assert (q.intent, q.attribute) == ("film_info", attribute)


@pytest.mark.parametrize(("question", "intent"), [
    ("what's in the lateral third of the right lung?", "locate"), ("外侧位置的结节多大", "size"),
    ("is A1 the lateral one?", "locate"),
])
def test_a_lateral_place_is_not_the_lateral_view(question: str, intent: str) -> None:
    assert parse(question).intent == intent


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is this a lateral film?", "en", "Hilum reads frontal (PA or AP) chest films only"),
    ("能看侧位片吗", "zh", "Hilum只读正位(后前位或前后位)胸片"),
])
def test_the_lateral_view_is_answered_with_what_is_read(ask: Callable[..., Any], question: str, lang: str,
                                                        said: str) -> None:
    text = ask(question, lang=lang).answer.text
    assert said in text and ("lateral view would settle" in text or "侧位片可以明确" in text)


def test_the_answer_says_how_the_film_is_shown_and_that_technique_is_not_graded(ask: Callable[..., Any]) -> None:
    shown = ask("what window are you using?").answer.text
    assert "0.5–99.5 percentiles" in shown and "not by the file's window" in shown
    assert "technique" not in shown
    graded = ask("吸气够不够?", lang="zh").answer.text
    assert "不评价投照质量" in graded and "百分位" not in graded
    ribs = ask("how many ribs are visible?").answer.text
    assert "it does not count the ribs" in ribs and "costophrenic" not in ribs
    assert parse("any rib fractures?").intent == "assess_anatomy"  # a bone asked about: not read, as before


@pytest.mark.parametrize(("question", "labels"), [
    ("which hemidiaphragm is higher?", ["right hemidiaphragm", "left hemidiaphragm"]),
    ("compare the two hila", ["right hilum", "left hilum"]),
    ("are the hila symmetric?", ["right hilum", "left hilum"]),
])
def test_the_two_structures_compared_are_drawn(ask: Callable[..., Any], question: str, labels: list[str]) -> None:
    """The domes' and the hila's heights compared drew nothing on the page: the answer now points at both."""
    turn = ask(question)
    assert [a["label"] for a in turn.anchors] == labels and len(turn.referenced_anchor_ids) == 2
    assert [o["layer"] for o in turn.overlays] == ["anatomy", "anatomy"]
