""""How sure are you?" is answered with the calibrated probabilities the answers already act on (issue 20: every
finding and attribute carries one), for the finding meant or every finding, never "which one?". It read as out of
scope ("how confident are you?") or as a size question ("你有多大把握") before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.dialogue.parser import parse


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
