"""The phantom data engine (issue 3): determinism, orientation, scale, truth lobes, DICOM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom import CaseSpec, LesionSpec, PhantomCase, generate_case, load_case, scenario_spec
from encoder.phantom.case import case_geometry
from encoder.phantom.volume import load_volume, source_dir
from orchestrator.settings import Settings

FILES = ("image.png", "image.dcm", "anatomy.npz", "truth.json")


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    return Settings().cache_dir


@pytest.fixture(scope="module")
def cases(cache_dir: Path) -> dict[int, PhantomCase]:
    return {seed: generate_case(seed, cache_dir=cache_dir) for seed in (0, 1, 2, 3, 4, 5)}


def _mask(case: PhantomCase, name: str) -> np.ndarray:
    return case.masks[ANATOMY_CLASSES.index(name)]


def test_same_seed_gives_byte_identical_files(tmp_path: Path, cache_dir: Path) -> None:
    for run in ("a", "b"):
        generate_case(11, cache_dir=cache_dir).write(tmp_path / run)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    other = tmp_path / "c"
    generate_case(12, cache_dir=cache_dir).write(other)
    assert (other / "image.png").read_bytes() != (tmp_path / "a" / "image.png").read_bytes()


def test_case_contract(cases: dict[int, PhantomCase]) -> None:
    case = cases[0]
    assert case.image.shape == (512, 512) and case.image.dtype == np.float32
    assert np.array_equal(case.image * 255, np.rint(case.image * 255))
    assert case.image_u16.dtype == np.uint16
    assert case.masks.shape == (len(ANATOMY_CLASSES), 512, 512) and case.masks.dtype == bool
    assert case.lesion_mask.shape == (512, 512)
    for key in ("seed", "image_size", "pixel_spacing_mm", "hilum_px", "lesions"):
        assert key in case.truth
    counts = [len(c.truth["lesions"]) for c in cases.values()]
    assert max(counts) <= 3
    assert set(case.hilum_px) == {"right", "left"}


def test_orientation_liver_domes_heart_rml(cases: dict[int, PhantomCase], cache_dir: Path) -> None:
    import nibabel as nib

    vol = load_volume(cache_dir)
    seg = np.asarray(nib.load(str(source_dir() / "mask.nii.gz")).dataobj)
    liver_centre = np.argwhere(seg == 5).mean(axis=0) * np.array(vol.spacing)
    for seed, case in cases.items():
        # thorax midline: halfway between the outer edges of the two lung fields
        spine_x = (np.nonzero(_mask(case, "lung_right"))[1].min() + np.nonzero(_mask(case, "lung_left"))[1].max()) / 2
        # liver on the image's left
        geom = case_geometry(seed, CaseSpec(), 512, vol)
        assert geom.film_of(liver_centre[None, :])[0, 0] < spine_x - 30
        # higher (right) hemidiaphragm dome on the image's left
        dia = _mask(case, "diaphragm")
        top = {side: np.nonzero(dia & _mask(case, f"lung_{side}"))[0].min() for side in ("right", "left")}
        assert top["right"] < top["left"], (seed, top)
        # most of the heart on the image's right
        hx = np.nonzero(_mask(case, "heart"))[1]
        assert np.mean(hx > spine_x) > 0.6
        # RML only on the image's left (its anterior tip reaches the midline, never the left hilum)
        rml_x = np.nonzero(_mask(case, "RML"))[1]
        assert np.mean(rml_x < spine_x) > 0.97
        assert rml_x.max() < case.hilum_px["left"][0]
        assert np.nonzero(_mask(case, "lung_right"))[1].mean() < spine_x < np.nonzero(_mask(case, "lung_left"))[1].mean()
        assert case.hilum_px["right"][0] < case.hilum_px["left"][0]


def test_a_20mm_sphere_measures_20mm(cache_dir: Path) -> None:
    spec = CaseSpec(lesions=(LesionSpec(type="nodule", diameter_mm=20.0, margin="smooth", lobulated=False),))
    for seed in (3, 4):
        case = generate_case(seed, spec, cache_dir=cache_dir)
        area_px = float(case.lesion_mask.sum())
        diameter = 2 * np.sqrt(area_px / np.pi) * case.pixel_spacing_mm[0]
        assert abs(diameter - 20.0) <= 1.5, diameter


def test_lesion_centres_lie_in_their_lobes(cases: dict[int, PhantomCase], cache_dir: Path) -> None:
    every_type = [
        CaseSpec(lesions=(LesionSpec(type="mass"), LesionSpec(type="calcified_nodule"), LesionSpec(type="cavity"))),
        CaseSpec(lesions=(LesionSpec(type="consolidation"), LesionSpec(type="strand"), LesionSpec(type="effusion"))),
    ]
    all_cases = [*cases.values(), generate_case(7, scenario_spec(), cache_dir=cache_dir),
                 *(generate_case(20 + n, spec, cache_dir=cache_dir) for n, spec in enumerate(every_type))]
    kinds = set()
    for case in all_cases:
        for les in case.truth["lesions"]:
            x, y = (round(v) for v in les["center_px"])
            assert _mask(case, les["lobe"])[y, x], les
            assert les["side"] == ("right" if les["lobe"].startswith("R") else "left")
            assert case.lesion_mask[y, x] or les["type"] in ("strand", "cavity")
            kinds.add(les["type"])
    assert kinds >= {"nodule", "mass", "calcified_nodule", "cavity", "consolidation", "strand", "effusion"}
    for case in all_cases:  # distinct lesion ids per case
        ids = [les["id"] for les in case.truth["lesions"]]
        assert len(ids) == len(set(ids))


def test_a_clipped_consolidation_is_centred_on_what_is_consolidated(cache_dir: Path) -> None:
    """Seed 130's only lesion is a 58 mm consolidation grown from a point near its lobe's edge;
    clipped to the lobe, its placement point lay ~10 mm off the opacity. The truth centre is
    the opacity's."""
    case = generate_case(130, cache_dir=cache_dir)
    (les,) = (les for les in case.truth["lesions"] if les["type"] == "consolidation")
    ys, xs = np.nonzero(case.lesion_mask)
    off_mm = np.hypot(xs.mean() - les["center_px"][0], ys.mean() - les["center_px"][1]) * case.pixel_spacing_mm[0]
    assert off_mm <= 3.0, off_mm
    assert les["center_3d_mm"] and _mask(case, les["lobe"])[round(les["center_px"][1]), round(les["center_px"][0])]


def test_scenario_case(cache_dir: Path) -> None:
    case = generate_case(7, scenario_spec(), cache_dir=cache_dir)
    nodule, strand = case.truth["lesions"]
    assert (nodule["type"], nodule["lobe"], nodule["band"], nodule["diameter_mm"]) == ("nodule", "RML", "outer", 12.0)
    assert nodule["margin"] == "spiculated" and nodule["lobulated"] and nodule["notches_clock"]
    assert nodule["spicule_count"] == len(nodule["spicule_lengths_mm"]) > 0
    assert (strand["type"], strand["lobe"], strand["zone"], strand["size_mm"]) == ("strand", "LLL", "lower", [25.0, 18.0])
    assert nodule["center_px"][0] < 256 < strand["center_px"][0]


def test_a_training_set_can_add_a_lesion_type_to_every_case(cache_dir: Path) -> None:
    from encoder.dataset import case_spec
    from encoder.phantom.case import TYPE_WEIGHTS
    from encoder.training_cli import LESION_TYPES

    assert set(LESION_TYPES) == set(TYPE_WEIGHTS)  # what --extra-lesion offers is what the phantom makes
    assert case_spec(1500, None) is None
    spec = case_spec(1500, "strand")
    assert spec.lesions[-1] == LesionSpec(type="strand") and spec == case_spec(1500, "strand")
    case = generate_case(1500, spec, cache_dir=cache_dir)
    types = [les["type"] for les in case.truth["lesions"]]
    assert len(types) == len(spec.lesions) and types[-1] == "strand"


def test_write_load_and_dicom_round_trip(tmp_path: Path, cases: dict[int, PhantomCase]) -> None:
    import pydicom

    case = cases[1]
    case.write(tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    ds = pydicom.dcmread(str(tmp_path / "image.dcm"))
    assert ds.Modality == "DX" and ds.PhotometricInterpretation == "MONOCHROME2"
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx(truth["pixel_spacing_mm"], abs=1e-6)
    assert np.array_equal(ds.pixel_array, case.image_u16)
    back = load_case(tmp_path)
    assert np.array_equal(back.image, case.image)
    assert np.array_equal(back.masks, case.masks) and np.array_equal(back.lesion_mask, case.lesion_mask)
    assert back.truth == case.truth
    with np.load(tmp_path / "anatomy.npz") as z:
        assert list(z["class_names"]) == list(ANATOMY_CLASSES)
        assert z["hilum_px"].shape == (2, 2) and z["masks"].dtype == np.uint8


def test_cli_writes_the_four_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    from orchestrator.cli import main

    monkeypatch.setenv("HILUM_CACHE_DIR", str(cache_dir))
    assert main(["phantom", "--seed", "2", "--out", str(tmp_path / "one"), "--size", "256"]) == 0
    for name in FILES:
        assert (tmp_path / "one" / name).exists()
    assert json.loads((tmp_path / "one" / "truth.json").read_text())["image_size"] == [256, 256]


def test_an_earlier_film_of_the_same_chest(tmp_path: Path, cache_dir: Path) -> None:
    """``hilum phantom --earlier-days N``: the same chest N days before, its own positioning and noise, each round
    lesion where it is now at the scale asked, the strand as it is; its DICOM the same patient's, another study."""
    import subprocess
    import sys

    import pydicom

    out = tmp_path / "case"
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "phantom", "--seed", "7", "--scenario",
                           "--earlier-days", "120", "--earlier-scale", "0.5", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    now, before = load_case(out), load_case(out / "earlier")
    assert before.truth["earlier_film_of"] == 7 and before.truth["interval_days"] == 120
    assert before.truth["geometry"] != now.truth["geometry"]  # another positioning
    pairs = list(zip(now.truth["lesions"], before.truth["lesions"], strict=True))
    for a, b in pairs:
        assert a["type"] == b["type"] and a["lobe"] == b["lobe"] and a["center_3d_mm"] == b["center_3d_mm"]
    nodule, strand = pairs
    assert nodule[1]["diameter_mm"] == pytest.approx(nodule[0]["diameter_mm"] * 0.5)
    assert strand[1]["diameter_mm"] == strand[0]["diameter_mm"]
    a, b = pydicom.dcmread(out / "image.dcm"), pydicom.dcmread(out / "earlier" / "image.dcm")
    assert a.PatientID == b.PatientID and a.StudyInstanceUID != b.StudyInstanceUID
    assert a.StudyDate == "20000101" and b.StudyDate == "19990903"  # 120 days before 2000-01-01
    refused = subprocess.run([sys.executable, "-m", "orchestrator.cli", "phantom", "--seed", "7", "--count", "2",
                              "--earlier-days", "30", "--out", str(tmp_path / "many")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--earlier-days" in refused.stdout
