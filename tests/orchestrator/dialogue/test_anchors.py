from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from orchestrator.dialogue import anchors as anc
from orchestrator.dialogue.parser import parse


def registry(facts: Any) -> anc.Registry:
    return anc.screening_registry(facts)


def test_ids_are_stable_and_sequential(facts: Any) -> None:
    reg = registry(facts)
    assert [a.id for a in reg.anchors] == ["A1", "A2", "A3", "A4"]
    assert [a.kind for a in reg.anchors] == ["finding", "finding", "anatomy", "anatomy"]
    again, a = anc.add_finding(reg, facts.findings[0], 3)
    assert again is reg and a.id == "A1"
    reg2, cp = anc.ensure_anatomy(reg, facts, "costophrenic_left", 2)
    assert cp is not None and cp.id == "A5" and cp.kind == "point"
    reg3, rel = anc.add_relation(reg2, reg2.anchors[0], reg2.anchors[2], 3)
    assert rel.kind == "relation" and rel.members == ("A1", "A3") and rel.id == "A6"
    assert anc.add_relation(reg3, reg3.anchors[0], reg3.anchors[2], 4)[1].id == "A6"


def test_location_and_description_choose(facts: Any) -> None:
    reg = registry(facts)
    assert anc.resolve_findings(reg, parse("右肺中叶那个圆形影")).anchors[0].id == "A1"
    assert anc.resolve_findings(reg, parse("the strand at the left base")).anchors[0].id == "A2"
    assert anc.resolve_findings(reg, parse("左下肺那个病灶")).anchors[0].id == "A2"


def test_plain_reference_after_screening_is_ambiguous(facts: Any) -> None:
    res = anc.resolve_findings(registry(facts), parse("这个病灶边缘规则吗?"))
    assert res.outcome == "ambiguous" and [a.id for a in res.candidates] == ["A1", "A2"]


def test_most_recent_mention_wins(facts: Any) -> None:
    reg = anc.mention(registry(facts), ("A2",), 2)
    assert anc.resolve_findings(reg, parse("how big is it?")).anchors[0].id == "A2"
    reg = anc.mention(reg, ("A1",), 3)
    assert anc.resolve_findings(reg, parse("how big is it?")).anchors[0].id == "A1"
    assert anc.resolve_findings(reg, parse("where is the other lesion?")).anchors[0].id == "A2"


def test_nothing_there_is_none(facts: Any) -> None:
    reg = registry(facts)
    assert anc.resolve_findings(reg, parse("右肺上叶那个结节")).outcome == "none"
    assert anc.resolve_findings(reg, parse("where is the third lesion?")).outcome == "none"
    assert anc.resolve_findings(reg, parse("where is A9?")).outcome == "none"


def test_explicit_ids(facts: Any) -> None:
    reg = registry(facts)
    assert [a.id for a in anc.resolve_findings(reg, parse("compare A2 and A1")).anchors] == ["A2", "A1"]
    assert anc.resolve_findings(reg, parse("F2 的大小")).anchors[0].id == "A2"


def test_size_descriptor_breaks_ties(facts: Any) -> None:
    reg = registry(facts)
    assert anc.resolve_findings(reg, parse("the bigger one")).anchors[0].id == "A2"


def test_near_a_landmark_picks_the_nearest(facts: Any) -> None:
    # F1: 60 mm above the diaphragm, 14 mm from the pleura, ~50 mm from its hilum, lateral of it;
    # F2: 8 mm above the diaphragm, 20 mm from the pleura, 110 mm from its hilum, beside the heart
    reg = registry(facts)
    for q, want in (("靠近膈肌的那个在哪一叶", "A2"), ("离肺门最近的那个多大?", "A1"), ("Where is the one closest to the hilum?", "A1"),
                    ("靠近胸壁的那个边缘光滑吗", "A1"), ("the one near the heart border, how big is it?", "A2"),
                    ("Where is the one nearest the apex?", "A1"), ("纵隔旁边的那个多大", "A2")):
        res = anc.resolve_findings(reg, parse(q))
        assert res.outcome == "resolved" and [a.id for a in res.anchors] == [want], q


def test_far_from_a_landmark_picks_the_farthest(facts: Any) -> None:
    reg = registry(facts)
    assert [a.id for a in anc.resolve_findings(reg, parse("Where is the one further from the diaphragm?")).anchors] == ["A1"]
    assert [a.id for a in anc.resolve_findings(reg, parse("远离肺门的那个多大")).anchors] == ["A2"]
    assert [a.id for a in anc.resolve_findings(reg, parse("离膈肌最远的那个离肺门多远?")).anchors] == ["A1"]


def test_landmark_beats_focus_but_not_a_named_finding(facts: Any) -> None:
    reg = anc.mention(registry(facts), ("A1",), 2)
    assert [a.id for a in anc.resolve_findings(reg, parse("the one near the diaphragm, how big is it?")).anchors] == ["A2"]
    assert [a.id for a in anc.resolve_findings(reg, parse("A1 离膈肌最近的那个多大")).anchors] == ["A1"]
    # a distance asked of the finding in focus picks nothing by it
    assert [a.id for a in anc.resolve_findings(reg, parse("How far is it from the diaphragm?")).anchors] == ["A1"]
    assert [a.id for a in anc.resolve_findings(reg, parse("它靠近膈肌吗")).anchors] == ["A1"]


def test_landmark_distances_that_do_not_separate_ask_back(facts: Any) -> None:
    f1, f2 = facts.findings
    for d2 in (57.0, 50.0):  # within 5 mm; within 20 % of 60 mm
        reg = registry(replace(facts, findings=(f1, replace(f2, distance_to_diaphragm_mm=d2))))
        res = anc.resolve_findings(reg, parse("靠近膈肌的那个在哪一叶"))
        assert res.outcome == "ambiguous" and {a.id for a in res.candidates} == {"A1", "A2"}, d2
    reg = registry(replace(facts, findings=(f1, replace(f2, distance_to_diaphragm_mm=45.0))))
    assert [a.id for a in anc.resolve_findings(reg, parse("the one closest to the diaphragm")).anchors] == ["A2"]
    # a distance not measured (no hilum relation): the landmark does not decide
    reg = registry(replace(facts, findings=(f1, replace(f2, hilum=None))))
    assert anc.resolve_findings(reg, parse("离肺门最近的那个多大?")).outcome == "ambiguous"


def test_it_and_the_other_one_puts_the_focus_first(facts: Any) -> None:
    reg = anc.mention(registry(facts), ("A2",), 2)
    for q in ("Is it bigger than the other one?", "它比另一个大吗?", "How far is it from the other one?"):
        assert [a.id for a in anc.resolve_findings(reg, parse(q), want_all=True).anchors] == ["A2", "A1"], q
    reg = anc.mention(reg, ("A1",), 3)
    assert [a.id for a in anc.resolve_findings(reg, parse("Is it bigger than the other one?"), want_all=True).anchors] == ["A1", "A2"]
    # nothing in focus: both, in their order
    assert [a.id for a in anc.resolve_findings(registry(facts), parse("Is it bigger than the other one?"),
                                               want_all=True).anchors] == ["A1", "A2"]


def test_state_round_trip(facts: Any, make_facts: Callable[..., Any]) -> None:
    reg = registry(facts)
    for a in reg.anchors:
        assert anc.Anchor.from_state(a.to_state()) == a
    assert dict(reg.anchors[1].landmark_mm)["diaphragm"] == 8.0
    old = {k: v for k, v in reg.anchors[0].to_state().items() if k != "landmark_mm"}  # a state from before
    assert anc.Anchor.from_state(old).landmark_mm == ()
    d = reg.anchors[0].to_dict("zh")
    assert set(d) >= {"id", "kind", "label", "center_px", "bbox_px", "polygon_px"}
    assert d["label"] == "右肺中叶圆形结节"


def test_a_margin_or_content_names_which_finding_only_as_a_pointer(facts: Any) -> None:
    reg = registry(facts)
    for q in ("the spiculated one: how big?", "毛刺那个是肺癌的概率高吗", "那个spiculated的有几mm"):
        res = anc.resolve_findings(reg, parse(q))
        assert (res.outcome, [a.id for a in res.anchors]) == ("resolved", ["A1"]), q
    # asked about, not pointed with: two findings and no focus, so it is asked back
    assert anc.resolve_findings(reg, parse("is it spiculated?")).outcome == "ambiguous"
    # a content looked for on a film that has none of it: nothing there
    assert anc.resolve_findings(reg, parse("还有一个钙化灶在哪里")).outcome == "none"
    # a content looked for inside a lesion named is asked about that lesion
    assert "calcified" not in parse("结节里面有没有钙化灶?").descriptors
    # a margin read at 512² chooses, never excludes: no finding reads spiculated, so it is asked back
    # (two findings), and with one finding that one is meant
    reg = replace(reg, anchors=tuple(replace(a, margin="smooth") for a in reg.anchors))
    assert anc.resolve_findings(reg, parse("the spiculated one: how big?")).outcome == "ambiguous"
    one = anc.Registry(tuple(a for a in reg.anchors if a.id != "A2"))
    res = anc.resolve_findings(one, parse("the spiculated one: how big?"))
    assert (res.outcome, [a.id for a in res.anchors]) == ("resolved", ["A1"])


def test_two_findings_pointed_at_are_both_bound(facts: Any) -> None:
    reg = registry(facts)
    for q in ("右边那个跟左边那个中间差多远", "上面那个和下面那个比边缘谁更光滑"):
        query = parse(q)
        assert query.both and query.intent in ("measure_relation", "compare"), q
        assert [a.id for a in anc.resolve_findings(reg, query).anchors] == ["A1", "A2"], q


def test_a_size_named_says_which_finding(facts: Any) -> None:
    reg = registry(facts)
    for question, want in (("is the 12 mm one smooth?", "A1"), ("那个12毫米的边缘光滑吗", "A1"),
                            ("how far is the 25 mm one from the diaphragm?", "A2"),
                            ("I saw the report says 12 mm, but is the edge spiky?", "A1")):
        q = parse(question)
        assert q.size_named_mm is not None and q.intent != "size", question
        res = anc.resolve_findings(reg, q)
        assert [a.id for a in res.anchors] == [want], question
    # a size that fits no finding rules none out (a size quoted from elsewhere may be measured otherwise)
    assert anc.resolve_findings(reg, parse("is the 40 mm one smooth?")).outcome == "ambiguous"
    assert parse("大于10毫米的结节要随访吗").size_named_mm is None  # a threshold, not a pointer


def test_a_lobe_named_without_a_side_binds_to_the_finding_in_either_sides_lobe(facts: Any) -> None:
    """"the one in the lower lobe" asked which of A1 (RML) and A2 (LLL); only A2 lies in a lower lobe."""
    reg = registry(facts)
    res = anc.resolve_findings(reg, parse("the one in the lower lobe, how big?"))
    assert res.outcome != "ambiguous" and [a.id for a in res.anchors] == ["A2"]
    assert [a.id for a in anc.resolve_findings(reg, parse("下叶那个多大")).anchors] == ["A2"]


def test_the_round_one_between_a_round_and_an_oval_nodule_is_the_round_one(facts: Any) -> None:
    """Both fit "round" (an oval is roundish at 512²), so "the round one" asked which; the screening called one round."""
    f1 = replace(facts.findings[0], shape="oval")
    f2 = replace(facts.findings[1], kind="nodule", shape="round")
    reg = registry(replace(facts, findings=(f1, f2)))
    assert [a.id for a in anc.resolve_findings(reg, parse("the round one, how big?")).anchors] == ["A2"]
    assert [a.id for a in anc.resolve_findings(reg, parse("the oval one")).anchors] == ["A1"]
    assert [a.id for a in anc.resolve_findings(reg, parse("类圆形那个多大")).anchors] == ["A1"]


def test_the_nodule_among_a_round_mass_and_a_round_cavity_is_the_nodule(facts: Any) -> None:
    """A round mass and a round cavity fit the word "nodule" (the kind read at 512² can be off), so "the nodule" asked
    which of three, and after the mass was named, "and the nodule?" bound the mass; a finding read as a nodule is the
    one meant."""
    base = facts.findings[0]
    mass = replace(base, id="F1", kind="mass", shape="round", diameter_mm=52.0)
    cavity = replace(base, id="F2", kind="cavity", shape="round", diameter_mm=23.0, center_px=(330.0, 300.0),
                     side="left", lobe="LLL")
    nodule = replace(base, id="F3", kind="nodule", shape="round", diameter_mm=12.0, center_px=(380.0, 300.0),
                     side="left", lobe="LLL")
    reg = registry(replace(facts, findings=(mass, cavity, nodule)))
    for q in ("is the nodule solid?", "那个结节是实性的吗", "what is the margin of the nodule?"):
        assert [a.id for a in anc.resolve_findings(reg, parse(q)).anchors] == ["A3"], q
    after_mass = anc.mention(reg, ("A1",), 2)
    assert [a.id for a in anc.resolve_findings(after_mass, parse("and how big is the nodule?")).anchors] == ["A3"]
    assert [a.id for a in anc.resolve_findings(after_mass, parse("how big is it?")).anchors] == ["A1"]
    for q in ("how far apart are the mass and the nodule?", "肿块和结节之间相距多远?"):  # each names its own finding
        assert [a.id for a in anc.resolve_findings(reg, parse(q)).anchors] == ["A1", "A3"], q
    two = registry(replace(facts, findings=(mass, nodule, replace(nodule, id="F4", center_px=(400.0, 200.0)))))
    res = anc.resolve_findings(two, parse("is the nodule solid?"))
    assert res.outcome == "ambiguous" and [a.id for a in res.candidates] == ["A2", "A3"]  # two nodules: which one


def test_the_upper_lung_means_the_upper_lobe_when_nothing_lies_in_the_upper_zone(facts: Any) -> None:
    """"右上肺那个结节" is said of the upper lobe as often as of the upper zone: a right upper lobe nodule in the middle
    zone is the one meant (before: "nothing found where you asked"); a middle lobe nodule is no "右下肺" one."""
    rul = replace(facts.findings[0], lobe="RUL", zone="middle")
    reg = registry(replace(facts, findings=(rul, facts.findings[1])))
    for q in ("右上肺那个结节是钙化的吗?", "the nodule in the right upper lung, how big?"):
        assert [a.id for a in anc.resolve_findings(reg, parse(q)).anchors] == ["A1"], q
    assert anc.resolve_findings(registry(facts), parse("右下肺那个结节多大个")).outcome == "none"  # RML: not the RLL


def test_the_gai_of_yinggai_points_at_nothing(facts: Any) -> None:
    """"典型X线表现应该有哪些?" (the page's own example question) read the 该 of 应该 ("should") as "that one" and asked
    back which finding was meant, where the English example answered at once; 该 before a noun still points."""
    q = parse("如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?")
    assert "该" not in q.references and "focus" not in q.mentions
    assert parse("该结节边缘规则吗").references == ("该",)
    assert parse("这个结节应该怎么处理?").references == ("这个",)
    res = anc.resolve_findings(registry(facts), parse("该结节边缘规则吗"))
    assert [a.id for a in res.anchors] == ["A1"]


def test_the_pages_chinese_example_asked_first_answers_like_the_english_one(make_facts: Callable[..., Any]) -> None:
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.settings import Settings
    from tests.orchestrator.dialogue.conftest import NoEncoderDouble

    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    for lang, q in (("zh", "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?"),
                    ("en", "If this were early lung cancer, what are the typical X-ray signs, and how many does this "
                           "image show?")):
        t = eng.ask(eng.start_session(make_facts(), lang=lang).session_id, q)
        assert t.clarification is None and t.checklist is not None and t.checklist["subject_anchor_id"] == "A1", lang
