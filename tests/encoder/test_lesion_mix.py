"""The varied lesion mix (issue 21): what it draws, and that each kind looks and is recorded as it should."""

from __future__ import annotations

import argparse
import json
from collections import Counter

import cv2
import numpy as np
import pytest

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom import CaseSpec, LesionSpec, PhantomCase, generate_case
from encoder.phantom.lesion_mix import (
    LESION_MIXES,
    check_mix,
    contact_candidates,
    contact_kind,
    multiple_masses,
    varied_specs,
)
from encoder.phantom.volume import PhantomVolume, load_volume
from orchestrator.settings import Settings

SEED = 40


@pytest.fixture(scope="module")
def volume() -> PhantomVolume:
    return load_volume(Settings().cache_dir)


@pytest.fixture(scope="module")
def empty(volume: PhantomVolume) -> PhantomCase:
    return generate_case(SEED, CaseSpec(lesions=()), volume=volume)


def _mask(case: PhantomCase, name: str) -> np.ndarray:
    return case.masks[ANATOMY_CLASSES.index(name)]


def one(**kw: object) -> CaseSpec:
    base = {"type": "nodule", "diameter_mm": 20.0, "margin": "smooth", "lobulated": False}
    return CaseSpec(lesions=(LesionSpec(**{**base, **kw}),))


def test_the_varied_draw() -> None:
    films = [varied_specs(np.random.default_rng([n, 3])) for n in range(900)]
    normal = sum(1 for f in films if not f) / len(films)
    assert 0.29 < normal < 0.38
    multiple = [f for f in films if f and f[0].pattern == "multiple"]
    assert 0.05 < len(multiple) / len(films) < 0.11
    for f in multiple:
        assert 5 <= len(f) <= 15 and {s.side for s in f} == {"right", "left"}
        assert all(s.type in ("nodule", "mass") and s.pattern == "multiple" for s in f)
    specs = [s for f in films for s in f if s.pattern != "multiple"]
    focal = [s for s in specs if s.density and s.type in ("nodule", "mass", "calcified_nodule")]
    sizes = [s.diameter_mm for s in focal]
    assert min(sizes) >= 4.0 and max(sizes) <= 60.0 and min(sizes) < 6 and max(sizes) > 45
    assert all((s.type == "mass") == (s.diameter_mm >= 30) for s in focal if s.type != "calcified_nodule")
    assert Counter(s.density for s in focal).keys() == {"ground_glass", "subsolid", "solid", "calcified"}
    assert {s.contact for s in focal} == {None, "pleura", "mediastinum", "diaphragm"}
    blurred = [s for s in focal if s.edge_mm]
    assert blurred and all(0.8 <= s.edge_mm <= 4.0 for s in blurred) and len(blurred) < len(focal)
    gg = [s for s in focal if s.density == "ground_glass"]
    assert all(-750 <= s.hu <= -350 for s in gg)
    patterns = Counter(s.pattern for s in specs if s.type == "consolidation")
    assert patterns["lobar"] and patterns["patchy"] and patterns[None]
    assert {s.type for s in specs} >= {"strand", "cavity", "effusion"}
    for f in films:
        assert sum(s.type == "effusion" for s in f) <= 1
        lobar = [s for s in f if s.pattern == "lobar"]
        if lobar:  # nothing else hides inside the airless lobe
            other = "left" if lobar[0].lobe.startswith("R") else "right"
            assert all(s.side == other for s in f if s is not lobar[0] and s.type != "effusion")
    patchy = [f for f in films if any(s.pattern == "patchy" for s in f)]
    assert all(len({s.lobe for s in f if s.pattern == "patchy"}) == 1 for f in patchy if not any(
        s.pattern == "lobar" for s in f))


def test_the_default_mix_is_the_default(volume: PhantomVolume) -> None:
    a = generate_case(7, volume=volume)
    b = generate_case(7, CaseSpec(lesion_mix="default"), volume=volume)
    assert a.image.tobytes() == b.image.tobytes() and json.dumps(a.truth) == json.dumps(b.truth)
    assert "lesion_mix" not in b.truth
    assert LESION_MIXES == ("default", "varied", "none") and check_mix(None) is None and check_mix("varied") == "varied"
    with pytest.raises(ValueError):
        check_mix("exotic")


def test_varied_films_are_deterministic_and_say_so(volume: PhantomVolume) -> None:
    seen = set()
    for seed in (60, 61, 62, 63):
        a = generate_case(seed, CaseSpec(lesion_mix="varied"), volume=volume)
        assert a.truth["lesion_mix"] == "varied"
        for les in a.truth["lesions"]:
            x, y = (round(v) for v in les["center_px"])
            assert _mask(a, les["lobe"])[y, x]
            seen.update(k for k in ("density", "contact", "pattern") if k in les)
        if seed == 60:
            b = generate_case(seed, CaseSpec(lesion_mix="varied"), volume=volume)
            assert a.image.tobytes() == b.image.tobytes() and a.truth == b.truth


def test_ground_glass_is_fainter_and_a_blurred_edge_softer(volume: PhantomVolume, empty: PhantomCase) -> None:
    kernel = np.ones((3, 3), np.uint8)

    def contrast(spec: CaseSpec) -> tuple[float, float, PhantomCase]:
        case = generate_case(SEED, spec, volume=volume)
        d = case.image - empty.image
        m = case.lesion_mask.astype(np.uint8)
        ring = cv2.dilate(m, kernel, iterations=5).astype(bool) & ~cv2.dilate(m, kernel, iterations=1).astype(bool)
        return float(d[m.astype(bool)].mean()), float(d[ring].mean()), case

    solid, solid_ring, case = contrast(one(hu=40.0, density="solid"))
    gg, _, gg_case = contrast(one(hu=-600.0, density="ground_glass"))
    blurred, blurred_ring, b_case = contrast(one(hu=40.0, density="solid", edge_mm=3.0))
    assert 0 < gg < 0.45 * solid
    assert blurred_ring / blurred > solid_ring / solid + 0.08  # the edge fades out past the outline
    for c in (case, gg_case, b_case):  # the truth outline stays the 20 mm sphere's
        (les,) = c.truth["lesions"]
        assert abs(2 * np.sqrt(c.lesion_mask.sum() / np.pi) * c.pixel_spacing_mm[0] - 20.0) <= 1.5
    les = gg_case.truth["lesions"][0]
    assert les["density"] == "ground_glass" and les["hu"] == -600.0
    assert b_case.truth["lesions"][0]["edge_mm"] == 3.0 and "edge_mm" not in case.truth["lesions"][0]


def test_contact_lesions_touch_their_surface(volume: PhantomVolume) -> None:
    for seed in (40, 41, 42):
        for contact in ("pleura", "mediastinum", "diaphragm"):
            spec = one(type="mass", diameter_mm=35.0, hu=40.0, density="solid", contact=contact)
            case = generate_case(seed, spec, volume=volume)
            (les,) = case.truth["lesions"]
            m = case.lesion_mask
            assert les["contact"] == contact and m.any()
            lung = _mask(case, "lung_right") | _mask(case, "lung_left")
            if contact == "pleura":  # on the lung field's outer edge
                inside = cv2.distanceTransform(lung.astype(np.uint8), cv2.DIST_L2, 5)
                assert float(inside[m].min()) <= 8.0, (seed, float(inside[m].min()))
            elif contact == "mediastinum":
                assert _mask(case, "mediastinum")[m].any(), seed
            else:
                assert _mask(case, "diaphragm")[m].any() and les["lobe"] in ("RML", "RLL", "LLL"), seed
    rng = np.random.default_rng(0)
    pts, lobe = contact_candidates(volume, LesionSpec(type="mass", diameter_mm=30.0, contact="diaphragm"), rng)
    assert lobe in ("RML", "RLL", "LLL") and len(pts) >= 10
    exits = {"lateral": np.array([1, 0, 0, 1, 0], bool), "medial": np.array([0, 1, 0, 0, 0], bool),
             "down": np.array([0, 0, 1, 1, 0], bool)}
    assert list(contact_kind(exits)) == ["pleura", "mediastinum", "diaphragm", "diaphragm", ""]


def test_lobar_consolidation_fills_its_lobe(volume: PhantomVolume) -> None:
    for lobe in ("RUL", "LLL"):
        case = generate_case(SEED, CaseSpec(lesions=(LesionSpec(type="consolidation", lobe=lobe, hu=20.0,
                                                                  pattern="lobar", density="solid"),)),
                             volume=volume)
        (les,) = case.truth["lesions"]
        m = case.lesion_mask
        lobe_mask = _mask(case, lobe)
        assert les["pattern"] == "lobar" and les["lobe"] == lobe and les["air_bronchogram"]
        assert np.mean(lobe_mask[m]) > 0.97 and m.sum() > 0.5 * lobe_mask.sum()
        x, y = (round(v) for v in les["center_px"])
        assert m[y, x] and lobe_mask[y, x]
        assert les["diameter_mm"] == pytest.approx(2 * np.sqrt(m.sum() / np.pi) * case.pixel_spacing_mm[0], abs=0.1)


def test_multiple_masses_in_both_lungs(volume: PhantomVolume) -> None:
    specs = multiple_masses(np.random.default_rng(3))
    case = generate_case(41, CaseSpec(lesions=specs), volume=volume)
    lesions = case.truth["lesions"]
    assert len(lesions) == len(specs) and 5 <= len(lesions) <= 15
    assert {les["side"] for les in lesions} == {"right", "left"}
    assert all(les["pattern"] == "multiple" and les["type"] in ("nodule", "mass") for les in lesions)
    centres = np.array([les["center_px"] for les in lesions])
    assert len({tuple(np.round(c)) for c in centres}) == len(lesions)


def test_dataset_and_clis_take_the_mix() -> None:
    from encoder.dataset import case_spec
    from encoder.phantom_cli import case_spec as phantom_spec
    from encoder.training_cli import LESION_MIXES as CLI_MIXES
    from encoder.training_cli import lesion_mix

    assert CLI_MIXES == LESION_MIXES
    assert case_spec(1500, None) is None and case_spec(1500, None, None, "default") is None
    assert case_spec(1500, None, None, "varied") == CaseSpec(lesion_mix="varied")
    with_strand = case_spec(1500, "strand", "anatomy", "varied")
    assert with_strand.lesions[-1] == LesionSpec(type="strand") and with_strand.render == "anatomy"
    assert with_strand == case_spec(1500, "strand", "anatomy", "varied")
    assert lesion_mix(argparse.Namespace(lesion_mix="varied")) == "varied"
    assert lesion_mix(argparse.Namespace(lesion_mix="default")) is None
    assert phantom_spec(False, None, "default") is None
    spec = phantom_spec(True, "anatomy", "varied")
    assert spec.render == "anatomy" and spec.lesion_mix == "varied" and len(spec.lesions) == 2


def test_evaluation_counts_findings_on_normal_films() -> None:
    from encoder.evaluate import Tally, format_table, summarise

    tally = Tally(films=4, normal_films=2, normal_false_positives=1, false_positives=3)
    les = summarise(tally)["lesions"]
    assert les["normal_films"] == 2 and les["false_positives_per_normal_film"] == 0.5
    assert "per normal film" in format_table({**summarise(tally), "seeds": "0-3", "lesion_mix": "varied"})
