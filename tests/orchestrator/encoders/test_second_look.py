"""orchestrator/encoders/second_look.py: a point of a rescaled film maps back to the same place; a lesion
region is kept only where both rescaled encodings find one; with the real encoder, a region the film's
pixels do not hold is cleared while the film's own lesions stay; the engine runs it when asked."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.encoders.base import AnatomyEncoder
from orchestrator.encoders.factory import build_encoder
from orchestrator.encoders.second_look import AGREE_MM, SCALES, agreed, rescaled, second_look
from orchestrator.findings.candidates import lesion_regions
from orchestrator.settings import Settings


@pytest.fixture(scope="module")
def encoder() -> Iterator[AnatomyEncoder]:
    enc = build_encoder(Settings())
    yield enc
    enc.close()


@pytest.mark.parametrize("scale", SCALES)
def test_a_point_of_the_rescaled_film_maps_back(scale: float) -> None:
    n = 512
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    film = (((xx - 300.0) ** 2 + (yy - 190.0) ** 2) <= 12.0**2).astype(np.float32)
    image, back = rescaled(film, scale)
    assert image.shape == film.shape
    ys, xs = np.nonzero(image > 0.5)
    x, y = back((float(xs.mean()), float(ys.mean())))
    assert abs(x - 300.0) <= 1.0 and abs(y - 190.0) <= 1.0
    assert np.count_nonzero(image > 0.5) == pytest.approx(np.count_nonzero(film > 0.5) * scale**2, rel=0.1)


def test_a_finding_is_kept_where_every_other_encoding_agrees() -> None:
    px_per_mm = 2.0
    first = [(100.0, 100.0), (300.0, 300.0)]
    near = (100.0 + AGREE_MM * px_per_mm * 0.9, 100.0)
    far = (300.0 + AGREE_MM * px_per_mm * 1.1, 300.0)
    assert agreed(first, [[near, far]], px_per_mm) == [0]
    assert agreed(first, [[near, far], []], px_per_mm) == []
    assert agreed(first, [], px_per_mm) == [0, 1]


def test_a_region_the_pixels_do_not_hold_is_cleared_and_the_films_lesions_stay(
        encoder: AnatomyEncoder, phantom_dir: Path) -> None:
    from orchestrator.imaging import decode_upload

    film = decode_upload((phantom_dir / "image.dcm").read_bytes(), "image.dcm", Settings())
    assert film.spacing is not None
    maps = encoder.encode(film.image)
    before = lesion_regions(maps.lesion, maps.image, film.spacing)
    assert before  # the scenario film's lesions
    # a bright lesion-map disc in the right lung where the film shows nothing: what an unfamiliar look makes
    lung = maps.channel("lung_right") > 0.5
    ys, xs = np.nonzero(lung)
    spots = [(x, y) for y, x in zip(ys[::97], xs[::97], strict=True)
             if min(np.hypot(x - c.center[0], y - c.center[1]) for c in before) > 60]
    fx, fy = spots[len(spots) // 2]
    yy, xx = np.mgrid[0:maps.lesion.shape[0], 0:maps.lesion.shape[1]]
    lesion = maps.lesion.copy()
    lesion[(xx - fx) ** 2 + (yy - fy) ** 2 <= 10**2] = 0.95
    faked = dataclasses.replace(maps, lesion=lesion)
    assert len(lesion_regions(faked.lesion, faked.image, film.spacing)) == len(before) + 1
    looked = second_look(encoder, film.image, faked, film.spacing)
    after = lesion_regions(looked.lesion, looked.image, film.spacing)
    assert all(np.hypot(c.center[0] - fx, c.center[1] - fy) > 20 for c in after)  # the fake one is gone
    assert after and len(after) <= len(before)
    kept = {(round(c.center[0]), round(c.center[1])) for c in after}
    assert kept <= {(round(c.center[0]), round(c.center[1])) for c in before}  # nothing moved, nothing new


def test_the_engine_takes_a_second_look_when_asked(encoder: AnatomyEncoder, phantom_dir: Path) -> None:
    data = (phantom_dir / "image.dcm").read_bytes()
    plain = DialogueEngine(encoder, Settings()).create_session(data, lang="en")
    looked = DialogueEngine(encoder, Settings(second_look=True)).create_session(data, lang="en")
    assert "second_look" in looked.turns[0].timings and "second_look" not in plain.turns[0].timings
    assert {f["id"] for f in looked.turns[0].findings} <= {f["id"] for f in plain.turns[0].findings}
    assert looked.turns[0].findings  # the scenario film's lesions are seen at every scale
