from __future__ import annotations

import pytest

from orchestrator.dialogue.parser import correct_typos, detect_lang, load_vocabulary, normalise, parse


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
    # full width to half, lower case; the space between Chinese and Latin text or digits dropped
    assert normalise("ＲＭＬ　结节?") == "rml结节?"
    assert normalise("LLL 那个 strand 有几 cm 长") == "lll那个strand有几cm长"
    assert normalise("how far is the RML nodule") == "how far is the rml nodule"


def test_traditional_characters_read_as_simplified() -> None:
    assert normalise("條索影的邊界清楚嗎") == "条索影的边界清楚吗"
    for traditional, simplified in (("條索影的邊界清楚嗎", "条索影的边界清楚吗"), ("兩個病灶哪個大", "两个病灶哪个大"),
                                    ("左肺那個結節有沒有鈣化", "左肺那个结节有没有钙化")):
        assert parse(traditional) == parse(simplified)


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


# --- issue 26: the misreadings seen from outside ----------------------------------------------------


@pytest.mark.parametrize("question", ["Are both lung fields clear?", "肺野清晰吗?", "Do you see any nodules?",
                                      "Give me a read.", "影像所见?", "双肺野有无异常密度影?"])
def test_colloquial_screening_questions(question: str) -> None:
    q = parse(question)
    assert q.intent == "screen" and not q.diagnosis


@pytest.mark.parametrize("question", ["What is the diagnosis?", "诊断是什么?", "这是什么病?", "Impression?"])
def test_a_diagnosis_question_is_the_screening_summary_flagged(question: str) -> None:
    q = parse(question)
    assert (q.intent, q.diagnosis, q.checklist) == ("screen", True, None)
    # naming a disease keeps it a checklist question
    assert parse("诊断是不是肺癌?").intent == "sign_checklist"


@pytest.mark.parametrize(("question", "sign"), [("毛刺征是什么?", "spiculation"), ("what is 分叶征?", "lobulation"),
                                                ("What is spiculation?", "spiculation"), ("lobulation是什么?", "lobulation")])
def test_what_is_a_sign_in_any_language_mix(question: str, sign: str) -> None:
    assert (parse(question).intent, parse(question).term) == ("explain_term", sign)


def test_a_weak_what_is_about_this_film_is_not_a_term_question() -> None:
    assert parse("What is the distance of the right middle zone nodule to the hilum?").intent == "measure_relation"
    assert parse("它上方的病灶是什么形状?").intent == "describe_margin"


@pytest.mark.parametrize("question", ["最大径多少?", "What is the long axis?", "short axis of the strand?", "长轴多长?"])
def test_radiologists_diameters_are_size(question: str) -> None:
    assert parse(question).intent == "size"


@pytest.mark.parametrize(("question", "op", "limit"), [("Is it bigger than 1 cm?", "gt", 10.0), ("超过3厘米吗?", "gt", 30.0),
                                                       ("Is it smaller than 5 mm?", "lt", 5.0), ("它大于8mm吗", "gt", 8.0)])
def test_size_thresholds_with_units(question: str, op: str, limit: float) -> None:
    q = parse(question)
    assert (q.intent, q.size_op, q.size_mm) == ("size", op, limit)
    assert "large" not in q.descriptors and "small" not in q.descriptors  # not "the bigger one"


@pytest.mark.parametrize("question", ["How many cm is it from the centre of the hilum?", "距离肺门中心几厘米?",
                                      "离肺门多少毫米?", "Is it more than 3 cm from the hilum?"])
def test_a_unit_with_the_hilum_is_a_distance(question: str) -> None:
    q = parse(question)
    assert q.intent == "measure_relation" and q.size_op is None


@pytest.mark.parametrize("question", ["where is it and is it more than 2 cm from the hilum?", "它在哪里,离肺门超过2厘米吗?"])
def test_a_distance_threshold_after_where_is_a_distance_asked_after_the_place(question: str) -> None:
    """"Where is it and is it more than 2 cm from the hilum?" was a size over 20 mm (the whole question's threshold
    bonus), and "它在哪里,离肺门超过2厘米吗?" the place alone: the place, then the distance."""
    q = parse(question)
    assert (q.intent, q.also, q.size_op) == ("locate", ("measure_relation",), None)
    assert parse("where is it and is it bigger than 2 cm?").also == ("size",)  # no landmark: still the size


@pytest.mark.parametrize(("question", "part", "whether"), [
    ("is it bigger than 1 cm and how long are its spicules?", "spicules", "is it bigger than 1 cm and does it have spicules?"),
    ("它大于1厘米吗,毛刺多长?", "spicules", "它大于1厘米吗,有没有毛刺?"),
    ("is it bigger than 1 cm and how deep are its notches?", "notches", "is it bigger than 1 cm and any notches?")])
def test_the_margin_part_asked_in_a_later_clause_is_kept(question: str, part: str, whether: str) -> None:
    """"Is it bigger than 1 cm and how long are its spicules?": the part was named only where the margin was asked
    first; whether it has them still names none (which finding is meant is asked)."""
    q = parse(question)
    assert (q.intent, q.also, q.margin_part) == ("size", ("describe_margin",), part)
    asked_whether = parse(whether)
    assert asked_whether.also == ("describe_margin",) and asked_whether.margin_part is None


@pytest.mark.parametrize("question", ["is it bigger than 1 cm and where are the notches?", "它大于1厘米吗,分叶在哪里?"])
def test_the_notches_placed_after_a_size_threshold_keep_the_size(question: str) -> None:
    """"Is it bigger than 1 cm and where are the notches?" was the margin, then the place (the clause "where are the
    notches" read as a place), and the size threshold was lost: the size, then the notches."""
    q = parse(question)
    assert (q.intent, q.also, q.margin_part, q.size_op, q.size_mm) == ("size", ("describe_margin",), "notches", "gt", 10.0)


@pytest.mark.parametrize(("question", "op", "limit"), [
    ("is A1 more than 2 cm from the heart?", "gt", 20.0), ("A1距心脏超过2厘米吗?", "gt", 20.0),
    ("is A1 within 1 cm of the heart?", "lt", 10.0), ("is A1 within 1 cm of the trachea?", "lt", 10.0),
    ("A1离气管1厘米以内吗?", "lt", 10.0), ("is the nodule more than 3 cm from the mediastinum?", "gt", 30.0),
    ("A1离纵隔超过3厘米吗?", "gt", 30.0)])
def test_a_threshold_from_a_structure_is_a_distance_not_a_size(question: str, op: str, limit: float) -> None:
    """"Is A1 more than 2 cm from the heart?" was a size over 20 mm ("No: its longest diameter is 13.1 mm"), and "within
    1 cm of the trachea" a size with no threshold: a threshold from a structure measured to is its distance's."""
    q = parse(question)
    assert (q.intent, q.size_op, q.distance_op, q.distance_mm) == ("measure_relation", None, op, limit)


@pytest.mark.parametrize("question", ["is the heart bigger than 15 cm?", "is the nodule near the heart more than 1 cm?",
                                      "is the trachea within 1 cm of the midline?"])
def test_a_structure_with_a_value_and_no_distance_to_a_finding_is_no_distance(question: str) -> None:
    q = parse(question)
    assert q.intent != "measure_relation" and q.distance_op is None


@pytest.mark.parametrize(("question", "also", "size", "distance"), [
    ("is it more than 2 cm from the hilum and where is it?", ("locate",), None, ("gt", 20.0)),
    ("它离肺门超过2厘米吗,在哪里?", ("locate",), None, ("gt", 20.0)),
    ("is it within 2 cm of the pleura and how big is it?", ("size",), None, ("lt", 20.0)),
    ("它距胸膜2厘米以内吗,有多大?", ("size",), None, ("lt", 20.0)),
    ("is it more than 2 cm from the hilum and is it bigger than 1 cm?", ("size",), ("gt", 10.0), ("gt", 20.0))])
def test_a_distance_asked_first_keeps_the_later_part(question: str, also: tuple[str, ...],
                                                      size: tuple[str, float] | None,
                                                      distance: tuple[str, float]) -> None:
    """"Is it more than 2 cm from the hilum and where is it?" was the distance alone (a distance had no later part), and
    "is it within 2 cm of the pleura and how big is it?" the size alone; each threshold is its own clause's (the size
    had been measured against the distance's 20 mm)."""
    q = parse(question)
    assert (q.intent, q.also) == ("measure_relation", also)
    assert ((q.size_op, q.size_mm) if q.size_op else None, (q.distance_op, q.distance_mm)) == (size, distance)


@pytest.mark.parametrize(("question", "size_mm"), [
    ("is it bigger than 1 cm and is it more than 2 cm from the hilum?", 10.0), ("它大于1厘米吗,离肺门超过2厘米吗?", 10.0),
    ("how big is it and is it more than 2 cm from the heart?", None)])
def test_a_distance_threshold_after_the_size_is_its_own(question: str, size_mm: float | None) -> None:
    """"Is it bigger than 1 cm and is it more than 2 cm from the hilum?" was the distance alone, against 10 mm, and "how
    big is it and is it more than 2 cm from the heart?" a size against 20 mm: the size (against its own threshold, where
    it has one), then the distance against 20 mm."""
    q = parse(question)
    assert (q.intent, q.also, q.distance_op, q.distance_mm) == ("size", ("measure_relation",), "gt", 20.0)
    assert q.size_mm == size_mm


def test_two_named_lesions_make_a_pair() -> None:
    q = parse("How far is the nodule from the strand?")
    assert q.intent == "measure_relation" and q.descriptors == ("nodule", "strand-like")
    assert parse("A1离A2有多远").anchor_ids == ("A1", "A2")
    # a strand that connects is the link, not a second lesion
    assert "strand-like" not in parse("病灶与肺门之间有没有条索相连?").descriptors


@pytest.mark.parametrize("question", ["Where are the notches?", "切迹在几点钟方向?", "毛刺有几根?", "How long are the spicules?",
                                      "毛刺多长?"])
def test_parts_of_the_margin_are_margin_questions(question: str) -> None:
    assert parse(question).intent == "describe_margin"


@pytest.mark.parametrize("question", ["Is it in the upper, middle or lower zone?", "内带还是外带?",
                                      "Inner, middle or outer third?", "在上肺野还是下肺野?"])
def test_offered_choices_name_no_zone_or_band(question: str) -> None:
    q = parse(question)
    assert q.intent == "locate" and q.zone is None and q.band is None and q.ordinal is None


@pytest.mark.parametrize(("question", "relative"), [("Where is the one above it?", "above"), ("它上面那个在哪?", "above"),
                                                    ("How big is the one below it?", "below"), ("它下面那个病灶有多大?", "below")])
def test_relative_references(question: str, relative: str) -> None:
    assert parse(question).relative == relative


@pytest.mark.parametrize("question", ["Which one is bigger?", "which one is closer to the hilum?", "哪个更可疑?",
                                      "Is the nodule larger than the strand?", "结节比条索影大吗?"])
def test_comparisons(question: str) -> None:
    assert parse(question).intent == "compare"


@pytest.mark.parametrize(("question", "sign"), [
    ("Is there a pneumothorax?", "pneumothorax"), ("有没有胸腔积液?", "pleural_effusion"),
    ("Is there cardiomegaly?", "cardiomegaly"), ("纵隔有没有增宽?", "mediastinal_widening"),
    ("肺门大小正常吗?", "hilar_enlargement"), ("膈面光滑吗?", "diaphragm_contour"), ("Is the trachea midline?", "tracheal_deviation"),
    # a shift of the mediastinum is its own sign, not its width ("纵隔有没有移位" was answered "mediastinal widening")
    ("纵隔有没有移位?", "mediastinal_shift"), ("纵隔居中吗", "mediastinal_shift"), ("is the mediastinum shifted?", "mediastinal_shift"),
    ("is there mediastinal shift?", "mediastinal_shift"), ("纵隔正常吗", "mediastinal_widening"),
])
def test_sign_presence_questions(question: str, sign: str) -> None:
    q = parse(question)
    assert (q.intent, q.sign) == ("assess_anatomy", sign)


def test_sign_names_in_checklist_or_term_questions_stay_there() -> None:
    assert parse("Are there typical signs of pneumothorax?").intent == "sign_checklist"
    assert parse("有胸腔积液的表现吗?符合几条?").intent == "sign_checklist"
    assert parse("What does cardiomegaly mean?").intent == "explain_term"
    assert parse("肋膈角变钝是什么意思?").intent == "explain_term"


@pytest.mark.parametrize("question", ["他的血压正常吗?", "Is her heart rate normal?", "Is his temperature normal?"])
def test_questions_about_the_patient_not_the_film(question: str) -> None:
    assert parse(question).intent == "out_of_scope"


@pytest.mark.parametrize(("question", "code"), [
    ("この結節の大きさは?", "ja"), ("폐에 이상이 있나요?", "ko"), ("¿Hay alguna anomalía en los pulmones?", "es"),
    ("Quelle est la taille du nodule ?", "fr"), ("Gibt es eine Auffälligkeit in der Lunge?", "de"),
])
def test_languages_hilum_does_not_speak(question: str, code: str) -> None:
    q = parse(question)
    assert (q.intent, q.foreign) == ("out_of_scope", code)


@pytest.mark.parametrize("question", ["Is there a pleural effusion?", "Is the RML nodule lobulated?", "A1 vs A2?",
                                      "这个nodule的margin规则吗?", "Is the lesion in the RML or the RLL?"])
def test_english_and_chinese_are_not_foreign(question: str) -> None:
    assert parse(question).foreign is None


def test_new_parse_fields_survive_session_state() -> None:
    from orchestrator.dialogue.parser import Query

    q = parse("Is it bigger than 1 cm?")
    assert Query.from_state(q.to_state()) == q
    assert set(q.to_state()) >= set(Query.__dataclass_fields__)  # every field, so none is lost on the way back
    for question in ("Is this film normal?", "Write a report", "A1比A2大吗?"):  # the fields they set, kept
        q = parse(question)
        assert Query.from_state(q.to_state()) == q and (q.asks_normal or q.summary_asked or q.size_asked)


def test_lobes_offered_as_choices_name_no_lobe() -> None:
    q = parse("右肺中叶还是下叶?")
    assert (q.intent, q.lobe, q.side) == ("locate", None, "right")
    assert parse("Is it in the middle lobe or the lower lobe?").lobe is None
    assert parse("右肺中叶那个圆形影,边缘是否规则?").lobe == "RML"


def test_a_sign_inside_a_disease_name_is_the_disease() -> None:
    q = parse("Does this look like fluid overload / CHF?")
    assert q.intent == "sign_checklist" and q.checklist == "cardiomegaly_heart_failure" and not q.signs
    assert parse("is there pleural fluid?").intent == "assess_anatomy"  # the sign itself is still asked


def test_two_named_findings_with_a_compare_word_compare() -> None:
    assert parse("A1 vs A2 size").intent == "compare"
    assert parse("A1 size").intent == "size"


def test_a_sides_letter_before_a_place_in_the_chest_is_that_side() -> None:
    q = parse("How big is the opacity at the R base?")
    assert q.lesion_side == "right" and q.zone == "lower"
    assert parse("what's going on at the L base").lesion_side == "left"
    assert parse("is the spot in the R lung solid?").lesion_side == "right"
    assert parse("is L1 fractured?").lesion_side is None  # a letter before no chest place is no side


def test_two_swapped_letters_are_corrected() -> None:
    lexicon = load_vocabulary().lexicon
    assert correct_typos("where is the nodlue on the rigth", lexicon) == "where is the nodule on the right"
    assert correct_typos("where's the lesoin", lexicon) == "where's the lesion"


@pytest.mark.parametrize(("question", "intent"), [
    ("结节多大,离胸膜多远", "size"),
    ("where is the nodule and how big is it", "locate"),
    ("麻烦问一下,那个结节边缘光滑吗,谢谢", "describe_margin"),  # a polite clause asks nothing
])
def test_of_two_clauses_that_each_ask_the_first_is_answered(question: str, intent: str) -> None:
    assert parse(question).intent == intent


@pytest.mark.parametrize(("question", "kinds"), [
    ("any GGO?", ("ground_glass",)),
    ("GGO 有吗", ("ground_glass",)),
    ("有没有钙化结节", ("calcified+nodule",)),
    ("右上肺野有没有 mass 或者 cavity", ("mass", "cavity")),
    ("Can u tell me if there's a mass anywhere", ("mass",)),
])
def test_a_kind_of_lesion_looked_for_is_kept(question: str, kinds: tuple[str, ...]) -> None:
    q = parse(question)
    assert q.intent in ("screen", "density") and q.kinds == kinds


def test_a_content_asked_of_a_lesion_named_is_no_kind_looked_for() -> None:
    for question in ("结节有没有钙化", "is there calcification in the nodule", "Is it solid or ground-glass?"):
        q = parse(question)
        assert q.intent == "density" and q.kinds == () and "ground_glass" not in q.descriptors


@pytest.mark.parametrize(("question", "mentions"), [
    ("compare A2 and A1", ("A2", "A1")),
    ("比较一下第二个和第一个病灶", ("ord:2", "ord:1")),
    ("左边的和右边的比起来哪个密度高", ("side:left", "side:right")),
    ("Is the other one more irregular than this one?", ("other", "focus")),
    ("the strand vs the nodule, which is more worrying?", ("d:strand-like", "d:nodule")),
    ("这个结节和那条索影哪个大", ("d:nodule", "d:strand-like")),  # "这个" is the nodule's, not a finding of its own
])
def test_findings_are_mentioned_in_the_order_named(question: str, mentions: tuple[str, ...]) -> None:
    assert parse(question).mentions == mentions


@pytest.mark.parametrize(("question", "intent"), [
    ("医生说我肺上有个结节,大不大啊", "size"),  # a kind named in a statement is not looked for
    ("I'd like to know whether the linear shadow has smooth borders", "describe_margin"),  # "whether" is no "weather"
    ("is the nodule 12 mm?", "size"),  # a value with its unit
    ("is the nodule within 2 cm of the pleura", "measure_relation"),  # ... and a landmark: a distance
    ("could you please let me know roughly where the second abnormality sits", "locate"),  # an ordinal's noun points
    ("is the left lung clear?", "screen"),
    ("R lung clear?", "screen"),
    ("Is there any consolidation?", "assess_anatomy"),  # a sign asked, not a kind of lesion looked for
    ("is there a hilar mass?", "assess_anatomy"),
    ("有没有胸膜凹陷征", "sign_checklist"),  # a lesion's sign asked whether present ...
    ("胸膜凹陷征是什么意思", "explain_term"),  # ... or what it is
    ("哪个病灶边缘更光滑", "compare"),
    ("一共几个病灶", "screen"),
    ("is it curable", "out_of_scope"),
])
def test_general_rules_from_the_v7_probes(question: str, intent: str) -> None:
    assert parse(question).intent == intent


@pytest.mark.parametrize(("question", "intent"), [
    ("how's the pleura", "screen"), ("how is the pleura?", "screen"), ("胸膜怎么样", "screen"),
    ("how does the lung parenchyma look?", "screen"), ("肺实质怎么样", "screen"),
    ("what is the lung parenchyma?", "explain_term"), ("what's the pleura?", "explain_term"),
    ("what about behind the heart?", "screen"), ("and behind the heart?", "screen"), ("心影后面呢", "screen"),
    ("anything behind the heart?", "screen"),
    # a region of the lungs asked how it looks (it was "no lesion matching that description", or the ratio)
    ("how is the left base?", "screen"), ("how are the lung apices?", "screen"), ("锁骨下区怎么样", "screen"),
    ("锁骨下呢", "screen"), ("what about the subclavicular region?", "screen"),
    ("how is the left base lesion?", "locate"), ("锁骨怎么样", "assess_anatomy"),  # a finding there; a bone
])
def test_how_the_pleura_or_the_lungs_look_is_their_screening(question: str, intent: str) -> None:
    """"How's the pleura", "how does the lung parenchyma look?" and "what about behind the heart?" (on a real normal
    child's film) were told "outside what a chest radiograph can show" (nothing but the fallback scored them), where
    "胸膜怎么样" and "anything behind the heart?" were screened."""
    assert parse(question).intent == intent


def test_a_letter_spelled_by_its_sound_is_corrected() -> None:
    lexicon = load_vocabulary().lexicon
    assert correct_typos("is the nodule calsified", lexicon) == "is the nodule calcified"
    assert correct_typos("how far from the diafragm", lexicon) == "how far from the diaphragm"


@pytest.mark.parametrize(("question", "intent"), [
    ("my GP said there was a shadow on the left, but how big is it?", "size"),  # a statement before the question
    ("报告上写了8mm,边缘毛不毛", "describe_margin"),  # ... and its value asks nothing
    ("apologies for the basic question, where is the strand?", "locate"),  # courtesy asks nothing
    ("is the nodule as dense as bone?", "density"),  # one finding against a tissue's density
    ("how big is the heart shadow?", "assess_anatomy"),  # a size asked of a structure alone
    ("左下那个像不像肺炎", "sign_checklist"),
    ("这片子看着像肺癌吗", "sign_checklist"),  # "像" with a disease named
    ("what's the difference between a hilum and a mediastinum?", "explain_term"),
])
def test_general_rules_from_the_v9_set(question: str, intent: str) -> None:
    assert parse(question).intent == intent


@pytest.mark.parametrize(("question", "mentions"), [
    ("is the RLL one bigger than the LLL one?", ("lobe:RLL", "lobe:LLL")),
    ("下面那个和上面那个哪个边缘更光", ("rel:below", "rel:above")),
    ("它比上面那个密度高吗", ("focus", "rel:above")),
    ("它上面那个多大", ("rel:above",)),  # "它" is where "上面" is taken from, not a finding of its own
    ("which is more worrying, the right or the left one?", ("side:right", "side:left")),
])
def test_positions_lobes_and_elided_sides_are_mentioned_in_order(question: str, mentions: tuple[str, ...]) -> None:
    assert parse(question).mentions == mentions


def test_a_place_checked_and_a_try_on_another_finding() -> None:
    assert parse("Is the strand in the right lung?").place_checked
    assert parse("结节是在左肺吗").place_checked
    assert not parse("Where is the strand?").place_checked
    q = parse("那左边那个看看呢")
    assert q.elliptical and q.intent != "screen"


@pytest.mark.parametrize(("word", "corrected"), [
    ("nodual", "nodule"),  # vowels changed or moved, the consonants kept: a slip of the vowels
    ("spiky", "spiky"),  # ... in a word of six letters or more only
    ("notching", "notching"),  # a known word with its ending is no typo
    ("whats", "what's"),
    ("different", "different"),  # a common English word is no typo of a vocabulary word ("differential") ...
    ("each", "each"),  # ... ("reach")
    ("order", "order"),  # ... ("border")
    ("medical", "medical"),  # ... ("medial")
    ("thinner", "thinner"),  # ... ("inner")
    ("sarcoidosis", "sarcoidosis"),  # ... ("scoliosis")
])
def test_typo_correction_from_the_v10_set(word: str, corrected: str) -> None:
    assert correct_typos(word, load_vocabulary().lexicon) == corrected


@pytest.mark.parametrize(("question", "intent"), [
    ("Are both hila normal?", "assess_anatomy"),  # "both" of two structures, not the two findings
    ("双侧肺门怎么样?", "assess_anatomy"),
    ("Any cavitation in the RML lesion?", "density"),  # a lesion named by its place: its content asked
    ("Any cavitation in the RML?", "screen"),  # a kind looked for in a place
    ("How much radiation did this X-ray give me?", "out_of_scope"), ("这个需要吃消炎药吗?", "out_of_scope"),
    ("Dx?", "screen"), ("有无 PTX", "assess_anatomy"), ("ok 谢谢 doctor", "out_of_scope"),
    ("心脏有没有变大 我爸有高血压", "assess_anatomy"),  # a relative's condition asks nothing
    ("所以最后的diagnosis是什么?会不会是lung cancer?", "screen"),  # of two questions, the first
    ("Is the round spot malignant? and should he do surgery?", "sign_checklist"),
    ("Is the left basal opacity close to the heart border?", "measure_relation"),
    ("is the round one close to the heart border?", "measure_relation"),  # nothing asked after the landmark
    ("is the one near the diaphragm smooth?", "describe_margin"),  # ... here the landmark says which one
    ("Does the spiculated one have any notches?", "describe_margin"),
    ("自动筛查靠得住吗?", "confidence"), ("你确定它边缘是光滑的吗?", "confidence"),
    ("Certainty on the 12 mm measurement?", "confidence"),
])
def test_general_rules_from_the_v15_to_v19_sets(question: str, intent: str) -> None:
    assert parse(question).intent == intent


def test_a_person_named_with_this_is_no_finding() -> None:
    assert parse("这个病人是不是得了肺癌?").references == ()
    assert parse("does this patient have cancer?").references == ()
    assert parse("这个是不是肺癌").references == ("这个",)


@pytest.mark.parametrize(("question", "intent"), [
    ("结节有没有分页", "describe_margin"),  # a Chinese homophone typo ("分页" for 分叶)
    ("它直经多少", "size"),
    ("The report says a 12 mm nodule. Is it spiculated?", "describe_margin"),  # "a 12 mm" is a value, not A12
    ("What's the HU value of the nodule?", "out_of_scope"),  # a CT-only question
    ("哪个离心脏近", "compare"),
    ("毛刺和分叶有什么区别", "explain_term"),  # two terms' difference, above what their own words score
    ("How is a mass different from a nodule?", "explain_term"),
    ("what's abnormal here?", "screen"),  # "what's a" is not in "what's abnormal"
    ("What's in the left lower zone?", "locate"),  # a place on this film asks no term
    ("is there a lesion in the right lung?", "screen"),  # a lesion looked for, none pointed at
    ("Is the upper one bigger than the lower one?", "compare"),  # two findings by position
    ("Are the two lesions similar in density?", "compare"),
    ("心脏边界清楚吗", "assess_anatomy"),  # the outline of a structure alone assesses it
    ("条索影跟心缘有没有接触", "measure_relation"),  # a lesion's contact with the heart is a relation
    ("Is the nodule something to worry about?", "sign_checklist"),  # how bad a lesion named is
    ("Any suspicious features in the RML nodule?", "sign_checklist"),
    ("Anything worrying on this chest film?", "screen"),  # ... of no lesion in particular
    ("Any suspicious nodules?", "screen"),
    ("how thick is the strand?", "size"),
    ("锁骨下区有没有异常", "screen"),  # a region where lesions hide, looked in
    ("如果是肺炎，片子上应该看到什么，符合几条", "sign_checklist"),  # a condition clause is no statement
    ("患者男，65岁，吸烟史30年。右肺结节是否考虑恶性？", "sign_checklist"),  # a sentence's end ends a statement
    ("是不是都正常", "screen"),
    ("will he be ok?", "out_of_scope"),
    ("Is this hereditary?", "out_of_scope"),
    ("how big is the nodule compared to the strand?", "compare"),  # two findings named with "compared to"
    ("Is the boundary between the nodule and the lung crisp?", "describe_margin"),
    ("any vacuole sign in the nodule?", "density"),
    ("So nothing else apart from these two?", "screen"),  # "from the" is not in "from these"
    ("So the nodule is the more worrying one?", "compare"),  # which of the findings is worse
    ("Are there more than two lesions?", "screen"),  # "than" a number counts
    ("两个比一下大小", "compare"),  # ... "比一下" is no number
    ("nodule 有没有 spiculation", "describe_margin"),
    ("Lungs?", "screen"),  # the lungs named, nothing asked of them
    ("还有吗", "screen"),
    ("Are the two lesions close together?", "measure_relation"),
])
def test_general_rules_from_the_v10_set(question: str, intent: str) -> None:
    assert parse(question).intent == intent


def test_lateral_and_medial_pointers_and_respectively() -> None:
    assert parse("which zone is the lateral one in?").proximity == "far"
    assert parse("外侧那个离胸膜多远").landmark == "mediastinum"
    assert parse("the medial one, how big is it?").proximity == "near"
    assert not parse("结节的长径短径分别多少毫米").both  # "分别" of one lesion named is its axes
    assert parse("两个病灶分别多大").both
    assert parse("what's the distance between them?").both and parse("how far apart are they").both


def test_an_asking_cue_is_no_ellipsis() -> None:
    q = parse("它跟另一个比呢")
    assert q.intent == "compare" and not q.elliptical
    assert not parse("那它是良性的吗").elliptical
    assert parse("那右边那个呢").elliptical and parse("再看看另一个").elliptical


@pytest.mark.parametrize(("question", "intent"), [
    ("右下肺有点什么吗", "screen"),  # "something there", said colloquially, is a lesion looked for
    ("心后方藏没藏东西", "screen"),
    ("左边肺底是不是有东西", "screen"),
    ("结节和肺门之间有没有东西连着", "measure_relation"),  # ... not a link asked about
    ("结接多大", "size"),  # Chinese homophone typos: 结接 / 空东 / 肺们
    ("有空东吗", "density"),
    ("离肺们远不远", "measure_relation"),
    ("那个条索是不是钙化灶", "density"),  # a content after a copula is asked about, not pointed with
    ("它偏上还是偏下", "locate"),  # a choice of positions asks where
    ("结节靠内还是靠外", "locate"),
    ("条索影贴着膈肌吗", "measure_relation"),  # "贴着" is a contact, as "挨着"
    ("肺里有水吗", "assess_anatomy"),  # colloquial effusion
    ("胸腔内有没有水", "assess_anatomy"),
    ("纵隔有没有偏", "assess_anatomy"),  # states: 偏 / 歪 / in the middle
    ("气管歪了没有", "assess_anatomy"),
    ("is the windpipe straight?", "assess_anatomy"),
    ("any sign of lung collapse?", "assess_anatomy"),  # as "collapsed lung"
    ("肺气肿是什么病", "explain_term"),  # a term with a diagnosis word: the term is asked about
    ("右肺那个是什么病", "screen"),  # ... a finding's diagnosis is not
    ("分叶和毛刺啥区别", "explain_term"),  # two terms' difference, "有" left out, Latin terms of any length
    ("atelectasis 和 consolidation 有啥区别", "explain_term"),
    ("结节和条索影啥区别", "compare"),  # two kinds of lesion this film shows are findings compared
    ("describe the nodule", "describe_margin"),  # a finding described
    ("describe the whole x-ray", "screen"),
    ("心脏后头有东西吗", "screen"),  # behind the heart is a region, not the heart
    ("how often should she get a repeat x-ray?", "out_of_scope"),
    ("和上次的片子比有变化吗", "out_of_scope"),
    ("肺结节一般要怎么处理", "out_of_scope"),
    ("any pleural tag on the nodule?", "sign_checklist"),  # a lesion's sign asked whether present
    ("我爸今年70了，肺上有个结节，边上毛毛的，要紧吗", "sign_checklist"),  # a statement before "how bad is it"
    ("它的 density 跟 A2 比呢", "compare"),  # the one in focus and one named by its number
])
def test_general_rules_from_the_v11_set(question: str, intent: str) -> None:
    assert parse(question).intent == intent


def test_compared_with_first_names_the_subject_first() -> None:
    assert parse("跟另一个比它大还是小").mentions == ("focus", "other")
    assert parse("和条索影相比，结节的密度怎么样").mentions == ("d:nodule", "d:strand-like")
    assert parse("Compared to the nodule, is the strand longer?").mentions == ("d:strand-like", "d:nodule")
    assert parse("条索影和结节比，哪个密度高").mentions == ("d:strand-like", "d:nodule")  # not an opening phrase
    q = parse("和另一个比呢")  # the other one compared with, the one in focus asked about
    assert q.intent == "compare" and q.it_and_other and q.mentions == ("focus", "other") and not q.elliptical


def test_calcified_pointer_and_predicate() -> None:
    assert "calcified" in parse("钙化的那个结节多大").descriptors  # points at the calcified one
    assert "calcified" not in parse("右中肺那个是不是钙化灶").descriptors  # asks whether it is one


@pytest.mark.parametrize(("question", "intent"), [
    ("结节有没有十五毫米", "size"),  # Chinese numerals before a unit read as a value
    ("条索影是不是三点五厘米左右", "size"),
    ("B1?", "out_of_scope"),  # no finding's number
    ("A2?", "locate"),  # a finding named by its number, nothing asked: shown
    ("this one?", "describe_margin"),  # a pointer word alone still asks the margin
    ("第一个病灶是什么", "locate"),  # a finding named by its order or number is never a term
    ("what is A1?", "locate"),
    ("the first lesion, what is it?", "locate"),
    ("谁离胸膜近", "compare"),  # "谁" is "which one"
    ("实性和磨玻璃有啥不一样", "explain_term"),  # two terms' difference with 不一样 / 不同 / 差别
    ("它在肺门的几点钟方向", "measure_relation"),  # a clock position from a landmark is a relation
    ("毛刺在肺门侧几点钟方向", "describe_margin"),  # ... but a part of the margin asks the margin
    ("Is the diaphragm well defined?", "assess_anatomy"),  # a structure's outline, above the margin's words
    ("Are the costophrenic angles well defined?", "assess_anatomy"),
    ("you told me the strand was 25 mm, right?", "size"),  # a statement confirmed by a tag is what is asked
    ("结节宽多少", "size"),
    ("条索影算不算大", "size"),
    ("片子啥情况", "screen"),
    ("左上肺清不清爽", "screen"),
    ("右下肺是不是有个东西", "screen"),
    ("甲状腺要不要查一下", "out_of_scope"),  # other organs and daily life
    ("can he go back to the gym?", "out_of_scope"),
    ("please draw a circle around the strand", "locate"),  # drawing on the image shows it
    ("GGO is short for what?", "explain_term"),
    ("What's meant by notching?", "explain_term"),
    ("肋膈角怎么算的", "explain_term"),
    ("Which anterior rib does the strand overlie?", "locate"),  # a rib level is a place
    ("条索影在第几rib水平", "locate"),
    ("右下那块到底是啥", "screen"),  # a finding's diagnosis: the screening summary, never a term
    ("Is this film AP or PA?", "film_info"),  # out of scope until the film_info intent answered the projection
    ("what colour is the strand?", "density"),
    ("Are the nodule and the strand the same density?", "compare"),
    ("Are the bones intact?", "assess_anatomy"),  # "bones" is no typo of "ones"
])
def test_general_rules_from_the_v12_set(question: str, intent: str) -> None:
    assert parse(question).intent == intent


def test_chinese_numerals_before_a_unit() -> None:
    from orchestrator.dialogue.parser import zh_numerals

    assert zh_numerals("有没有超过十毫米") == "有没有超过10毫米"
    assert zh_numerals("二十五毫米") == "25毫米" and zh_numerals("二点五厘米") == "2.5厘米"
    assert zh_numerals("两个公分") == "2个公分"
    assert zh_numerals("两个病灶相距几厘米") == "两个病灶相距几厘米"  # no numeral before the unit
    assert zh_numerals("一二厘米") == "一二厘米"  # "one or two": no single value
    q = parse("它小于十毫米吗")
    assert q.size_op == "lt" and q.size_mm == 10.0


def test_finding_numbers_full_width_and_ages() -> None:
    assert parse("Ａ２边缘光滑吗").anchor_ids == ("A2",)  # full-width letters and digits
    assert parse("I'm a 58-year-old smoker, how big is the nodule?").anchor_ids == ()  # an age, not A58
    assert parse("my dad is a 70 year old man, is the nodule big?").anchor_ids == ()
    assert parse("is a 2 cm nodule big?").anchor_ids == ()


def test_tag_questions_name_no_side_and_no_finding() -> None:
    assert parse("the strand is smooth, right?").side is None
    assert parse("the strand is smooth - is that right?").side is None
    assert parse("is the nodule on the right?").side == "right"  # a side asked about
    assert parse("A2 is about 25 mm, isn't it?").mentions == ("A2",)  # the tag's "it" is no finding of its own


def test_elliptical_openings() -> None:
    assert parse("换右边那个看看").elliptical  # another finding tried: "换 … 看看"
    assert parse("what about 右边那个").elliptical  # an English opening before Chinese words
    q = parse("what about the pleura?")  # a landmark alone after a turn: the relation of the finding in focus
    assert q.intent == "measure_relation" and not q.elliptical


def test_predicate_after_a_statement_is_no_pointer() -> None:
    q = parse("She is anxious. Is the nodule near the pleura?")
    assert q.proximity is None and q.intent == "measure_relation"


# --- rules tuned on the dev set v13 ---------------------------------------------------------------------------


def test_report_heading_before_a_colon_asks_nothing() -> None:
    assert parse("Impression: nodule size?").intent == "size"  # "impression" is no diagnosis asked here
    assert parse("印象：右中肺结节，大小？").intent == "size"
    assert parse("Dictation: left basal strand, please give the length").intent == "size"  # no "medication"
    assert parse("Impression?").intent == "screen"  # nothing after it: the summary answers
    assert parse("印象：双肺？").intent == "screen"  # nothing asked after the heading: it stays


def test_a_statement_with_is_inside_asks_nothing() -> None:
    # the history clause has "is" inside it (no question there), and its "cough" asks nothing
    assert parse("Patient is a 60-year-old ex-smoker with a cough. How large is the nodule?").intent == "size"
    assert parse("He is a smoker and has a cough, where is the nodule?").intent == "locate"
    assert parse("is the nodule calcified, or is it solid?").intent == "density"  # a clause that opens with "is" asks


def test_cantonese_function_words_read_as_mandarin() -> None:
    assert parse("嗰粒結節大唔大").intent == "size"  # 嗰 那, 大唔大 大不大
    assert parse("X光片有冇問題").intent == "screen"  # 有冇 有没有
    assert parse("嗰條索條影喺邊度").intent == "locate"  # 喺邊度 在哪里
    q = parse("nodule 同 strand 邊個大啲")  # 邊個 哪个, 大啲 大一点
    assert q.intent == "compare"
    assert parse("粒結節係唔係好大").intent == "size"  # 係唔係 是不是
    assert parse("左边个结节有多大").side == "left"  # "左边" keeps its side: no 哪个


def test_an_opening_right_agrees_and_names_no_side() -> None:
    assert parse("Right, and how far is that from the diaphragm?").side is None
    assert parse("Okay right, how big is it then?").side is None
    assert parse("Right lung, anything there?").side == "right"  # a side, no comma after "right"


def test_by_the_way_and_besides_ask_a_second_clause() -> None:
    assert parse("结节边缘怎样，顺便说下密度").intent == "describe_margin"  # of two asks, the first
    assert parse("结节多大，另外离胸膜多远").intent == "size"


def test_density_opacity_is_a_lesion_noun() -> None:
    assert parse("右肺中野那个高密度影是什么").intent == "locate"  # "高密度影" names an opacity, asks no density
    assert parse("左下肺野有异常密度影吗").intent == "screen"
    assert parse("这个高密度影密度均匀吗").intent == "density"  # the second "密度" asks


def test_how_bad_a_lesion_pointed_at_colloquially_is() -> None:
    assert parse("Reckon that lump's anything nasty?").intent == "sign_checklist"
    assert parse("is that spot serious?").intent == "sign_checklist"
    assert parse("Anything worrying on this chest film?").intent == "screen"  # "this film" points at no lesion


def test_a_content_asked_of_a_lesion_seen() -> None:
    assert parse("我们能看到结节有没有钙化吗").intent == "density"  # the lesion's content, not whether it is there
    assert parse("能看到结节吗").intent == "screen"


def test_zone_words_and_referral_vocabulary() -> None:
    q = parse("左上 zone 有 opacity 吗")
    assert q.zone == "upper" and q.intent == "screen"
    assert parse("Should she be referred to a chest physician?").intent == "out_of_scope"
    assert parse("印象一栏：结节性质？").intent == "sign_checklist"  # the nodule's nature: benign or not


def test_a_disease_in_the_patients_history_is_no_checklist() -> None:
    assert parse("肺部有沒有陰影？我阿公以前有肺結核").intent == "screen"  # the grandfather's TB is his past
    assert parse("I had TB years ago, does this look like TB?").checklist == "tuberculosis"  # asked the second time
    assert parse("这片子像不像肺结核").checklist == "tuberculosis"


def test_touch_follow_up_and_inch_vocabulary() -> None:
    assert parse("條索影有沒有碰到橫膈膜").intent == "measure_relation"
    assert parse("請問這個片子需唔需要覆診").intent == "out_of_scope"  # 覆診 (Hong Kong): a follow-up visit
    assert parse("Is the strand about an inch long?").intent == "size"


def test_english_number_words_before_a_unit_are_a_value() -> None:
    from orchestrator.dialogue.parser import en_numerals

    assert en_numerals("less than twenty mm") == "less than 20 mm"
    assert en_numerals("twenty-five millimetres long") == "25 millimetres long"
    assert en_numerals("the two lesions") == "the two lesions"  # no unit after it
    q = parse("Is the nodule less than twenty mm?")
    assert q.intent == "size" and q.size_op == "lt" and q.size_mm == 20.0


def test_as_well_as_and_plus_join_two_asks() -> None:
    assert parse("How big is the nodule as well as how far from the pleura?").intent == "size"  # the first
    assert parse("What's the size, plus where is it?").intent == "size"


def test_heading_with_a_question_after_it_and_more_zh_variants() -> None:
    assert parse("Impression: is the nodule benign?").intent == "sign_checklist"
    assert parse("這粒結節有幾大").intent == "size"  # 有幾大 (Cantonese) 有多大
    assert parse("結節周邊有沒有毛玻璃").intent == "density"  # 毛玻璃 (Taiwan) 磨玻璃


@pytest.mark.parametrize(("question", "intent", "descriptor"), [
    # a finding named by its size among the findings is this film's, never a term ("I do not know that term")
    ("what's the biggest lesion?", "locate", "large"),
    ("what is the smallest finding?", "locate", "small"),
    ("what's the smaller one?", "locate", "small"),
    ("最大的那个病灶是什么", "locate", "large"),  # a pointer word with it asks no margin
    ("小的那个是什么", "locate", "small"),
    ("how big is the biggest one?", "size", "large"),
])
def test_a_finding_named_by_its_size_is_this_films(question: str, intent: str, descriptor: str) -> None:
    q = parse(question)
    assert (q.intent, descriptor in q.descriptors) == (intent, True)


def test_what_is_bigger_of_two_compares_them() -> None:
    assert parse("what is bigger, A1 or A2?").intent == "compare"
    assert parse("what's smaller, the left one or the right one?").intent == "compare"
    assert parse("what is a mass?").intent == "explain_term"  # a term asked with no size named stays one


@pytest.mark.parametrize(("question", "level"), [
    ("the one in the lower lobe, how big?", "lower"), ("下叶那个多大", "lower"), ("the upper lobe nodule", "upper"),
    ("上叶的那个", "upper"), ("any nodule in the upper lobes?", "upper"),
])
def test_a_lobe_named_without_a_side_is_either_sides(question: str, level: str) -> None:
    q = parse(question)
    assert (q.lobe, q.lobe_level, q.has_location) == (None, level, True)
    assert parse("右下叶那个").lobe == "RLL" and parse("右下叶那个").lobe_level is None  # a side named: that lobe
    assert parse("上叶还是下叶?").lobe_level is None  # lobes offered as choices ask which one


@pytest.mark.parametrize("word", ["uncertain", "unclear", "noncalcified", "uncalcified", "inhomogeneous", "unsharp",
                                  "undefined", "impossible", "unlikely", "unchanged"])
def test_a_negated_word_is_no_typo_of_the_word_it_negates(word: str) -> None:
    """The typo correction read "uncertain" as a misspelt "certain" and "noncalcified" as "calcified", turning the
    question round ("the noncalcified one" pointed at the calcified finding)."""
    from orchestrator.dialogue.parser import correct_typos, load_vocabulary

    assert correct_typos(word, load_vocabulary().lexicon) == word
    assert correct_typos("speculated nodlue near the hillum", load_vocabulary().lexicon) == "spiculated nodule near the hilum"


def test_why_a_statement_is_hedged_asks_how_sure() -> None:
    for question, attribute in (("why is the margin uncertain?", "margin"), ("为什么边缘无法判断", "margin"),
                                ("why can't you tell if it is calcified?", "density")):
        q = parse(question)
        assert (q.intent, q.attribute) == ("confidence", attribute), question


@pytest.mark.parametrize(("question", "intent", "summary"), [
    ("给个结论", "screen", True), ("你的结论呢", "screen", True), ("what's your conclusion?", "screen", True),
    ("能下结论说是肺癌吗", "sign_checklist", False),  # a disease's verdict asked: its checklist, as before
])
def test_a_conclusion_asked_is_the_summary(question: str, intent: str, summary: bool) -> None:
    """"给个结论" on a real film was "outside what a chest radiograph can show", where "总结一下" got the summary."""
    q = parse(question)
    assert (q.intent, q.summary_asked) == (intent, summary)


@pytest.mark.parametrize("question", ["are the hila at the same height?", "are the hila at the same level?",
                                      "is the left hilum at the same height as the right?"])
def test_the_hila_at_the_same_height_are_the_hila_compared(question: str) -> None:
    """"Same" of a height points at no finding ("the same one"): the hila compared, as "are the hila symmetric?" is."""
    q = parse(question)
    assert (q.intent, q.anatomy, q.references) == ("assess_anatomy", ("hilum",), ())


@pytest.mark.parametrize(("question", "pointer"), [("is the nodule at the same height as the hilum?", "the nodule"),
                                                   ("is it at the same level as the right hilum?", "it"),
                                                   ("is A1 at the same height as the hilum?", "A1"),
                                                   ("is the lesion at the same level as the left hilum?", "the lesion")])
def test_a_lesion_at_the_same_height_as_a_hilum_is_not_the_hila_compared(question: str, pointer: str) -> None:
    q = parse(question)
    assert pointer in q.references and not (q.intent == "assess_anatomy" and q.anatomy == ("hilum",)), q


@pytest.mark.parametrize(("question", "vertical"), [
    ("is the nodule at the same height as the hilum?", "level"), ("is A1 at the same height as the right hilum?", "level"),
    ("is A1 the same height as the right hilum?", "level"), ("A1和右肺门在同一高度吗", "level"),
    ("A1和右肺门一样高吗", "level"), ("结节与右肺门等高吗", "level"), ("结节和右肺门在同一水平吗", "level"),
    # two hila, or two findings, at the same height: no finding's height against a hilum
    ("are the hila at the same height?", None), ("is the left hilum at the same height as the right?", None),
    ("两侧肺门一样高吗", None), ("两侧肺门在同一高度吗", None), ("is A1 at the same height as A2?", None),
    ("A1和A2一样高吗", None)])
def test_a_lesion_at_the_same_height_as_a_hilum_is_its_level(question: str, vertical: str | None) -> None:
    """"Is the nodule at the same height as the hilum?" was a margin question (only "the same level as" was a height):
    a finding at the same height as a hilum is the vertical relation "level"; the hila at the same height are not."""
    q = parse(question)
    assert q.vertical == vertical and (q.intent == "measure_relation") == (vertical is not None), q
