"""The anatomy family (issue 21): a film-plane deformation that moves film, masks and truth together."""

from __future__ import annotations

import json

import numpy as np
import pytest

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom import CaseSpec, LesionSpec, PhantomCase, generate_case
from encoder.phantom.case import case_geometry
from encoder.phantom.deform import (
    MIN_JACOBIAN,
    AnatomyParams,
    Deformation,
    build_deformation,
    deform_anatomy,
    draw_anatomy,
    habitus_line,
)
from encoder.phantom.rendering import FAMILIES, GEOMETRIC_FAMILIES, RenderStyle, draw_style
from encoder.phantom.volume import PhantomVolume, load_volume
from orchestrator.settings import Settings

SEED = 5


def anatomy(params: AnatomyParams) -> CaseSpec:
    return CaseSpec(render=RenderStyle(families=("anatomy",), anatomy=params))


def _mask(case: PhantomCase, name: str) -> np.ndarray:
    return case.masks[ANATOMY_CLASSES.index(name)]


@pytest.fixture(scope="module")
def volume() -> PhantomVolume:
    return load_volume(Settings().cache_dir)


@pytest.fixture(scope="module")
def plain(volume: PhantomVolume) -> PhantomCase:
    return generate_case(SEED, volume=volume)


STRONG = AnatomyParams(lung_height=1.12, lung_width_right=1.08, lung_width_left=0.9, dome_right_mm=40.0,
                       dome_left_mm=-15.0, recess_right_mm=-20.0, recess_left_mm=20.0, mediastinum_width=1.5,
                       heart_scale=1.2, heart_shift_mm=(8.0, -6.0), spine_shift_mm=7.0, spine_curve_mm=-5.0,
                       habitus_mm=0.0)


@pytest.fixture(scope="module")
def drawn(volume: PhantomVolume) -> dict[int, PhantomCase]:
    """Films through the anatomy family as drawn (always on), with the varied lesion mix."""
    out = {}
    for seed in (11, 12, 13, 14, 15, 16):
        style = draw_style(np.random.default_rng([seed, 7]), families=("anatomy",), p=1.0, plain=0.0)
        out[seed] = generate_case(seed, CaseSpec(render=style, lesion_mix="varied"), volume=volume)
    return out


def test_an_identity_anatomy_is_the_plain_film(volume: PhantomVolume, plain: PhantomCase) -> None:
    case = generate_case(SEED, anatomy(AnatomyParams()), volume=volume)
    assert case.image.tobytes() == plain.image.tobytes() and case.image_u16.tobytes() == plain.image_u16.tobytes()
    assert np.array_equal(case.masks, plain.masks) and np.array_equal(case.lesion_mask, plain.lesion_mask)
    assert {k: v for k, v in case.truth.items() if k != "render"} == plain.truth
    assert case.truth["render"]["anatomy"]["child_scale"] == 1.0


def test_the_default_path_never_deforms(volume: PhantomVolume, plain: PhantomCase,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import encoder.phantom.case as case_mod

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("the default path must not deform")

    monkeypatch.setattr(case_mod, "deform_anatomy", boom)
    again = generate_case(SEED, volume=volume)
    assert again.image.tobytes() == plain.image.tobytes() and json.dumps(again.truth) == json.dumps(plain.truth)


def test_the_family_is_drawn_per_seed_and_can_be_held_out() -> None:
    assert "anatomy" in FAMILIES and "anatomy" in GEOMETRIC_FAMILIES
    on = 0
    for n in range(300):
        full = draw_style(np.random.default_rng(n))
        held = draw_style(np.random.default_rng(n), families="all,-anatomy")
        assert "anatomy" not in held.families
        # holding anatomy out changes nothing else; the other families draw as before it joined
        assert held.families == tuple(f for f in full.families if f != "anatomy") and held.pad == full.pad
        on += "anatomy" in full.families
    assert 90 < on < 170  # on in about 42 % of films, like every family
    a, b = draw_anatomy(np.random.default_rng(1)), draw_anatomy(np.random.default_rng(1))
    assert a == b and a != draw_anatomy(np.random.default_rng(2))


def test_no_field_folds_and_the_inverse_inverts(plain: PhantomCase) -> None:
    sp = plain.pixel_spacing_mm[0]
    for n in range(25):
        params = draw_anatomy(np.random.default_rng(n))
        d = build_deformation(params, plain.masks, sp)
        assert float(d.det.min()) >= MIN_JACOBIAN - 1e-6, (n, float(d.det.min()))
        q = np.random.default_rng(n).uniform(20, 490, (200, 2))
        src = np.stack([d.map_x[np.rint(q[:, 1]).astype(int), np.rint(q[:, 0]).astype(int)],
                        d.map_y[np.rint(q[:, 1]).astype(int), np.rint(q[:, 0]).astype(int)]], axis=1)
        back = d.forward(src)
        assert np.abs(back - np.rint(q)).max() < 0.5, n
    # strong fields are shrunk until they pass, never folded
    wild = AnatomyParams(dome_right_mm=120.0, recess_right_mm=-90.0, heart_scale=1.9, spine_shift_mm=40.0)
    d = build_deformation(wild, plain.masks, sp)
    assert d.shrink < 1.0 and float(d.det.min()) >= MIN_JACOBIAN - 1e-6


def test_masks_and_film_move_together(volume: PhantomVolume, plain: PhantomCase) -> None:
    case = generate_case(SEED, anatomy(STRONG), volume=volume)
    geom = case_geometry(SEED, anatomy(STRONG), 512, volume)
    frame, warped, _ = deform_anatomy(STRONG, geom, plain.masks, plain.hilum_px)
    # every anatomy mask is the plain film's mask carried by the field
    same = np.mean(case.masks == warped, axis=(1, 2))
    assert same.min() > 0.995, same
    moved = np.mean(case.masks != plain.masks, axis=(1, 2))
    assert moved[ANATOMY_CLASSES.index("lung_right")] > 0.02 and moved[ANATOMY_CLASSES.index("heart")] > 0.01
    # the film moved with them: the plain film carried by the same field matches the deformed film
    # far better than the plain film itself does (display is global, so not pixel-exact)
    carried = frame.deformation.apply(plain.image)
    inner = (slice(40, 472), slice(40, 472))

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a[inner].ravel(), b[inner].ravel())[0, 1])

    assert corr(carried, case.image) > 0.97 and corr(carried, case.image) > corr(plain.image, case.image) + 0.03
    # lungs dark, the sub-diaphragmatic region and the spine bright, under the moved masks
    lungs = (_mask(case, "lung_right") | _mask(case, "lung_left")) & ~_mask(case, "diaphragm") & ~_mask(case, "heart")
    lungs &= ~_mask(case, "mediastinum") & ~_mask(case, "spine")
    assert case.image[lungs].mean() + 0.15 < case.image[_mask(case, "diaphragm")].mean()


def test_truth_stays_consistent_on_deformed_films(drawn: dict[int, PhantomCase]) -> None:
    kinds = set()
    for seed, case in drawn.items():
        assert case.truth["render"]["families"] == ["anatomy"]
        for side in ("right", "left"):
            x, y = case.hilum_px[side]
            assert _mask(case, f"hilum_{side}")[round(y), round(x)], (seed, side)
            assert (_mask(case, "mediastinum") | _mask(case, f"hilum_{side}"))[round(y), round(x)]
        assert case.hilum_px["right"][0] < case.hilum_px["left"][0]
        # lobes still tile their lung
        lung_r = _mask(case, "RUL") | _mask(case, "RML") | _mask(case, "RLL")
        assert np.array_equal(lung_r, _mask(case, "lung_right"))
        for les in case.truth["lesions"]:
            x, y = (round(v) for v in les["center_px"])
            assert _mask(case, les["lobe"])[y, x], (seed, les["id"], les["type"])
            assert case.lesion_mask[y, x] or les["type"] in ("strand", "cavity"), (seed, les["id"])
            xs = [p[0] for p in les["contour_px"]]
            ys = [p[1] for p in les["contour_px"]]
            if xs:  # the outline is around the lesion's own mask
                assert les["bbox_px"][0] <= min(xs) + 1 and max(xs) <= les["bbox_px"][2] + 1
                assert les["bbox_px"][1] <= min(ys) + 1 and max(ys) <= les["bbox_px"][3] + 1
            kinds.add(les["type"])
        # lesion pixels lie in the lungs
        lungs = _mask(case, "lung_right") | _mask(case, "lung_left")
        if case.lesion_mask.any():
            assert np.mean(lungs[case.lesion_mask]) > 0.97, seed
    assert len(kinds) >= 2


def test_a_sphere_keeps_its_size_adult_and_child(volume: PhantomVolume) -> None:
    spec = (LesionSpec(type="nodule", diameter_mm=20.0, margin="smooth", lobulated=False),)
    for params in (STRONG, AnatomyParams(child_scale=0.6, heart_scale=1.2)):
        style = RenderStyle(families=("anatomy",), anatomy=params)
        case = generate_case(3, CaseSpec(lesions=spec, render=style), volume=volume)
        (les,) = case.truth["lesions"]
        measured = 2 * np.sqrt(case.lesion_mask.sum() / np.pi) * case.pixel_spacing_mm[0]
        assert abs(measured - les["diameter_mm"]) <= 1.5, (measured, les["diameter_mm"])
        assert abs(les["diameter_mm"] - 20.0) <= 4.0  # the local scale of the field, no more
        assert les["area_mm2"] == pytest.approx(case.lesion_mask.sum() * case.pixel_spacing_mm[0] ** 2, rel=0.01)


def test_a_child_is_a_smaller_field_with_a_relatively_larger_heart(volume: PhantomVolume,
                                                                  plain: PhantomCase) -> None:
    child = AnatomyParams(child_scale=0.6, heart_scale=1.2, mediastinum_width=1.15)
    case = generate_case(SEED, anatomy(child), volume=volume)
    assert case.pixel_spacing_mm[0] == pytest.approx(plain.pixel_spacing_mm[0] * 0.6, abs=1e-5)
    assert case.truth["pixel_spacing_mm"] == list(case.pixel_spacing_mm)
    assert case.truth["geometry"]["field_of_view_mm"] == pytest.approx(plain.truth["geometry"]["field_of_view_mm"] * 0.6,
                                                                       abs=0.2)
    thorax = _mask(case, "lung_right") | _mask(case, "lung_left")

    def ctr(c: PhantomCase, lungs: np.ndarray) -> float:
        cols = np.nonzero(_mask(c, "heart").any(axis=0))[0]
        lung_cols = np.nonzero(lungs.any(axis=0))[0]
        return float(np.ptp(cols)) / float(np.ptp(lung_cols))

    assert ctr(case, thorax) > ctr(plain, _mask(plain, "lung_right") | _mask(plain, "lung_left")) + 0.03


def test_habitus_thickens_the_flanks_and_widens_the_body() -> None:
    soft = np.zeros((64, 64), np.float32)
    soft[:, 12:52] = 3.0  # a 40-pixel-wide body
    fat = habitus_line(soft, 5.0, 30.0)
    assert fat[:, 32].min() > 0  # more tissue everywhere in the body
    assert fat[32, 13] > fat[32, 32]  # most at the flanks (tangential)
    assert fat[32, 9] > 0 and fat[32, 2] == 0  # the outline widens by about the layer
    assert not habitus_line(soft, 5.0, 0.0).any()


def test_a_deformation_from_a_zero_field_is_the_identity() -> None:
    z = np.zeros((129, 129))
    d = Deformation.from_grid(z, z, 512)
    q = np.arange(512, dtype=np.float32)
    assert np.array_equal(d.map_x, np.broadcast_to(q[None, :], (512, 512)))
    assert np.array_equal(d.map_y, np.broadcast_to(q[:, None], (512, 512)))
    img = np.random.default_rng(0).random((512, 512)).astype(np.float32)
    assert np.array_equal(d.apply(img), img)


def test_styled_anatomy_cases_write_load_and_become_targets(drawn: dict[int, PhantomCase], tmp_path) -> None:
    from encoder.dataset import case_targets
    from encoder.phantom import load_case

    case = drawn[11]
    case.write(tmp_path)
    back = load_case(tmp_path)
    assert back.truth == case.truth and np.array_equal(back.masks, case.masks)
    t = case_targets(case)
    for k, side in enumerate(("right", "left")):
        x, y = t.hilum[k]
        assert t.anatomy[ANATOMY_CLASSES.index(f"hilum_{side}"), int(y // 4), int(x // 4)] > 0
