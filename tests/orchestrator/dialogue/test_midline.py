"""The midline a structure is placed against is the spine map's centroid, the line the findings layer tells sides by,
not the middle of its bounding box: a stray patch of the spine map (the alone reader's spreads 8-16 cm on real films)
moved the box's middle by centimetres and put a trachea lying over the spine "3.5 cm to the patient's right"."""

from __future__ import annotations

import dataclasses

import pytest

from evaluation.synthetic import synthetic_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import class_index
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.settings import Settings
from tests.orchestrator.dialogue.doubles import FixedMapsEncoderDouble, phantom_png


def stray_spine_patch_maps() -> AnatomyMaps:
    """Synthetic maps whose spine map carries a small stray patch low on the image's right (the patient's left); the
    trachea lies on the spine's line."""
    base = synthetic_maps()
    anatomy = base.anatomy.copy()
    anatomy[class_index("spine"), 440:470, 455:485] = 1.0  # 30 x 30 px, 200 px from the spine's line
    return dataclasses.replace(base, anatomy=anatomy)


@pytest.fixture(scope="module")
def engine() -> DialogueEngine:
    return DialogueEngine(FixedMapsEncoderDouble(stray_spine_patch_maps()), Settings())  # type: ignore[arg-type]


def session(eng: DialogueEngine, lang: str) -> str:
    return eng.create_session(phantom_png(), "film.png", lang=lang).session_id


@pytest.mark.parametrize(("lang", "question", "midline", "shifted"), [
    ("en", "where is the trachea?", "lies at about the midline", "to the patient's right"),
    ("zh", "气管在哪里?", "中线附近", "中线右侧"),
])
def test_a_trachea_over_the_spine_lies_at_the_midline(engine: DialogueEngine, lang: str, question: str,
                                                      midline: str, shifted: str) -> None:
    text = engine.ask(session(engine, lang), question).answer.text
    assert midline in text and shifted not in text
