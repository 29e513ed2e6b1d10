"""Lesion conspicuity (issue 21): the phantom's x2 contrast gain on focal lesions, fixed or drawn per lesion."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from scipy import ndimage

from encoder.phantom import CaseSpec, LesionSpec, PhantomCase, generate_case
from encoder.phantom.case import LESION_CONSPICUITY
from encoder.phantom.volume import PhantomVolume, load_volume
from orchestrator.settings import Settings

SEED = 41
NODULE = LesionSpec(type="nodule", diameter_mm=20.0, margin="smooth", lobulated=False, lobe="RUL")
EFFUSION = LesionSpec(type="effusion", side="left")


@pytest.fixture(scope="module")
def volume() -> PhantomVolume:
    return load_volume(Settings().cache_dir)


def _film(volume: PhantomVolume, lesions: tuple[LesionSpec, ...], conspicuity: object = None) -> PhantomCase:
    return generate_case(SEED, CaseSpec(lesions=lesions, conspicuity=conspicuity), volume=volume)  # type: ignore[arg-type]


def test_the_default_gain_is_the_phantoms_and_draws_the_same_film(volume: PhantomVolume) -> None:
    default = _film(volume, (NODULE,))
    assert LESION_CONSPICUITY == 2.0
    same = _film(volume, (NODULE,), LESION_CONSPICUITY)
    assert np.array_equal(default.image_u16, same.image_u16)
    assert "conspicuity" not in default.truth["lesions"][0]  # a default film's truth reads as before
    assert same.truth["lesions"][0]["conspicuity"] == 2.0


def test_physical_contrast_halves_a_nodules_contrast_and_changes_nothing_else(volume: PhantomVolume) -> None:
    empty = _film(volume, ())
    boosted = _film(volume, (NODULE,))
    physical = _film(volume, (NODULE,), 1.0)
    assert np.array_equal(boosted.lesion_mask, physical.lesion_mask)
    assert boosted.truth["lesions"][0]["center_px"] == physical.truth["lesions"][0]["center_px"]
    inside = boosted.lesion_mask
    assert inside.sum() > 100
    far = ndimage.distance_transform_edt(~inside) > 80  # the display's unsharp mask (sigma up to 14 mm) reaches ~60 px
    assert np.array_equal(boosted.image[far], physical.image[far])
    lift_boosted = float(np.mean(boosted.image[inside] - empty.image[inside]))
    lift_physical = float(np.mean(physical.image[inside] - empty.image[inside]))
    assert lift_boosted > 0.02
    assert 0.3 < lift_physical / lift_boosted < 0.75  # the display curve is not linear: about half


def test_a_drawn_gain_is_per_lesion_within_its_range_and_reproducible(volume: PhantomVolume) -> None:
    other = LesionSpec(type="nodule", diameter_mm=14.0, margin="smooth", lobulated=False, lobe="LLL")
    first = _film(volume, (NODULE, other, EFFUSION), (1.0, 2.0))
    again = _film(volume, (NODULE, other, EFFUSION), (1.0, 2.0))
    gains = [les["conspicuity"] for les in first.truth["lesions"]]
    assert gains == [les["conspicuity"] for les in again.truth["lesions"]]
    assert np.array_equal(first.image_u16, again.image_u16)
    assert all(1.0 <= g <= 2.0 for g in gains[:2]) and gains[0] != gains[1]
    assert gains[2] == 1.0  # an effusion keeps its physical contrast, whatever the draw
    plain = _film(volume, (NODULE, other, EFFUSION))
    assert np.array_equal(first.lesion_mask, plain.lesion_mask)  # the draw has a stream of its own


@pytest.mark.parametrize("bad", [0.0, -1.0, 5.0, (2.0, 1.0), (0.0, 1.0)])
def test_a_gain_out_of_range_is_refused_when_the_spec_is_built(bad: object) -> None:
    with pytest.raises(ValueError, match="conspicuity"):
        CaseSpec(conspicuity=bad)  # type: ignore[arg-type]


def test_the_clis_and_the_dataset_take_the_gain() -> None:
    from encoder.dataset import case_spec
    from encoder.training_cli import conspicuity_arg, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["train", "--conspicuity", "1,2"]).conspicuity == (1.0, 2.0)
    assert parser.parse_args(["evaluate", "--conspicuity", "1"]).conspicuity == 1.0
    assert parser.parse_args(["evaluate"]).conspicuity is None
    for bad in ("x", "2,1", "0", "1,2,3", "9"):
        with pytest.raises(argparse.ArgumentTypeError):
            conspicuity_arg(bad)
    assert case_spec(1000, None) is None
    assert case_spec(1000, None, conspicuity=(1.0, 2.0)).conspicuity == (1.0, 2.0)
    assert case_spec(1000, "strand", conspicuity=1.0).conspicuity == 1.0


def test_evaluate_scores_films_at_the_gain_asked_for() -> None:
    from encoder.evaluate import evaluate, format_table

    onnx = Settings().onnx_path
    physical = evaluate(onnx, [612], threads=1, conspicuity=1.0)
    assert physical["conspicuity"] == 1.0 and "lesion conspicuity 1.0" in format_table(physical)
    assert "conspicuity" not in evaluate(onnx, [612], threads=1)


def test_the_extra_lesion_can_be_drawn_within_a_size_range() -> None:
    """``--extra-lesion-mm LO,HI``: the extra lesion's diameter, drawn per seed within the range (small faint nodules
    are what the unseen patient's films are missed for); without it, its type's own range, as before."""
    import argparse

    from encoder.dataset import case_spec
    from encoder.training_cli import register, size_range_arg

    sizes = [case_spec(s, "nodule", extra_mm=(7.0, 14.0)).lesions[-1].diameter_mm for s in range(1000, 1040)]
    assert all(7.0 <= d <= 14.0 for d in sizes) and len(set(sizes)) > 20
    assert case_spec(1003, "nodule", extra_mm=(7.0, 14.0)) == case_spec(1003, "nodule", extra_mm=(7.0, 14.0))
    assert case_spec(1003, "nodule").lesions[-1].diameter_mm is None  # drawn later from the type's range
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["train", "--extra-lesion-mm", "7,14"]).extra_lesion_mm == (7.0, 14.0)
    for bad in ("x", "14,7", "1,5", "5,90", "5"):
        with pytest.raises(argparse.ArgumentTypeError):
            size_range_arg(bad)
