from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.control_chars import QUESTION_CONTROLS
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.parser import INTENTS, parse
from orchestrator.errors import InvalidQuestionError
from orchestrator.settings import Settings

WORDS = st.sampled_from(["右", "左", "肺门", "这个", "结节", "边缘", "多大", "right", "left", "hilum", "it", "A2",
                         "margin", "size", "?", "calcified", "距离", "毛刺征", "是什么意思", "compare", "第二个"])
TEXT = st.one_of(st.text(min_size=1, max_size=60), st.lists(WORDS, min_size=1, max_size=8).map(" ".join))


class NoEncoderDouble:
    name = "none"
    calls = 0

    def encode(self, image: Any) -> Any:
        raise AssertionError("a follow-up never encodes")


@settings(max_examples=120, deadline=None)
@given(TEXT)
def test_parse_never_raises_and_is_deterministic(text: str) -> None:
    q = parse(text)
    assert q.intent in INTENTS and q.lang in ("zh", "en")
    assert parse(text) == q


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT.filter(lambda t: t.strip() != ""))
def test_any_question_gets_a_turn(make_facts: Callable[..., Any], text: str) -> None:
    """Any question gets a turn; one with a control character (but TAB, LF, CR) is refused and leaves none."""
    eng = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.start_session(make_facts(), lang="zh").session_id
    if QUESTION_CONTROLS.search(text):
        with pytest.raises(InvalidQuestionError):
            eng.ask(sid, text)
        assert len(eng.get_session(sid).turns) == 1
        return
    turn = eng.ask(sid, text)
    assert turn.turn == 2 and turn.answer.text
    assert set(turn.referenced_anchor_ids) <= {a["id"] for a in eng.get_session(sid).anchors}
