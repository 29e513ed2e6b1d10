from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.dialogue import anchors as anc
from orchestrator.dialogue.parser import parse


def registry(facts: Any) -> anc.Registry:
    reg = anc.Registry()
    for f in facts.findings:
        reg, _ = anc.add_finding(reg, f, 1)
    for side in ("right", "left"):
        reg, _ = anc.ensure_anatomy(reg, facts, f"hilum_{side}", 1)
    return reg


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


def test_state_round_trip(facts: Any, make_facts: Callable[..., Any]) -> None:
    reg = registry(facts)
    for a in reg.anchors:
        assert anc.Anchor.from_state(a.to_state()) == a
    d = reg.anchors[0].to_dict("zh")
    assert set(d) >= {"id", "kind", "label", "center_px", "bbox_px", "polygon_px"}
    assert d["label"] == "右肺中叶圆形结节"
