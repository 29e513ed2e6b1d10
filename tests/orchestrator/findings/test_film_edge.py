"""Lung fields at the edge of the exposed film (orchestrator/findings/film_edge.py): said, and no ratio rests on them."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from evaluation.synthetic import disc_mask, synthetic_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.facts import PixelSpacing
from orchestrator.findings import analyse
from orchestrator.findings.film_edge import EDGE_CUT_MIN, EDGE_WARNING, cut_share, lungs_at_film_edge
from orchestrator.findings.geometry import build_geometry
from orchestrator.settings import Settings

SPACING = PixelSpacing(0.7, 0.7, "dicom")


def chest() -> AnatomyMaps:
    return synthetic_maps([disc_mask((512, 512), (140, 250), 9)])


def shuttered(maps: AnatomyMaps) -> AnatomyMaps:
    """The same maps on a film shuttered to black across the right lung's outer part (image-left): the encoder draws
    a lung field on into the shutter's black, as on a film cut to its middle."""
    geom = build_geometry(maps, SPACING)
    xs = np.nonzero(geom.lung("right").mask.any(axis=0))[0]
    image = maps.image.copy()
    image[:, : int(xs.min()) + 25] = 0.02
    return dataclasses.replace(maps, image=image)


def test_a_whole_chest_is_not_at_the_edge() -> None:
    geom = build_geometry(chest(), SPACING)
    assert lungs_at_film_edge(geom) == ()
    facts = analyse(chest(), SPACING)
    assert EDGE_WARNING not in facts.film_check.warnings and facts.anatomy.cardiothoracic_ratio is not None


def test_a_lung_against_blank_film_is_at_the_edge_and_the_film_is_still_read() -> None:
    maps = shuttered(chest())
    assert lungs_at_film_edge(build_geometry(maps, SPACING)) == ("right",)
    facts = analyse(maps, SPACING)
    assert facts.film_check.localisable and EDGE_WARNING in facts.film_check.warnings
    assert facts.findings  # what is on the film is still described
    assert facts.anatomy.cardiothoracic_ratio is None and facts.anatomy.thorax_width_mm is None
    assert facts.anatomy.heart_width_mm is not None


def test_a_lung_at_the_image_border_is_at_the_edge() -> None:
    mask = np.zeros((100, 100), dtype=bool)
    mask[10:90, 0:30] = True  # the right lung (image-left) running off the image
    blank = np.zeros((100, 100), dtype=bool)
    assert cut_share(blank, mask, "right") == 1.0
    assert cut_share(blank, mask[:, ::-1], "left") == 1.0
    inside = np.zeros((100, 100), dtype=bool)
    inside[10:90, 30:60] = True
    assert cut_share(blank, inside, "right") == 0.0 < EDGE_CUT_MIN
    blank[:, 10:28] = True  # blank film just outside its outer border
    assert cut_share(blank, inside, "right") == 1.0
    assert cut_share(blank, np.zeros((100, 100), dtype=bool), "right") == 0.0


class MapsDouble:
    """Stands in for the encoder: the same maps for every film."""

    name = "maps-double"

    def __init__(self, maps: AnatomyMaps) -> None:
        self.maps = maps

    def encode(self, image: np.ndarray) -> AnatomyMaps:
        return self.maps


@pytest.fixture(scope="module")
def engine() -> DialogueEngine:
    return DialogueEngine(MapsDouble(shuttered(chest())), Settings())  # type: ignore[arg-type]


def film_png() -> bytes:
    from encoder.phantom import generate_case

    buf = io.BytesIO()
    Image.fromarray((generate_case(613).image * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("lang", "said", "why"), [
    ("en", "outer border lies at the edge of the exposed film", "the chest's full width may not be on the film"),
    ("zh", "外侧缘位于已曝光片子的边缘", "胸廓的全宽可能不在片内"),
])
def test_the_answers_say_so(engine: DialogueEngine, lang: str, said: str, why: str) -> None:
    view = engine.create_session(film_png(), "film.png", lang=lang)
    screen = view.turns[0].answer.text
    assert said in screen and ("ratio about" not in screen and "心胸比约" not in screen)
    heart = engine.ask(view.session_id, "is the heart enlarged?" if lang == "en" else "心脏大吗").answer.text
    assert why in heart


def _cut_share_by_rows(blank: np.ndarray, mask: np.ndarray, side: str) -> float:
    """The rule read row by row, as the module's docstring states it (the module computes it for all rows at once)."""
    from orchestrator.findings.film_edge import EDGE_BAND_PX, EDGE_ROWS

    rows = np.nonzero(mask.any(axis=1))[0]
    near, far = EDGE_BAND_PX
    cut = counted = 0
    for y in range(int(rows.min() + EDGE_ROWS[0] * (rows.max() - rows.min())),
                   int(rows.min() + EDGE_ROWS[1] * (rows.max() - rows.min())) + 1):
        xs = np.nonzero(mask[y])[0]
        if len(xs):
            counted += 1
            a, b = (xs.min() - far, xs.min() - near) if side == "right" else (xs.max() + near, xs.max() + far)
            cut += a < 0 or b >= mask.shape[1] or bool(blank[y, a:b + 1].mean() > 0.5)
    return cut / counted


def test_the_share_is_the_rule_row_by_row() -> None:
    import cv2

    rng = np.random.default_rng(0)
    for _ in range(100):
        mask = np.zeros((120, 100), np.uint8)
        cv2.ellipse(mask, (int(rng.integers(0, 100)), int(rng.integers(20, 100))),
                    (int(rng.integers(3, 40)), int(rng.integers(3, 50))), 0, 0, 360, 1, -1)
        mask[rng.integers(0, 120, 10)] = 0  # rows with no lung in them
        blank = cv2.blur((rng.random((120, 100)) < rng.random()).astype(np.float32), (5, 5)) > 0.5
        for side in ("right", "left"):
            if mask.any():
                assert cut_share(blank, mask.astype(bool), side) == pytest.approx(
                    _cut_share_by_rows(blank, mask.astype(bool), side), abs=1e-12)
