"""Rendering families (issue 21): each family changes the film and nothing else it should not;
geometric families move the truth with the film; the default path is untouched."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom import CaseSpec, PhantomCase, generate_case
from encoder.phantom.case import case_geometry
from encoder.phantom.rendering import (
    FAMILIES,
    GEOMETRIC_FAMILIES,
    HELD_OUT,
    PROTECTED,
    RenderStyle,
    draw_style,
    parse_families,
)
from encoder.phantom.volume import PhantomVolume, load_volume
from orchestrator.settings import Settings

SEED = 5  # a film with a lesion (a mass in the right upper zone)


@pytest.fixture(scope="module")
def volume() -> PhantomVolume:
    return load_volume(Settings().cache_dir)


@pytest.fixture(scope="module")
def plain(volume: PhantomVolume) -> PhantomCase:
    return generate_case(SEED, volume=volume)


def only(family: str, seed: int = 0) -> RenderStyle:
    return draw_style(np.random.default_rng([seed, FAMILIES.index(family)]), families=(family,), p=1.0, plain=0.0)


@pytest.fixture(scope="module")
def styled(volume: PhantomVolume) -> dict[str, PhantomCase]:
    return {f: generate_case(SEED, CaseSpec(render=only(f)), volume=volume) for f in FAMILIES}


def _truth_without_render(case: PhantomCase) -> dict:
    return {k: v for k, v in case.truth.items() if k != "render"}


def test_each_family_changes_the_film_and_keeps_its_contract(plain: PhantomCase,
                                                              styled: dict[str, PhantomCase]) -> None:
    assert plain.truth["lesions"], "the test seed should carry a lesion"
    for fam, case in styled.items():
        assert case.truth["render"]["families"] == [fam]
        assert case.image.dtype == np.float32 and case.image_u16.dtype == np.uint16
        assert float(case.image.min()) >= 0.0 and float(case.image.max()) <= 1.0
        assert np.array_equal(case.image * 255, np.rint(case.image * 255))
        assert case.masks.shape[1:] == case.image.shape == case.lesion_mask.shape == case.image_u16.shape
        if fam != "padding":
            assert case.image.shape == plain.image.shape, fam
            changed = np.mean(np.abs(case.image - plain.image) > 1 / 255)
            assert changed > (0.001 if fam in ("collimation", "annotation") else 0.05), (fam, changed)


def test_non_geometric_families_keep_the_truth_exact(plain: PhantomCase, styled: dict[str, PhantomCase]) -> None:
    for fam, case in styled.items():
        if fam in GEOMETRIC_FAMILIES:
            continue
        assert np.array_equal(case.masks, plain.masks), fam
        assert np.array_equal(case.lesion_mask, plain.lesion_mask), fam
        assert case.hilum_px == plain.hilum_px, fam
        assert _truth_without_render(case) == plain.truth, fam


def test_overlays_never_cover_lungs_heart_or_lesions(plain: PhantomCase, volume: PhantomVolume) -> None:
    prot = plain.lesion_mask.copy()
    for name in PROTECTED:
        prot |= plain.masks[ANATOMY_CLASSES.index(name)]
    for seed in range(4):
        for fam in ("collimation", "annotation"):
            case = generate_case(SEED, CaseSpec(render=only(fam, seed)), volume=volume)
            assert np.array_equal(case.image[prot], plain.image[prot]), (fam, seed)
    both = RenderStyle(families=("collimation", "annotation"), collimation=(1.0, 1.0, 1.0, 1.0),
                       collimation_level=1.0, text=("PA ERECT", "2021-01-01 10:00"))
    case = generate_case(SEED, CaseSpec(render=both), volume=volume)
    assert np.array_equal(case.image[prot], plain.image[prot])
    assert np.mean(case.image[~prot] != plain.image[~prot]) > 0.01


def test_a_style_without_families_is_the_plain_film(plain: PhantomCase, volume: PhantomVolume) -> None:
    case = generate_case(SEED, CaseSpec(render=RenderStyle()), volume=volume)
    assert case.image.tobytes() == plain.image.tobytes() and case.image_u16.tobytes() == plain.image_u16.tobytes()
    assert case.truth["render"] == {"families": []}


def test_the_default_path_never_renders(volume: PhantomVolume, plain: PhantomCase,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import encoder.phantom.case as case_mod

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("the default path must not go through rendering")

    monkeypatch.setattr(case_mod, "render", boom)
    monkeypatch.setattr(case_mod, "pad_image", boom)
    again = generate_case(SEED, CaseSpec(render=None), volume=volume)
    assert again.image.tobytes() == plain.image.tobytes() and again.image_u16.tobytes() == plain.image_u16.tobytes()
    assert "render" not in again.truth and json.dumps(again.truth) == json.dumps(plain.truth)


def test_random_styles_are_deterministic_per_seed(volume: PhantomVolume) -> None:
    a = generate_case(1234, CaseSpec(render="all"), volume=volume)
    b = generate_case(1234, CaseSpec(render="all"), volume=volume)
    assert a.image_u16.tobytes() == b.image_u16.tobytes() and a.truth == b.truth
    assert np.array_equal(a.masks, b.masks)
    styles = {json.dumps(generate_case(s, CaseSpec(render="all"), volume=volume).truth["render"]) for s in (1235, 1236)}
    assert len(styles | {json.dumps(a.truth["render"])}) == 3


def test_a_held_out_family_is_never_drawn() -> None:
    seen_all: dict[str, int] = dict.fromkeys(FAMILIES, 0)
    for n in range(400):
        full = draw_style(np.random.default_rng(n))
        held = draw_style(np.random.default_rng(n), held_out=HELD_OUT)
        listed = draw_style(np.random.default_rng(n), families="all,-scatter")
        assert not set(held.families) & set(HELD_OUT)
        assert held == listed
        # holding a family out leaves every other draw of the seed as it was
        assert held.families == tuple(f for f in full.families if f not in HELD_OUT)
        assert held.bone_factor == full.bone_factor and held.pad == full.pad
        for f in full.families:
            seen_all[f] += 1
    assert all(120 < v < 280 for v in seen_all.values()), seen_all  # each family in about 42% of films
    assert parse_families("detector, processing") == ("detector", "processing")
    with pytest.raises(ValueError):
        parse_families("detector,holography")


def test_rotation_moves_masks_hila_and_lesions_together(volume: PhantomVolume, plain: PhantomCase) -> None:
    for roll in (-9.0, 7.5):
        spec = CaseSpec(render=RenderStyle(families=("rotation",), roll_deg=roll))
        case = generate_case(SEED, spec, volume=volume)
        geom = case_geometry(SEED, spec, 512, volume)
        assert geom.roll_deg == roll
        for les in case.truth["lesions"]:
            x, y = geom.film_of(np.array([les["center_3d_mm"]]))[0]
            assert np.hypot(x - les["center_px"][0], y - les["center_px"][1]) < 0.15  # 3-D centre rounded to 0.1 mm
            assert case.masks[ANATOMY_CLASSES.index(les["lobe"])][round(y), round(x)]
            assert case.lesion_mask[round(y), round(x)]
        # the line through the hila turns by the change of roll (the image turns the other way
        # round: the film samples the detector rotated by roll)
        def angle(c: PhantomCase) -> float:
            (rx, ry), (lx, ly) = c.hilum_px["right"], c.hilum_px["left"]
            return float(np.degrees(np.arctan2(ly - ry, lx - rx)))
        plain_roll = case_geometry(SEED, CaseSpec(), 512, volume).roll_deg
        assert angle(case) - angle(plain) == pytest.approx(-(roll - plain_roll), abs=2.0)
        # the film turned with its masks: lungs dark, spine bright, under the rotated masks
        lungs = case.masks[0] | case.masks[1]
        assert case.image[lungs].mean() + 0.15 < case.image[case.masks[ANATOMY_CLASSES.index("spine")] & ~lungs].mean()


def test_padding_shifts_everything_by_the_same_pixels(plain: PhantomCase, volume: PhantomVolume) -> None:
    for pad in ((0.1, 0.05, 0.0, 0.0), (0.0, 0.0, 0.02, 0.13)):
        case = generate_case(SEED, CaseSpec(render=RenderStyle(families=("padding",), pad=pad, pad_level=0.0)),
                             volume=volume)
        t, b, left, right = (round(f * 512) for f in pad)
        h, w = case.image.shape
        assert (h, w) == (512 + t + b, 512 + left + right) and case.truth["image_size"] == [h, w]
        inner = (slice(t, t + 512), slice(left, left + 512))
        assert np.array_equal(case.image[inner], plain.image)
        assert np.array_equal(case.image_u16[inner], plain.image_u16)
        assert np.array_equal(case.masks[(slice(None), *inner)], plain.masks)
        assert np.array_equal(case.lesion_mask[inner], plain.lesion_mask)
        assert case.masks.sum(axis=(1, 2)).tolist() == plain.masks.sum(axis=(1, 2)).tolist()
        for side in ("right", "left"):
            assert case.hilum_px[side] == pytest.approx((plain.hilum_px[side][0] + left, plain.hilum_px[side][1] + t))
        for a, p in zip(case.truth["lesions"], plain.truth["lesions"], strict=True):
            assert a["center_px"] == pytest.approx([p["center_px"][0] + left, p["center_px"][1] + t])
            assert a["bbox_px"] == pytest.approx([p["bbox_px"][0] + left, p["bbox_px"][1] + t,
                                                  p["bbox_px"][2] + left, p["bbox_px"][3] + t])
            assert a["diameter_mm"] == p["diameter_mm"] and a["lobe"] == p["lobe"]


def test_a_styled_padded_case_writes_and_loads_back(volume: PhantomVolume, tmp_path) -> None:
    from encoder.phantom import load_case

    style = draw_style(np.random.default_rng(3), p=1.0, plain=0.0)
    assert "padding" in style.families
    case = generate_case(SEED, CaseSpec(render=style), volume=volume)
    case.write(tmp_path)
    back = load_case(tmp_path)
    assert back.truth == case.truth and back.truth["render"]["families"] == list(style.families)
    assert np.array_equal(back.image, case.image) and np.array_equal(back.image_u16, case.image_u16)
    assert np.array_equal(back.masks, case.masks)
    for side in ("right", "left"):  # anatomy.npz keeps the hila as float32
        assert back.hilum_px[side] == pytest.approx(case.hilum_px[side], abs=1e-4)


def test_a_padded_film_becomes_training_targets(volume: PhantomVolume) -> None:
    from encoder.dataset import case_targets

    case = generate_case(SEED, CaseSpec(render=RenderStyle(families=("padding",), pad=(0.0, 0.0, 0.1, 0.1))),
                         volume=volume)
    t = case_targets(case)
    assert t.image.shape == (512, 512) and t.anatomy.shape[1:] == (128, 128)
    # hilum targets still sit inside the hilum masks after the pad-to-square and resize
    for k, side in enumerate(("right", "left")):
        x, y = t.hilum[k]
        assert t.anatomy[ANATOMY_CLASSES.index(f"hilum_{side}"), int(y // 4), int(x // 4)] > 0


def test_training_cli_and_dataset_take_render_families() -> None:
    from encoder.dataset import case_spec
    from encoder.training_cli import RENDER_FAMILIES, render_families

    assert RENDER_FAMILIES == FAMILIES
    args = argparse.Namespace(render_families="all", hold_out_family=["scatter"])
    spec = render_families(args)
    assert spec is not None and "scatter" not in spec.split(",") and parse_families(spec) == parse_families("all,-scatter")
    assert render_families(argparse.Namespace(render_families=None, hold_out_family=[])) is None
    with pytest.raises(SystemExit):
        render_families(argparse.Namespace(render_families="detector,holography", hold_out_family=[]))
    assert case_spec(1500, None) is None and case_spec(1500, None, None) is None
    assert case_spec(1500, None, spec) == CaseSpec(render=spec)
    with_strand = case_spec(1500, "strand", spec)
    assert with_strand.render == spec and with_strand.lesions[-1].type == "strand"
