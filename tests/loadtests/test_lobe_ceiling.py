"""The lobe Bayes ceiling (loadtests/lobe_ceiling.py): the posterior it reasons with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encoder.phantom import PhantomCase
from encoder.phantom.case import CaseSpec, case_geometry, generate_case, on_open_field
from encoder.phantom.geometry import Geometry
from encoder.phantom.volume import PhantomVolume, load_volume
from loadtests.lobe_ceiling import lobe_posterior, run
from orchestrator.settings import Settings

Film = tuple[Geometry, np.ndarray, np.ndarray, np.ndarray]  # geometry, open field, film xy, points mm
SEED = 5  # a left lower lobe nodule behind the upper lobe, and a right upper lobe consolidation


@pytest.fixture(scope="module")
def vol() -> PhantomVolume:
    return load_volume(Path(Settings().cache_dir))


@pytest.fixture(scope="module")
def case(vol: PhantomVolume) -> PhantomCase:
    return generate_case(SEED, volume=vol)


@pytest.fixture(scope="module")
def film(vol: PhantomVolume, case: PhantomCase) -> Film:
    geom = case_geometry(SEED, CaseSpec(), 512, vol)
    pts_mm = np.asarray(vol.lung_points).astype(np.float64) * np.asarray(vol.spacing, dtype=np.float64)
    film_xy = geom.film_of(pts_mm)
    return geom, on_open_field(case.masks, film_xy), film_xy, pts_mm


def test_posterior_is_a_distribution_over_the_lobes_the_ray_crosses(
    vol: PhantomVolume, case: PhantomCase, film: Film
) -> None:
    geom, open_field, film_xy, _ = film
    for lesion in case.truth["lesions"]:
        post = lobe_posterior(vol, geom, open_field, film_xy, np.asarray(lesion["center_3d_mm"]), 3.0, 3.0)
        assert sum(post.values()) == pytest.approx(1.0)
        assert post[lesion["lobe"]] > 0.0
        other_side = "L" if lesion["side"] == "right" else "R"
        assert all(p == 0.0 for lobe, p in post.items() if lobe.startswith(other_side)), post


def test_a_ray_through_one_lobe_only_is_certain(vol: PhantomVolume, film: Film) -> None:
    geom, open_field, film_xy, pts_mm = film
    lobe = np.asarray(vol.lung_lobe)
    rul = pts_mm[(lobe == 1) & (np.asarray(vol.lung_depth_mm) >= 8.0)]
    apex = rul[np.argmax(rul[:, 2])]  # the highest deep point of the right upper lobe
    post = lobe_posterior(vol, geom, open_field, film_xy, apex, 3.0, 3.0)
    assert post["RUL"] == pytest.approx(1.0)


def test_the_bayes_reader_names_the_most_probable_lobe(vol: PhantomVolume) -> None:
    rows = run(3, SEED, 3.0, vol)
    flat = [row for kind in rows.values() for row in kind]
    assert flat
    for hit, best, true_posterior in flat:
        assert 0.0 < true_posterior <= best <= 1.0
        assert (true_posterior == best) if hit else (true_posterior <= best)
