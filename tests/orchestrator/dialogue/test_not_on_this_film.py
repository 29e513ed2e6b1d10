"""What one film cannot say, said as such: a change over time needs an earlier film, and a sign of what Hilum does not
read (bones, devices, below the diaphragm) is "not read", never answered with something else it did read. Before,
"any rib fractures?" answered the costophrenic angles, "is the nodule new?" its margin, and "和去年比有变化吗" the
generic out-of-scope reason (treatment, prognosis, lab values)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.dialogue.parser import parse
from orchestrator.facts import PixelSpacing


@pytest.mark.parametrize("question", [
    "is the nodule new?", "compare with the previous film", "has the nodule grown?", "any interval change?",
    "这个结节和去年比有变化吗", "结节长大了吗", "跟之前比怎么样", "是新出现的吗",
    "is the right lung nodule stable?", "has the mass remained stable?", "这个结节稳定吗", "结节有无变化",
    "What was its size on the prior?", "how big was the nodule before?", "is the right middle lobe nodule larger than "
    "before?", "what changed?", "Did the opacity in the left lower lobe resolve?", "倍增时间是多少?", "炎症吸收了吗",
    "has A1 grown?", "has the right middle lobe nodule grown?", "did it get bigger?", "is A2 new?", "A1以前多大",
    "增大了吗", "any new lesions?", "has anything resolved?", "相隔多久", "右肺中叶结节比上次大了吗", "A1 增大了吗",
    # a lesion's age: it had got the generic out-of-scope reason (treatment, prognosis, lab values)
    "how old is this lesion?", "how old is the right upper lobe nodule?", "how old is A1?", "how long has it been there?",
    "is it old or new?", "is it acute or chronic?", "这个结节长了多久了", "这个病灶是新的还是旧的",
])
def test_a_change_over_time_needs_an_earlier_film(question: str, ask: Callable[..., Any]) -> None:
    q = parse(question)
    assert (q.intent, q.needs_prior) == ("out_of_scope", True)
    text = ask(question, lang=q.lang).answer.text
    assert ("earlier film" in text) if q.lang == "en" else ("以前的片子" in text)
    assert "treatment" not in text and "治疗" not in text
    assert ("`earlier`" in text) if q.lang == "en" else ("earlier 字段" in text)  # and how to give one


@pytest.mark.parametrize(("question", "sign", "why"), [
    ("any rib fractures?", "rib_fracture", "does not read the bones"),
    ("is there a pacemaker?", "pacemaker", "does not identify tubes, lines, pacemakers"),
    ("肋骨有没有骨折", "fracture", "不判读骨骼"),
])
def test_a_sign_hilum_does_not_read_is_said_not_read(question: str, sign: str, why: str, ask: Callable[..., Any]) -> None:
    q = parse(question)
    assert (q.intent, q.signs) == ("assess_anatomy", (sign,))
    turn = ask(question, lang=q.lang)
    assert why in turn.answer.text and "costophrenic" not in turn.answer.text and "肋膈角" not in turn.answer.text
    assert "_" not in turn.answer.text  # the sign's name, never its id


@pytest.mark.parametrize(("question", "sign"), [
    ("is there a central line?", "central_venous_catheter"), ("is the central line in the right position?",
                                                              "central_venous_catheter"),
    ("is there a PICC?", "central_venous_catheter"), ("有没有深静脉置管", "central_venous_catheter"),
    ("are there ECG leads?", "external_foreign_body"), ("is there an electrode?", "external_foreign_body"),
    ("有心电电极吗", "external_foreign_body"), ("is there an ET tube?", "endotracheal_tube"),
    ("is there a feeding tube?", "nsg_tube"), ("有没有除颤器", "pacemaker"), ("are there sternal wires?", "sternotomy"),
])
def test_devices_in_everyday_words_are_said_not_read(question: str, sign: str, ask: Callable[..., Any]) -> None:
    """"Is there a central line?" and "are there ECG leads?" were out of scope ("treatment, prognosis, lab values"),
    "is the central line in the right position?" answered A1's location: the words a reader uses are now the signs'."""
    q = parse(question)
    assert (q.intent, q.signs) == ("assess_anatomy", (sign,))
    text = ask(question, lang=q.lang).answer.text
    assert ("can say neither yes nor no" in text) if q.lang == "en" else ("既不能说有,也不能说没有" in text)
    assert "A1" not in text and "treatment" not in text


@pytest.mark.parametrize(("question", "who"), [
    ("could the nodule be an ECG electrode?", "the opacity you mean"), ("could A1 be a button?", "A1"),
    ("could A1 or A2 be ECG electrodes?", "A1 and A2"), ("结节会不会是心电电极", "所指的影像"),
    ("A1有没有可能是纽扣", "A1"), ("A1会不会是起搏器", "A1"),
])
def test_a_finding_asked_whether_it_is_a_device_is_told_what_would_tell(
        question: str, who: str, ask: Callable[..., Any]) -> None:
    """"Could the nodule be an ECG electrode?" answered the nodule's margin, "结节会不会是心电电极" its early-lung-cancer
    checklist: Hilum cannot tell a device from a lesion, and the answer says so, what tells them apart on the film and
    what settles it, naming the finding asked about."""
    q = parse(question)
    assert q.intent == "assess_anatomy" and q.checklist is None
    turn = ask(question, lang=q.lang)
    kinds = [s["kind"] for s in turn.answer.sections]
    assert "device_or_lesion" in kinds and "checklist" not in kinds and "margin" not in kinds
    text = next(s["text"] for s in turn.answer.sections if s["kind"] == "device_or_lesion")
    assert text.startswith(("Whether " + who, who))
    assert ("whiter than bone" in text and "external objects removed" in text) if q.lang == "en" else (
        "比骨骼更白" in text and "去除体外物品后复拍" in text)


@pytest.mark.parametrize(("question", "line"), [
    ("could A1 be a catheter?", True), ("A1会不会是导管", True), ("could the nodule be a chest tube?", True),
    ("could A1 be a button?", False),
])
def test_a_line_asked_of_a_finding_is_told_how_a_line_looks(question: str, line: bool, ask: Callable[..., Any]) -> None:
    """A catheter is not taken off for a repeat film, and it is not metal: the answer says how a line looks (a band
    of even width running on beyond the opacity) and what settles one in place; a button's answer is as before."""
    q = parse(question)
    text = next(s["text"] for s in ask(question, lang=q.lang).answer.sections if s["kind"] == "device_or_lesion")
    said = ("band of even width" in text and "lateral view or an earlier film" in text) if q.lang == "en" else (
        "粗细均匀的带状影" in text and "侧位片" in text)
    assert said is line


def test_a_device_asked_of_the_film_alone_gets_no_device_or_lesion_note(ask: Callable[..., Any]) -> None:
    kinds = [s["kind"] for s in ask("is there a pacemaker?").answer.sections]
    assert "device_or_lesion" not in kinds and "sign" in kinds


@pytest.mark.parametrize(("question", "checklist"), [
    ("会不会是肺癌", "early_lung_cancer"), ("结节会不会是结核", "tuberculosis"), ("could it be cancer?", "early_lung_cancer"),
])
def test_a_disease_it_could_be_still_asks_its_checklist(question: str, checklist: str) -> None:
    q = parse(question)
    assert (q.intent, q.checklist) == ("sign_checklist", checklist)


@pytest.mark.parametrize(("question", "intent"), [
    ("what does rib fracture mean?", "explain_term"), ("Does he need surgery?", "out_of_scope"),
    ("is the trachea central?", "assess_anatomy"), ("How big is the nodule?", "size"),
    ("Is the nodule bigger than 1 cm?", "size"),
])
def test_the_rest_reads_as_before(question: str, intent: str) -> None:
    q = parse(question)
    assert q.intent == intent and not q.needs_prior


@pytest.mark.parametrize(("question", "lang"), [
    ("请用英文回答", "en"), ("answer in Chinese please", "zh"), ("Can you reply in English?", "en"), ("说中文", "zh"),
])
def test_a_request_for_a_language_is_answered_in_it(question: str, lang: str, ask: Callable[..., Any]) -> None:
    q = parse(question)
    assert (q.intent, q.answer_lang) == ("out_of_scope", lang)
    turn = ask(question, lang="zh" if lang == "en" else "en")
    assert turn.lang == lang
    text = turn.answer.text
    assert ("the language each question is asked in" in text) if lang == "en" else ("用提问所用的语言回答" in text)
    assert not any("\u4e00" <= c <= "\u9fff" for c in text) if lang == "en" else "Hilum answers" not in text


def test_lymph_nodes_are_not_read_and_not_answered_with_the_findings(ask: Callable[..., Any]) -> None:
    """"Is there any lymphadenopathy?" listed the two lung findings, as if they answered it."""
    turn = ask("Is there any lymphadenopathy?")
    assert (turn.intent, parse("Is there any lymphadenopathy?").signs) == ("assess_anatomy", ("adenopathy",))
    assert "does not trace the mediastinal and hilar lymph nodes" in turn.answer.text and "A1" not in turn.answer.text


@pytest.mark.parametrize(("question", "sign"), [
    ("any atelectasis?", "atelectasis"), ("有没有肺不张", "atelectasis"),
    ("any rib fractures on the right?", "rib_fracture"), ("is there a pacemaker on the left?", "pacemaker"),
    ("is there free air under the diaphragm?", "pneumoperitoneo"), ("膈下有没有游离气体", "pneumoperitoneo"),
])
def test_signs_not_read_wherever_they_are_asked(question: str, sign: str) -> None:
    assert (parse(question).intent, parse(question).signs) == ("assess_anatomy", (sign,))


@pytest.mark.parametrize(("question", "sign"), [
    ("肺纹理增多吗", "bronchovascular_markings"), ("有没有肺纹理增多", "bronchovascular_markings"),
    ("is there bronchiectasis?", "bronchiectasis"), ("有间质改变吗", "interstitial_pattern"),
    ("is there pleural thickening?", "pleural_thickening"), ("有胸膜增厚吗", "pleural_thickening"),
    ("is there pulmonary edema?", "pulmonary_edema"), ("is there calcified pleural thickening?",
                                                       "calcified_pleural_thickening"),
    ("is there a hiatal hernia?", "hiatal_hernia"), ("有没有气腹", "pneumoperitoneo"),
])
def test_any_sign_nothing_on_the_film_evidences_is_not_read_when_asked_whether_present(
        question: str, sign: str, ask: Callable[..., Any]) -> None:
    """Of 226 ontology signs, the presence questions of those no fact evidences ("is there X?", "有X吗", "X吗") were
    answered as "not read" 293 times in 516 (172 signs, three phrasings); the rest explained the term ("肺纹理增多吗"
    on a real film got a circular definition), screened for lesions, or gave a finding's density ("is there calcified
    pleural thickening?" answered A1's calcification). Now 415; the rest name a disease with a checklist, or a sign a
    lesion-map finding could be (``LESION_LIKE_SIGNS``)."""
    q = parse(question)
    assert (q.intent, q.signs) == ("assess_anatomy", (sign,))
    text = ask(question, lang=q.lang).answer.text
    assert ("can say neither yes nor no" in text) if q.lang == "en" else ("既不能说有,也不能说没有" in text)
    assert "A1" not in text


@pytest.mark.parametrize("question", [
    "肺纹理怎么样", "肺纹理正常吗", "肺纹理粗吗", "肺纹理清晰吗", "双肺纹理如何", "两肺纹理是否增多紊乱",
    "what about the vascular markings?",
    "how are the lung markings?", "are the lung markings normal?", "how do the bronchovascular markings look?",
])
def test_how_a_sign_nothing_on_the_film_evidences_looks_is_not_read(question: str, ask: Callable[..., Any]) -> None:
    """How the lung markings look, asked on a real film, got the whole screening again ("肺纹理怎么样", "肺纹理正常
    吗"), "outside what a chest radiograph can show" ("肺纹理粗吗"), "no lesion to describe" ("肺纹理清晰吗", read as a
    margin) or the term's definition ("what about the vascular markings?"). How such a sign looks is as unread as
    whether it is there."""
    q = parse(question)
    assert (q.intent, q.signs) == ("assess_anatomy", ("bronchovascular_markings",))
    text = ask(question, lang=q.lang).answer.text
    assert ("can say neither yes nor no" in text) if q.lang == "en" else ("既不能说有,也不能说没有" in text)
    assert "A1" not in text


@pytest.mark.parametrize(("question", "sign"), [
    ("any line or tube?", "catheter"), ("有管子吗", "catheter"), ("any chest tube?", "chest_drain_tube"),
    ("is there an NG tube?", "nsg_tube"),
])
def test_tubes_and_lines_asked_are_devices_not_read(question: str, sign: str, ask: Callable[..., Any]) -> None:
    """"Any line or tube?" got the whole screening, "有管子吗" "outside what a chest radiograph can show": Hilum does not
    identify devices, and says so."""
    q = parse(question)
    assert (q.intent, q.signs) == ("assess_anatomy", (sign,))
    text = ask(question, lang=q.lang).answer.text
    assert ("does not identify tubes, lines" in text) if q.lang == "en" else ("本系统不识别导管" in text)


@pytest.mark.parametrize(("question", "sign"), [
    ("有没有脊柱侧弯", "scoliosis"), ("脊柱侧弯怎么样", "scoliosis"), ("有没有甲状腺肿", "goiter"),
    ("有手术后改变吗", "surgery"), ("有放疗后改变吗", "post_radiotherapy_changes"),
])
def test_a_sign_whose_name_holds_an_out_of_scope_word_is_asked_of_the_film(question: str, sign: str) -> None:
    """"有没有脊柱侧弯" was "outside what a chest radiograph can show (treatment, prognosis, lab values or other
    modalities)": "脊柱" (another body part) and "手术" (a treatment) are out-of-scope words, here inside a sign's name.
    A name that is itself such a word still asks it ("does he need surgery?")."""
    assert (parse(question).intent, parse(question).signs) == ("assess_anatomy", (sign,))
    for asked in ("does he need surgery?", "需要手术吗", "脊柱侧弯需要手术吗"):
        assert parse(asked).intent == "out_of_scope"


@pytest.mark.parametrize(("question", "intent"), [
    ("what does bronchiectasis mean?", "explain_term"), ("肺纹理增多是什么意思", "explain_term"),
    ("肺纹理是什么", "explain_term"), ("what are lung markings?", "explain_term"),
    ("肺纹理和血管有什么区别", "explain_term"),
    # something besides the sign named is looked for: the film is screened
    ("双肺纹理清晰,肺野内有无异常密度影?", "screen"), ("除了肺纹理,还有别的异常吗", "screen"),
    ("除了肺纹理增多还有别的异常吗", "screen"), ("肺纹理多,有没有什么病变", "screen"),
    ("any signs of pulmonary oedema?", "sign_checklist"), ("肺部有没有阴影?我阿公以前有肺结核", "screen"),
    ("is there ground glass?", None), ("有没有磨玻璃影", None), ("is there a pleural mass?", None),  # a finding may be it
])
def test_a_meaning_a_lesion_like_sign_or_a_disease_is_not_turned_into_not_read(question: str, intent: str | None) -> None:
    q = parse(question)
    assert q.intent == intent if intent else q.intent != "assess_anatomy"


def test_a_lesion_said_to_be_such_a_sign_asks_its_checklist() -> None:
    """"Is the basal band just subsegmental atelectasis?" asks about the strand, not the film."""
    assert parse("Is the basal band just subsegmental atelectasis?").intent == "sign_checklist"
    assert parse("Could the linear opacity be plate atelectasis?").intent == "sign_checklist"


def test_a_turn_earlier_in_this_conversation_is_no_earlier_film() -> None:
    for question in ("上次说的那个结节多大", "the one you mentioned last time, how big?"):
        assert (parse(question).intent, parse(question).needs_prior) == ("size", False)


@pytest.mark.parametrize(("question", "said"), [
    ("thanks!", "You're welcome"), ("谢谢", "不客气"), ("hello", "Ask me about this film"), ("你好", "可以问我这张胸片"),
])
def test_thanks_and_greetings_are_answered_in_kind(question: str, said: str, ask: Callable[..., Any]) -> None:
    turn = ask(question, lang="zh" if said[0] > "\u4e00" else "en")
    assert said in turn.answer.text and "outside what a chest radiograph" not in turn.answer.text
    assert parse("thanks, and how big is the nodule?").intent == "size"  # thanks with a question: the question


def test_a_structures_state_named_by_a_sign_nothing_evidences_is_not_read(ask: Callable[..., Any]) -> None:
    """"主动脉结突出吗" answered the costophrenic angles."""
    turn = ask("主动脉结突出吗", lang="zh")
    assert parse("主动脉结突出吗").signs == ("aortic_button_enlargement",)
    assert "不判读心脏和大血管的轮廓" in turn.answer.text and "肋膈角" not in turn.answer.text


def test_an_unknown_structure_gets_the_overview_said_as_such(ask: Callable[..., Any]) -> None:
    """"胸廓对称吗" answered the costophrenic angles as if they were the thorax."""
    assert "胸廓、骨骼和大血管本系统不判读" in ask("胸廓对称吗", lang="zh").answer.text
    assert "不判读" not in ask("肋膈角锐利吗", lang="zh").answer.text  # a structure it reads: its answer alone


@pytest.mark.parametrize("question", ["骨骼怎么样?", "骨头有问题吗", "骨骼有没有异常"])
def test_the_bones_asked_in_chinese_are_said_not_read(ask: Callable[..., Any], question: str) -> None:
    """"骨骼怎么样" had got the whole film's screening, with no word of the bones ("How are the bones?" got the anatomy
    overview): it is the anatomy overview, which says the bones are not read. A question that only mentions bones while
    asking of the film is still the film's ("骨头怎么是黑的": is the image inverted?). Since a later stop the answer is
    the bones' alone (the overview led with the costophrenic angles), as "how are the bones?" is."""
    turn = ask(question, lang="zh")
    assert turn.intent == "assess_anatomy" and turn.answer.text.startswith("骨骼:本系统不判读骨骼")
    assert "肋膈角" not in turn.answer.text
    assert "未发现明确的肺内病灶" not in turn.answer.text
    assert parse("图像是不是反相了?骨头怎么是黑的").intent == "film_info"


def test_a_disease_without_a_checklist_says_so_before_the_one_shown(ask: Callable[..., Any]) -> None:
    """"Could the nodule be a metastasis?" got the early-lung-cancer checklist with no word that it is another one."""
    turn = ask("could the nodule be a metastasis?")
    assert turn.answer.sections[0]["kind"] == "no_checklist" and "no sign checklist for metastases" in turn.answer.text
    assert "本系统没有转移瘤的征象清单" in ask("结节是不是转移瘤", lang="zh").answer.text
    assert parse("右肺结节病灶边缘规则吗").unlisted_disease is None  # 结节病灶 is a nodular lesion, not sarcoidosis


@pytest.mark.parametrize("question", ["is the heart enlarged?", "心影增大了吗?我看着有点大",
                                      "How much bigger is the LLL lesion than the RML one?", "is it calcified?"])
def test_a_question_of_this_film_is_not_a_change_over_time(question: str) -> None:
    assert not parse(question).needs_prior


@pytest.mark.parametrize(("question", "said", "side"), [
    ("is there a nodule in the left upper lobe?", "a smaller or fainter one can be missed", "left upper lobe"),
    ("左上肺有没有结节?", "更小或更淡的病灶可能漏检", "左肺"),
    ("左肺尖有条索影吗?", "更小或更淡的病灶可能漏检", "左肺"),
    ("anything at the left apex?", "a smaller or fainter one can be missed", "left lung"),
])
def test_none_seen_is_never_none_there(question: str, said: str, side: str, ask: Callable[..., Any]) -> None:
    """"左上肺有没有结节?" answered "左肺上肺野未见结节" flatly where a reader testing from outside knew an 8 mm nodule was
    missed: a "none seen" says what the reading can miss, and names the side asked about ("左肺尖" lost its side)."""
    text = ask(question, lang=parse(question).lang).answer.text
    assert said in text and side in text.split("。")[0].split(".")[0]


def test_a_change_asked_of_a_film_with_nothing_found_does_not_offer_to_describe_findings(ask: Callable[..., Any]) -> None:
    from dataclasses import replace

    from tests.orchestrator.dialogue.conftest import scenario_facts

    empty = replace(scenario_facts(), findings=())
    text = ask("has it grown?", facts=empty).answer.text
    assert "found no lesion on this film" in text and "ask me where each finding is now" not in text
    assert "ask me where each finding is now" in ask("has it grown?").answer.text


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("A1 is it solid or ground glass?", "en", "not told on a radiograph"),
    ("A1是实性还是磨玻璃?", "zh", "在X线片上无法区分"),
])
def test_solid_or_ground_glass_is_said_to_be_beyond_a_radiograph(question: str, lang: str, said: str,
                                                                 ask: Callable[..., Any]) -> None:
    """"Is it solid or ground glass?" got the homogeneity and the calcification and never a word on what was asked."""
    assert said in ask(question, lang=lang).answer.text


@pytest.mark.parametrize(("question", "lang"), [
    ("需要做什么检查?", "zh"), ("what further imaging is needed?", "en"), ("what should be done next?", "en"),
    ("下一步怎么办", "zh"), ("should we do a CT?", "en"),
])
def test_a_next_step_asked_says_what_the_film_leaves_unsettled_and_recommends_nothing(
        question: str, lang: str, ask: Callable[..., Any]) -> None:
    """"需要做什么检查?" got the generic "outside what a radiograph can show (treatment, prognosis...)", though every other
    answer says what would settle what it hedges: Hilum recommends nothing, and gathers those."""
    q = parse(question)
    assert (q.intent, q.next_step) == ("out_of_scope", True)
    text = ask(question, lang=lang).answer.text
    if lang == "en":
        assert "does not recommend tests or treatment" in text and "A1: solid or ground-glass (thin-section CT)" in text
        assert "A2: its margin" not in text  # a strand's outline is no nodule margin
    else:
        assert "本系统不推荐检查或治疗" in text and "A1:实性还是磨玻璃(薄层CT)" in text
    assert not parse("what treatment?").next_step and not parse("需要抗感染治疗吗?").next_step


def test_a_cavitys_wall_asked_is_said_unmeasured_and_passes_the_fact_guard(ask: Callable[..., Any]) -> None:
    """"How thick is its wall?" got the size, "空洞壁厚吗?" the density, and neither said a word of the wall."""
    from dataclasses import replace

    from orchestrator.narration.guard import check_narration
    from tests.orchestrator.dialogue.conftest import scenario_facts

    base = scenario_facts()
    cavity = replace(base.findings[0], kind="cavity", density=replace(base.findings[0].density, cavity=True))
    facts = replace(base, findings=(cavity, base.findings[1]))
    for question, lang, said in (("A1, how thick is its wall?", "en", "wall's thickness unmeasured"),
                                 ("A1空洞壁厚吗?", "zh", "不测量空洞壁厚"),
                                 # A2, a 25 x 18 mm strand, is large enough to hold a cavity unseen: none is
                                 # excluded (calibration.CAVITY_UNEXCLUDED_MM), so no "no wall" either
                                 ("A2, how thick is its wall?", "en",
                                  "A2: no cavity seen (one cannot be excluded at this resolution), so no wall is measured")):
        t = ask(question, lang=lang, facts=facts)
        assert said in t.answer.text, question
        assert check_narration(t.answer.text, t.facts(), t.answer.text, question).ok, question
    assert not parse("how big is it?").wall_asked


@pytest.mark.parametrize(("question", "lang"), [
    ("is this a child?", "en"), ("is this a paediatric film?", "en"), ("how old is the patient?", "en"),
    ("is it a man or a woman?", "en"), ("what sex is the patient?", "en"), ("age?", "en"),
    ("是儿童吗", "zh"), ("这是小孩的片子吗", "zh"), ("患者多大年龄", "zh"), ("男的还是女的", "zh"),
    ("这个孩子多大", "zh"), ("患者多大了", "zh"),  # "多大" of a person is an age (it was a size: "which one?")
])
def test_the_patient_asked_about_is_said_to_be_no_part_of_the_reading(question: str, lang: str,
                                                                      ask: Callable[..., Any]) -> None:
    """"Is this a child?" on a real child's film was read as "this one?" and asked back "which one do you mean — A1 or
    A2?", and "how old is the patient?" got "outside what a radiograph can show (treatment, prognosis, lab values)":
    Hilum reads neither age nor sex, and says what its answers assume instead."""
    q = parse(question)
    assert (q.intent, q.patient_asked) == ("out_of_scope", True)
    text = ask(question, lang=lang).answer.text
    if lang == "en":
        assert text.startswith("Hilum reads the film, not the patient: it does not estimate age or sex")
        assert "against an adult's limit (0.50)" in text and "treatment" not in text
    else:
        assert text.startswith("Hilum 只读片子,不判断患者") and "成人的界值(0.50)" in text


@pytest.mark.parametrize(("note", "adult"), [
    ("from the thorax width, assuming a typical 26.5 cm", True),  # as estimate_spacing writes it
    ("assumed a 43 cm field of view", False),
])
def test_an_estimated_spacing_says_it_took_an_adult_chest(note: str, adult: bool, make_facts: Callable[..., Any],
                                                          ask: Callable[..., Any]) -> None:
    """On a real child's film every size was scaled from an adult's chest width, and neither the spacing note nor "is
    this a child?" said so: both now say what the estimate took and that a child's film measures too large."""
    facts = replace(make_facts(), spacing=PixelSpacing(0.69, 0.69, "estimated", note))
    screened = ask("anything abnormal?", facts=facts).answer.text
    patient = ask("is this a child?", facts=facts).answer.text
    zh = ask("是儿童吗", lang="zh", facts=facts).answer.text
    if adult:
        assert "(0.690 mm per pixel, taking the chest as 26.5 cm across, an adult's width)" in screened
        assert "on a child's film they are too large" in screened
        assert "sizes in mm take the chest as 26.5 cm across, an adult's width; on a child's film they are too large" in patient
        assert "按成人胸廓宽约26.5 cm估计" in zh and "儿童的片子上数值偏大" in zh
    else:
        assert "(0.690 mm per pixel) and are approximate." in screened and "child" not in screened
        assert "sizes in mm" not in patient and "儿童的片子上" not in zh
    dicom = ask("is this a child?", facts=make_facts()).answer.text
    assert "sizes in mm" not in dicom


@pytest.mark.parametrize(("question", "intent"), [
    ("is the heart big for a child?", "assess_anatomy"), ("how big is it for his age?", "size"),
    ("how old is this lesion?", "out_of_scope"), ("is this a PA film?", "film_info"),
    ("how old are these opacities?", "out_of_scope"),
])
def test_a_question_about_the_film_that_names_the_patient_stays_about_the_film(question: str, intent: str) -> None:
    q = parse(question)
    assert (q.intent, q.patient_asked) == (intent, False)


@pytest.mark.parametrize("question", ["is it bacterial or viral?", "细菌还是病毒?"])
def test_the_cause_of_an_infection_asked_is_a_diagnosis_hilum_does_not_make(question: str,
                                                                             ask: Callable[..., Any]) -> None:
    """"Is it bacterial or viral?" on a real pneumonia film was read as "which one do you mean, A1 or A2?" for a margin:
    the cause is a diagnosis, which Hilum does not make; the screening is what it can show."""
    q = parse(question)
    assert (q.intent, q.diagnosis) == ("screen", True)
    text = ask(question, lang=q.lang).answer.text
    assert ("does not make a diagnosis" in text) if q.lang == "en" else ("不做诊断" in text or "不作诊断" in text)


@pytest.mark.parametrize(("question", "intent", "said"), [
    # a guideline of CT: "I do not know that term", or the generic out-of-scope reason (treatment, prognosis ...)
    ("what's the Lung-RADS category?", "out_of_scope", "Lung-RADS and the Fleischner Society's guidelines grade nodules seen on CT"),
    ("what does Fleischner recommend for this nodule?", "out_of_scope", "they are not applied to a radiograph"),
    ("Lung-RADS几类?", "out_of_scope", "Lung-RADS分类和Fleischner学会指南针对CT上的肺结节"),
    # a volume: its diameters, as if asked
    ("what's the volume of the nodule?", "size", "A radiograph is a single projection and gives no volume"),
    ("结节体积多大?", "size", "胸片是单一投影,无法测量体积"),
    ("what's the volume?", "out_of_scope", "A radiograph is a single projection and gives no volume"),
    # Hounsfield units: its density on the film as if asked, where A1 is, or the generic reason
    ("what's the nodule's density in HU?", "density", "A radiograph has no Hounsfield units"),
    ("what is the HU of A1?", "out_of_scope", "A radiograph has no Hounsfield units"),
    ("CT值多少?", "out_of_scope", "胸片没有CT值"),
])
def test_what_only_ct_measures_is_said_to_be_so(question: str, intent: str, said: str, ask: Callable[..., Any]) -> None:
    """Lung-RADS, Fleischner, a volume and Hounsfield units belong to CT: the answer says a radiograph has none of them,
    and gives what the film does show where a size or a density was asked too."""
    q = parse(question)
    assert q.intent == intent and q.ct_measure is not None
    turn = ask(question, lang=q.lang)
    assert said in turn.answer.text
    assert ("treatment" not in turn.answer.text or "recommend" in turn.answer.text) and "I do not know that term" not in turn.answer.text
    if intent == "size":
        assert turn.measurements and turn.measurements[0]["kind"] == "diameter"
    if q.ct_measure == "guideline":
        assert q.next_step and "Hilum does not recommend" in ask("what does Fleischner recommend for this nodule?").answer.text


def test_a_size_or_density_asked_alone_says_nothing_of_ct(ask: Callable[..., Any]) -> None:
    for question in ("how big is A1?", "is it dense?", "what's the next step?"):
        assert parse(question).ct_measure is None
    # a guideline named as the reason for a size asked is no question of the guideline
    assert (parse("Over 8 mm? Asking for Fleischner.").intent, parse("Over 8 mm? Asking for Fleischner.").ct_measure) == (
        "size", None)
    assert "Hounsfield" not in ask("is A1 dense?").answer.text and "volume" not in ask("how big is A1?").answer.text


@pytest.mark.parametrize(("question", "said"), [
    # the cardiothoracic ratio before
    ("how is the trachea?", "The trachea: Hilum does not trace the trachea, so it can say neither that it looks normal"),
    ("how is the mediastinum?", "The mediastinum: Hilum measures neither the mediastinum's width nor where it lies"),
    # the costophrenic angles before, then the overview's last words
    ("how is the aorta?", "The aorta and the great vessels: Hilum measures the cardiothoracic ratio only"),
    ("how are the ribs?", "The bones: Hilum does not read the bones (ribs, clavicles, spine)"),
    ("主动脉弓怎么样", "主动脉和大血管:本系统只测量心胸比,不判读心脏和大血管的轮廓"),
    # "outside what a chest radiograph can show" before
    ("how is the spine?", "The bones: Hilum does not read the bones"),
    # the whole film's screening before
    ("any problem with the soft tissues?", "The soft tissues: Hilum does not read the soft tissues of the chest wall"),
    ("纵隔怎么样", "纵隔:本系统不测量纵隔宽度及其相对中线的位置"),
])
def test_a_structure_not_read_asked_about_whole_is_said_not_read(question: str, said: str, ask: Callable[..., Any]) -> None:
    """A structure Hilum does not read, asked about with no sign of it named, got whatever it does read nearby: "how is
    the trachea?" the cardiothoracic ratio, "how is the aorta?" the costophrenic angles."""
    q = parse(question)
    assert q.intent == "assess_anatomy" and q.unread_structure is not None
    text = ask(question, lang=q.lang).answer.text
    assert text.startswith(said)
    assert "costophrenic" not in text and "肋膈角" not in text and "0.46" not in text


def test_a_sign_of_a_structure_or_a_region_named_by_one_is_not_the_structure_whole(ask: Callable[..., Any]) -> None:
    """A sign of the structure keeps its own answer; a lung region named after a bone is that region's screening; a
    finding's place against a rib is the finding's."""
    assert parse("Is the trachea midline?").signs == ("tracheal_deviation",)
    assert parse("Is the trachea midline?").unread_structure is None
    assert (parse("锁骨下有病灶吗").intent, parse("锁骨下有病灶吗").unread_structure) == ("screen", None)
    assert parse("Which rib does the nodule project over?").intent == "locate"
    assert parse("胸廓对称吗").unread_structure is None  # the overview, which says what it reads and what not


@pytest.mark.parametrize(("questions", "lang", "intent", "said"), [
    # the early-lung-cancer checklist "not counted on" the strand, with no word of the disease asked
    (("could A2 be atelectasis?",), "en", "sign_checklist",
     "Hilum has no sign checklist for atelectasis (collapse), so it cannot check A2 (left lower lobe strand-like opacity)"),
    (("A2会不会是肺不张",), "zh", "sign_checklist", "本系统没有肺不张的征象清单,无法对照A2"),
    (("tell me about A2", "could it be a scar?"), "en", "sign_checklist",
     "Hilum has no sign checklist for scarring (fibrosis), so it cannot check A2"),
    # where it lies, or the early-lung-cancer checklist
    (("is A2 a vessel?",), "en", "confidence", "A2 (left lower lobe strand-like opacity): that it is a real lesion, about"),
    (("A2是不是血管影",), "zh", "confidence", "A2(左肺下叶条索影):是真实病灶约"),
    (("A1是不是血管断面",), "zh", "confidence", "A1(右肺中叶圆形结节):是真实病灶约"),
    (("is A1 a vessel seen end-on?",), "en", "confidence", "A1 (right middle lobe round nodule): that it is a real lesion"),
    # the hilum's distance, or A1 located
    (("is the nodule near the fissure?",), "en", "measure_relation",
     "Hilum does not trace the fissures, so A1's distance to one cannot be measured; A1 projects over the right middle lobe"),
    (("结节靠近水平裂吗",), "zh", "measure_relation", "本系统不追踪叶间裂,无法测量A1与叶间裂的距离"),
    (("describe A1", "where is the horizontal fissure?"), "en", "assess_anatomy",
     "The fissures: Hilum does not trace the fissures"),
])
def test_what_a_finding_might_be_and_the_fissures(make_facts: Callable[..., Any], questions: tuple[str, ...], lang: str,
                                                  intent: str, said: str) -> None:
    """"Could A2 be atelectasis?" / "could it be a scar?" said the early-lung-cancer signs do not apply to a strand, with
    no word of what was asked; "is A2 a vessel?" located A2; "is the nodule near the fissure?" gave the hilum's distance,
    and "where is the horizontal fissure?" located the finding in focus."""
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.settings import Settings
    from tests.orchestrator.dialogue.conftest import NoEncoderDouble

    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.start_session(make_facts(), lang=lang).session_id
    turn = None
    for q in questions:
        turn = eng.ask(sid, q)
    assert turn is not None and turn.intent == intent and turn.answer.text.startswith(said)
    assert "early lung cancer" not in turn.answer.text and "早期肺癌" not in turn.answer.text


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("what's under the effusion?", "en", "On a frontal film fluid hides the lung behind it"),  # the term explained
    ("could the fluid hide a mass?", "en", "On a frontal film fluid hides the lung behind it"),  # "is there an effusion?"
    ("积液后面有没有病灶", "zh", "正位片上积液会遮挡其后方的肺组织"),
])
def test_what_fluid_hides_is_said(make_facts: Callable[..., Any], ask: Callable[..., Any], question: str, lang: str,
                                  said: str) -> None:
    """"What's under the effusion?" explained the term; "could the fluid hide a mass?" said whether there is an
    effusion. Fluid hides the lung behind it, which Hilum does not read through; the film's effusion, if any, is named."""
    q = parse(question)
    assert q.intent == "out_of_scope" and q.behind_fluid
    text = ask(question, lang=lang).answer.text
    assert text.startswith(said)
    assert ("No effusion-like opacity was found on this film." in text) or ("本片未见积液样密度影" in text)
    assert not parse("is there an effusion?").behind_fluid
