from __future__ import annotations

import pytest

from orchestrator.dialogue.parser import detect_lang, load_vocabulary, normalise, parse


def test_scenario_turn_two_query_matches_the_design_example() -> None:
    q = parse("右肺中叶那个圆形影,边缘是否规则?")
    assert q.intent == "describe_margin" and q.lang == "zh"
    assert q.to_dict() == {"side": "right", "lobe": "RML", "zone": None, "band": None, "anatomy": [],
                           "descriptors": ["round"], "references": ["那个"]}


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("肺部是否有异常?", "screen"),
        ("这个病灶距离右肺门有多远?是否与肺门结构相连?", "measure_relation"),
        ("如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?", "sign_checklist"),
        ("Is there anything abnormal in the lungs?", "screen"),
        ("How far is this lesion from the right hilum? Is it connected to the hilar structures?", "measure_relation"),
        ("If this were early lung cancer, what are the typical X-ray signs, and how many does this image show?", "sign_checklist"),
    ],
)
def test_scenario_intents(question: str, intent: str) -> None:
    assert parse(question).intent == intent


def test_side_bound_to_anatomy_does_not_locate_the_lesion() -> None:
    q = parse("这个病灶距离右肺门有多远?")
    assert q.anatomy == ("hilum_right",)
    assert q.side == "right" and q.lesion_side is None
    assert "这个病灶" in q.references


def test_english_typos_are_corrected() -> None:
    q = parse("Is the marign of the round opacity in the rigth middle lobe reguler?")
    assert q.intent == "describe_margin" and q.lobe == "RML" and q.side == "right"


def test_mixed_language_counts_as_the_dominant_language() -> None:
    assert detect_lang("这个nodule的margin规则吗?") == "zh"
    assert detect_lang("Is the 边缘 regular?") == "en"
    assert parse("这个nodule符合lung cancer的表现吗?").checklist == "early_lung_cancer"


def test_explicit_anchor_ids_and_ordinals() -> None:
    assert parse("Compare A1 and A2.").anchor_ids == ("A1", "A2")
    assert parse("看看A2的位置").anchor_ids == ("A2",)
    assert parse("where exactly is the second opacity?").ordinal == 2
    assert parse("另一个病灶在哪?").other


def test_explain_term_uses_ontology_names() -> None:
    q = parse("胸膜凹陷征是什么意思?")
    assert q.intent == "explain_term" and q.term == "pleural_indentation"
    assert parse("What does spiculation mean?").term == "spiculation"
    # a PadChest term, via its zh synonym from the ontology
    assert parse("Kerley线是什么意思?").term == "kerley_lines"


def test_vocabulary_comes_from_data_files() -> None:
    v = load_vocabulary()
    assert "右肺中叶" in v.lobes["RML"]
    assert "毛刺征" in v.terms["spiculation"]
    assert len(v.terms) >= 200
    # location names merged from the ontology's PadChest locations (en + zh)
    assert "膈" in v.anatomy["diaphragm"] and "lower lung field" in v.zones["lower"] and "舌段" in v.lobes["LUL"]


def test_lower_lobe_is_not_the_lower_zone() -> None:
    q = parse("左肺下叶的条索影")
    assert q.lobe == "LLL" and q.zone is None and q.descriptors == ("strand-like",)
    assert parse("左下肺的病灶").zone == "lower"


def test_normalise_full_width() -> None:
    assert normalise("ＲＭＬ　结节?") == "rml 结节?"


def test_unanswerable_and_empty_like_input() -> None:
    assert parse("今天天气怎么样?").intent == "out_of_scope"
    assert parse("???").intent == "out_of_scope"


def test_what_is_a_sign_asks_for_its_meaning() -> None:
    """"什么是毛刺征" is a question about the term, not about this film's margin (a withheld film
    still answers it)."""
    for question, sign in (("什么是毛刺征?", "spiculation"), ("什么是分叶征?", "lobulation")):
        q = parse(question)
        assert (q.intent, q.term) == ("explain_term", sign)
    assert parse("右肺中叶那个圆形影,边缘是否规则?").intent == "describe_margin"
