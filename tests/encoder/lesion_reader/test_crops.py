"""The detector-resolution phantom: the lesion is in the pixels at sub-voxel detail, the crop is cut
as serving cuts it, and the truth agrees with both frames."""

from __future__ import annotations

import numpy as np
import pytest

from encoder.lesion_reader.crops import (
    LESION_MASK_MM,
    film_background,
    load_examples,
    render_lesion,
    save_seed,
)
from encoder.phantom import LesionSpec
from encoder.phantom.volume import load_volume
from orchestrator.contracts.lesion_reader import INPUT_SHAPE, MASK_MM_PER_PX, MASK_SIZE
from orchestrator.contracts.preprocess import prepare_film
from orchestrator.settings import Settings


@pytest.fixture(scope="module")
def volume():  # noqa: ANN201
    return load_volume(Settings().cache_dir)


@pytest.fixture(scope="module")
def background(volume):  # noqa: ANN001, ANN201
    return film_background(11, volume)


def _render(background, volume, spec: LesionSpec, seed: int = 0):  # noqa: ANN001, ANN202
    return render_lesion(background, volume, spec, np.random.default_rng(seed), keep_film=True)


def test_a_spiculated_nodule_has_its_spicules_in_the_fine_mask_and_the_pixels(background, volume) -> None:  # noqa: ANN001
    ex = _render(background, volume, LesionSpec(type="nodule", diameter_mm=14.0, margin="spiculated", lobulated=False))
    t = ex.truth
    assert t["margin"] == "spiculated" and 4 <= t["spicule_count"] <= 7 and len(t["spicule_clock"]) == t["spicule_count"]
    assert all(2.0 <= length <= 10.0 for length in t["spicule_lengths_mm"])
    assert ex.crop.shape == INPUT_SHAPE and ex.crop.dtype == np.float32
    mask = ex.fine_mask
    assert mask.shape == (MASK_SIZE, MASK_SIZE)
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    rho_mm = np.hypot(xs - cx, ys - cy) * MASK_MM_PER_PX
    # mask pixels beyond the body (radius 7 mm, +12% bumps): the spicules, 0.5 mm pixels
    assert (rho_mm > 7.0 * 1.2).sum() >= 10
    # in the pixels: the same film rendered without the lesion (same noise) differs where the
    # body is and where the spicules are, at 0.25 mm, and hardly anywhere else
    without = render_lesion(background, volume, LesionSpec(type="nodule", diameter_mm=14.0, margin="spiculated",
                                                           lobulated=False), np.random.default_rng(0), contrast=0.0)
    diff = ex.crop[0] - without.crop[0]
    up = np.kron(mask, np.ones((2, 2), bool))
    yy, xx = np.mgrid[0:256, 0:256]
    rho = np.hypot(xx - 2 * cx - 0.5, yy - 2 * cy - 0.5) * 0.25
    spicules = up & (rho > 7.0 * 1.2)
    far = rho > 25.0
    assert diff[up & (rho < 5.0)].mean() > 0.05
    # a 1-2 mm spicule is ~1/10 of the body's thickness along the beam: faint (~0.007 here), but there
    assert diff[spicules].mean() > 0.003 and diff[spicules].mean() > 5 * abs(float(diff[far].mean()))


def test_a_smooth_nodule_has_a_round_mask_of_its_diameter(background, volume) -> None:  # noqa: ANN001
    ex = _render(background, volume, LesionSpec(type="nodule", diameter_mm=16.0, margin="smooth", lobulated=False), 1)
    assert ex.truth["margin"] == "smooth" and ex.truth["notches_clock"] == [] and ex.truth["spicule_count"] == 0
    area_mm2 = ex.fine_mask.sum() * MASK_MM_PER_PX**2
    diameter = 2 * np.sqrt(area_mm2 / np.pi)
    assert abs(diameter - 16.0) < 0.15 * 16.0, diameter


def test_the_crop_is_cut_around_the_candidate_and_the_working_film_holds_the_lesion(background, volume) -> None:  # noqa: ANN001
    ex = _render(background, volume, LesionSpec(type="cavity", diameter_mm=24.0, margin="smooth", lobulated=False), 2)
    film = ex.film
    original, frame = film["original"], film["frame"]
    assert original.shape == tuple(frame.original_size) and original.shape[0] in (1536, 2048)
    assert film["spacing_mm"][0] == pytest.approx(ex.truth["detector_mm_per_px"], rel=1e-3)
    assert 0.14 <= film["spacing_mm"][0] <= 0.22  # detector pixels
    working, resampling = prepare_film(original)  # what serving makes of the upload
    assert resampling.scale == frame.scale and working.shape == (512, 512)
    # the candidate centre lies within a few pixels of the truth centre (the encoder's error)
    tx, ty = ex.truth["center_px"]
    assert np.hypot(ex.centre_px[0] - tx, ex.centre_px[1] - ty) * ex.truth["working_mm_per_px"] < 5.0
    # the coarse channel is lit at the crop's centre, the fine mask covers it too
    assert ex.crop[1][118:138, 118:138].mean() > 0.3
    assert ex.fine_mask[54:74, 54:74].mean() > 0.5
    # the projected lesion is where the truth says on the working film (coarse mask)
    coarse = film["thick512"] >= LESION_MASK_MM
    ys, xs = np.nonzero(coarse)
    assert abs(xs.mean() - tx) < 2.0 and abs(ys.mean() - ty) < 2.0
    assert ex.truth["cavitation"] is True and ex.truth["calcified"] is False


def test_examples_save_and_load(background, volume, tmp_path) -> None:  # noqa: ANN001
    ex = _render(background, volume, LesionSpec(type="calcified_nodule", diameter_mm=9.0, margin="smooth",
                                                lobulated=False), 3)
    path = save_seed([ex, ex], tmp_path / "seed_00011.npz")
    crops, masks, truths = load_examples([path])
    assert crops.shape == (2, *INPUT_SHAPE) and masks.shape == (2, MASK_SIZE, MASK_SIZE)
    assert np.abs(crops[0].astype(np.float32) - ex.crop).max() < 1e-3  # float16 storage
    assert truths[0]["calcified"] is True and truths[1]["diameter_mm"] == 9.0
