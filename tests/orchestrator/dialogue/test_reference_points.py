"""The points answers measure from are the ones drawn: the midline a structure is placed against is the spine map's
centroid, the line the findings layer tells sides by, not the middle of its bounding box (a stray patch of the spine map,
which the alone reader's spreads 8-16 cm on real films, moved it by centimetres and put a trachea lying over the spine
"3.5 cm to the patient's right"); a hilum's anchor is the point distances to it are measured to."""

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


def test_a_hilums_anchor_is_its_point_the_distance_is_measured_to() -> None:
    """The hilum's anchor (and the ruler drawn to it) sat at its outline's centroid while "how far is A1 from the right
    hilum?" measured to its point: the ruler ran 85.6 mm where the answer said 100.7 mm on a real film."""
    from evaluation.synthetic import disc_mask

    base = synthetic_maps([disc_mask((512, 512), (140, 250), 9)])
    point = (222.0, 245.0)  # inside the right hilum's outline (centred at 215, 225), off its centroid
    maps = dataclasses.replace(base, hilum_px={**(base.hilum_px or {}), "right": point})
    engine = DialogueEngine(FixedMapsEncoderDouble(maps), Settings())  # type: ignore[arg-type]
    turn = engine.ask(session(engine, "en"), "how far is A1 from the right hilum?")
    hilum = next(a for a in turn.anchors if a["label"] == "right hilum")
    assert tuple(hilum["center_px"]) == pytest.approx(point, abs=0.1)
    ruler = next(m for m in turn.measurements if m["kind"] == "distance")
    assert tuple(ruler["to_px"]) == pytest.approx(point, abs=0.1)
