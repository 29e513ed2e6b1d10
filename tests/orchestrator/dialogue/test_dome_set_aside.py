"""A film read alone whose right dome was found inside its lung field (``orchestrator.findings.dome_floor``): the domes
are not compared, and the answer says why, in place of "the right dome lies 7.6 cm higher than the left"."""

from __future__ import annotations

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.facts import PixelSpacing
from orchestrator.findings import analyse
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.doubles import FixedMapsEncoderDouble
from tests.orchestrator.findings.test_dome_floor import with_diaphragm_rising_into_the_right_lung


@pytest.mark.parametrize(("lang", "question", "reason"), [
    ("en", "which hemidiaphragm is higher?", "inside its lung field rather than at its floor"),
    ("zh", "哪侧膈肌更高?", "位于肺野之内而非肺野底部"),
])
def test_the_domes_are_not_compared_and_the_answer_says_why(lang: str, question: str, reason: str) -> None:
    maps = with_diaphragm_rising_into_the_right_lung()
    facts = analyse(maps, PixelSpacing(0.7, 0.7, "dicom"), read_alone=True)
    engine = DialogueEngine(FixedMapsEncoderDouble(maps), Settings())  # type: ignore[arg-type]
    sid = engine.start_session(facts, lang=lang).session_id
    text = engine.ask(sid, question).answer.text
    assert reason in text
    assert "higher than the left" not in text and "高约" not in text
