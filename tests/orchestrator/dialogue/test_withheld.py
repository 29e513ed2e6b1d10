"""A chest film whose anatomy cannot be established: every turn says so, none localises, none
reads as a normal result; knowledge questions are still answered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from evaluation.synthetic import disc_mask, synthetic_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.doubles import FixedMapsEncoderDouble, phantom_png


def unsure_maps() -> AnatomyMaps:
    """Maps of a film unlike the encoder's training films: every anatomy pixel hedged (as the real encoder's maps are
    on real children's films), a confident-looking lesion map."""
    base = synthetic_maps([disc_mask((512, 512), (140, 250), 12)])
    return dataclasses.replace(base, anatomy=np.clip(base.anatomy * 0.6 + 0.2, 0, 1))


@pytest.fixture(scope="module")
def engine_and_session() -> tuple[DialogueEngine, str]:
    eng = DialogueEngine(FixedMapsEncoderDouble(unsure_maps(), "unsure-double"), Settings())  # type: ignore[arg-type]
    return eng, eng.create_session(phantom_png(), "film.png", lang="en").session_id


def test_screening_says_it_cannot_read_the_film(engine_and_session: tuple[DialogueEngine, str]) -> None:
    eng, sid = engine_and_session
    screen = eng.get_session(sid).turns[0]
    assert screen.film_check is not None and screen.film_check["is_chest"] and not screen.film_check["anatomy_plausible"]
    assert "anatomy_not_established" in screen.film_check["warnings"]
    text = screen.answer.text
    assert "cannot read it reliably" in text and "not a normal result" in text
    assert "No focal lung lesion" not in text and "remaining lung fields" not in text
    assert screen.findings == () and screen.anchors == () and screen.measurements == ()


def test_no_lesion_heatmap_is_drawn_on_a_film_it_cannot_read(engine_and_session: tuple[DialogueEngine, str]) -> None:
    # the double's lesion map holds a confident disc; drawn, it would say "here" where no finding may be given
    eng, sid = engine_and_session
    assert float(eng.encoder.maps.lesion.max()) > 0.9  # type: ignore[attr-defined]
    assert eng.heatmap_png(sid) is None
    assert not [o for o in eng.get_session(sid).turns[0].overlays if o["type"] == "heatmap"]


@pytest.mark.parametrize("question", [
    "Is the margin of the round opacity in the right middle lobe regular?",
    "How far is this lesion from the right hilum?",
    "What is the cardiothoracic ratio?",
    "Which lobe is it in?",
])
def test_follow_ups_localise_nothing(engine_and_session: tuple[DialogueEngine, str], question: str) -> None:
    eng, sid = engine_and_session
    turn = eng.ask(sid, question)
    assert turn.findings == () and turn.measurements == () and turn.anchors == () and turn.checklist is None
    assert "cannot read it reliably" in turn.answer.text
    assert not any(w in turn.answer.text for w in (" mm", "right middle lobe (", "ratio is about"))


def test_checklist_names_the_signs_and_decides_none(engine_and_session: tuple[DialogueEngine, str]) -> None:
    eng, sid = engine_and_session
    turn = eng.ask(sid, "If this were early lung cancer, what are the typical signs, and how many does this image show?")
    assert turn.intent == "sign_checklist" and turn.checklist is None
    assert "None can be checked on this film" in turn.answer.text and "spiculated" in turn.answer.text.lower()


@pytest.mark.parametrize("question", ["Is there a pneumothorax?", "Is there a pleural effusion?", "Is there cardiomegaly?",
                                      "纵隔有没有增宽?", "What is the diagnosis?"])
def test_no_sign_is_answered_yes_or_no_on_a_withheld_film(engine_and_session: tuple[DialogueEngine, str],
                                                          question: str) -> None:
    eng, sid = engine_and_session
    turn = eng.ask(sid, question)
    assert "cannot read it reliably" in turn.answer.text or "无法在其上可靠地读片" in turn.answer.text
    assert not any(s["kind"] == "sign" for s in turn.answer.sections)
    assert not any(w in turn.answer.text for w in (": yes", ": no.", "ratio is about", "costophrenic angle is"))
    assert turn.findings == () and turn.anchors == ()


def test_a_foreign_question_on_a_withheld_film_still_gets_the_language_reason(
        engine_and_session: tuple[DialogueEngine, str]) -> None:
    eng, sid = engine_and_session
    turn = eng.ask(sid, "この結節の大きさは?")
    assert turn.intent == "out_of_scope" and "Japanese" in turn.answer.text and "日语" in turn.answer.text


def test_the_view_is_stated_only_where_the_file_states_it(tmp_path: Path,
                                                          engine_and_session: tuple[DialogueEngine, str]) -> None:
    """A PNG passed the pixel gate as a chest film, which cannot tell a lateral view for sure: it is not called
    frontal, and the answer says only frontal films are read. A DICOM file whose header says PA is."""
    from encoder.phantom import generate_case

    eng, sid = engine_and_session
    text = eng.get_session(sid).turns[0].answer.text
    assert text.startswith("This was accepted as a chest film") and "frontal films only" in text
    generate_case(613).write(tmp_path)
    dicom = eng.create_session((tmp_path / "image.dcm").read_bytes(), "image.dcm", lang="zh").turns[0]
    assert dicom.film_check is not None and dicom.film_check["view"] == "PA"
    assert dicom.answer.text.startswith("这张片子是正位胸片,但本系统无法在其上可靠地读片。")
