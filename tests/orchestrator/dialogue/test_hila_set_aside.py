"""A film whose two hila lie as no chest's do (``orchestrator.findings.hila_levels``): it is read, and every turn that
would rest on a hilum says why none is given, in place of a distance to the wrong point or "the left hilum lies 5 cm
higher than the right: a reader may want to see why"."""

from __future__ import annotations

import re

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.doubles import FixedMapsEncoderDouble, phantom_png
from tests.orchestrator.findings.test_hila_levels import with_left_hilum_raised

SET_ASIDE_EN = "lie further apart in height than a chest's do"
SET_ASIDE_ZH = "高度相差超出"
DISTANCE_EN = re.compile(r"\d cm \(\d")  # "4.2 cm (42.0 mm)": a distance measured
DISTANCE_ZH = re.compile(r"肺门[^。]*约\d")  # "…至右肺门…约4.2 cm", "左肺门比右肺门高约…"


@pytest.fixture(scope="module")
def engine() -> DialogueEngine:
    """Weights that read a chest whole but put its left hilum 0.4 of a lung's height above the right (the alone reader
    on another patient's CT); a nodule in the right lung."""
    double = FixedMapsEncoderDouble(with_left_hilum_raised(0.4), "raised-hilum-double")
    return DialogueEngine(double, Settings())  # type: ignore[arg-type]


def session(eng: DialogueEngine, lang: str = "en") -> str:
    return eng.create_session(phantom_png(), "film.png", lang=lang).session_id


def test_screening_reads_the_film_and_says_why_no_hilum_is_given(engine: DialogueEngine) -> None:
    screen = engine.get_session(session(engine)).turns[0]
    assert screen.film_check is not None and "hila_unplaced" in screen.film_check["warnings"]
    assert screen.findings, "the nodule is still reported"
    assert SET_ASIDE_EN in screen.answer.text
    assert not any((a.get("name") or "").startswith("hilum") for a in screen.anchors)


@pytest.mark.parametrize("question", ["how far is A1 from the right hilum?", "where is A1 and how far from the hilum?"])
def test_a_distance_to_a_hilum_says_why_it_cannot_be_measured(engine: DialogueEngine, question: str) -> None:
    sid = session(engine)
    turn = engine.ask(sid, question)
    assert "A1's distance to a hilum cannot be measured" in turn.answer.text and SET_ASIDE_EN in turn.answer.text
    assert "A1 lies in the right lung" in turn.answer.text  # where it lies is still said
    assert not any(m.get("kind") == "distance" and "hilum" in str(m) for m in turn.measurements)


@pytest.mark.parametrize("question", ["is the left hilum higher than the right?", "how far apart are the hila?",
                                      "where is the right hilum?"])
def test_the_hila_asked_about_say_why_none_is_placed(engine: DialogueEngine, question: str) -> None:
    text = engine.ask(session(engine), question).answer.text
    assert SET_ASIDE_EN in text
    assert "higher than the" not in text and not DISTANCE_EN.search(text)


@pytest.mark.parametrize("question", ["A1距离右肺门多远?", "两侧肺门相距多少?", "左肺门比右肺门高吗?"])
def test_in_chinese_too(engine: DialogueEngine, question: str) -> None:
    text = engine.ask(session(engine, "zh"), question).answer.text
    assert SET_ASIDE_ZH in text and not DISTANCE_ZH.search(text)
