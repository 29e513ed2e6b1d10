"""``orchestrator/control_chars.py``: which characters refuse a question (the engine's ``question_problem``), and
the DICOM side's cleaning."""

from __future__ import annotations

import pytest

from orchestrator.control_chars import without_controls
from orchestrator.dialogue.engine import DialogueEngine, question_problem
from orchestrator.errors import InvalidQuestionError
from orchestrator.settings import Settings


class NoEncoder:
    """These questions are refused before any film or session is looked at."""

    name = "none"

    def encode(self, image: object) -> object:
        raise AssertionError("never encodes")


@pytest.mark.parametrize("code", [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])
def test_every_control_character_but_tab_lf_cr_refuses_a_question(code: int) -> None:
    question = f"secret-{code:02x} is it round?{chr(code)}"
    with pytest.raises(InvalidQuestionError) as info:
        DialogueEngine(NoEncoder(), Settings()).ask("no-such-session", question)  # type: ignore[arg-type]
    assert info.value.http_status == 422 and info.value.grpc_code == "INVALID_ARGUMENT"
    assert info.value.kind == "invalid_question" and "control characters" in info.value.message
    assert "secret" not in info.value.message and chr(code) not in info.value.message


@pytest.mark.parametrize("question", ["Is it round?", "Is it\tround?\r\nAnd smooth?\n", "右肺中叶那个圆形影?",
                                      "ok\u2028?", "😀", "", "\u00a0non-breaking"])
def test_other_text_passes(question: str) -> None:
    assert "control" not in question_problem(question, 2000)  # an empty one is refused for being empty


def test_without_controls_replaces_each_run_and_keeps_what_it_is_told() -> None:
    assert without_controls("AB\r\nCD\x07") == "AB CD "
    assert without_controls("a\x00\x1b\x85b", replacement="") == "ab"
    assert without_controls("line\r\none\x07\ttab\x0cff", keep="\t\n\r\f") == "line\r\none \ttab\x0cff"
