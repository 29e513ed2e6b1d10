"""Hidden lesions (issue 21): a share of the phantom's lesions placed behind the heart, mediastinum or a dome."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from encoder.phantom import CaseSpec, LesionSpec, PhantomCase, generate_case
from encoder.phantom.case import HIDING_CLASSES, hidden_by, on_open_field
from encoder.phantom.volume import PhantomVolume, load_volume
from orchestrator.settings import Settings

SEED = 43
# lobes that reach behind the heart (LLL, RML) or a dome (RLL)
NODULES = tuple(LesionSpec(type="nodule", diameter_mm=14.0, margin="smooth", lobulated=False, lobe=lobe)
                for lobe in ("LLL", "RLL", "RML"))


@pytest.fixture(scope="module")
def volume() -> PhantomVolume:
    return load_volume(Settings().cache_dir)


def _film(volume: PhantomVolume, hidden: float | None, lesions: tuple[LesionSpec, ...] = NODULES,
          seed: int = SEED) -> PhantomCase:
    return generate_case(seed, CaseSpec(lesions=lesions, hidden=hidden), volume=volume)


def _centres(case: PhantomCase) -> np.ndarray:
    return np.array([les["center_px"] for les in case.truth["lesions"]], dtype=np.float64)


def test_no_share_draws_the_same_film_and_every_lesion_on_the_open_field(volume: PhantomVolume) -> None:
    default = _film(volume, None)
    again = generate_case(SEED, CaseSpec(lesions=NODULES), volume=volume)
    assert np.array_equal(default.image_u16, again.image_u16)
    assert all("hidden_by" not in les for les in default.truth["lesions"])  # a default film's truth reads as before
    assert on_open_field(default.masks, _centres(default)).all()
    none_hidden = _film(volume, 0.0)
    assert np.array_equal(none_hidden.image_u16, default.image_u16)  # a share of 0 places as always
    assert [les["hidden_by"] for les in none_hidden.truth["lesions"]] == [None, None, None]


def test_a_full_share_places_each_lesion_where_something_hides_it(volume: PhantomVolume) -> None:
    for seed in (SEED, SEED + 1):
        case = _film(volume, 1.0, seed=seed)
        said = [les["hidden_by"] for les in case.truth["lesions"]]
        assert all(name in HIDING_CLASSES for name in said), said
        assert not on_open_field(case.masks, _centres(case)).any()
        # the truth names what lies over the centre, read from the film's own masks
        assert said == [hidden_by(case.masks, *c) for c in _centres(case)]
        again = _film(volume, 1.0, seed=seed)
        assert np.array_equal(case.image_u16, again.image_u16)  # reproducible per seed
    assert "heart" in {les["hidden_by"] for s in (SEED, SEED + 1) for les in _film(volume, 1.0, seed=s).truth["lesions"]}


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_a_share_out_of_range_is_refused_when_the_spec_is_built(bad: float) -> None:
    with pytest.raises(ValueError, match="hidden"):
        CaseSpec(hidden=bad)


def test_the_clis_and_the_dataset_take_the_share() -> None:
    from encoder.dataset import case_spec
    from encoder.training_cli import register, share_arg

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["train", "--hidden", "0.3"]).hidden == 0.3
    assert parser.parse_args(["evaluate", "--hidden", "1"]).hidden == 1.0
    for bad in ("-0.1", "2", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            share_arg(bad)
    assert case_spec(5, None, hidden=0.3) == CaseSpec(hidden=0.3)
    assert case_spec(5, None) is None  # no option: the default phantom, as before


def test_evaluate_counts_hidden_lesions_by_what_hides_them() -> None:
    from encoder.evaluate import evaluate, format_table

    onnx = Settings().onnx_path
    hidden = evaluate(onnx, [612, 613], threads=1, hidden=1.0)
    rows = hidden["lesions"]["recall_ge_8mm_by_type"]
    assert hidden["hidden"] == 1.0 and "lesions hidden 1.0" in format_table(hidden)
    assert any(" behind the " in kind for kind in rows), rows
    plain = evaluate(onnx, [612, 613], threads=1)
    plain_rows = plain["lesions"]["recall_ge_8mm_by_type"]
    assert plain_rows and not any(" behind the " in kind for kind in plain_rows)
