"""Other patients' CTs (encoder/phantom/other_ct.py): the NRRD reader, the lungs found by
threshold, the inserted nodules and their truth, and training films labelled only where known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encoder.phantom.other_ct import (
    OtherCT,
    insert_nodules,
    load,
    lung_fields,
    lung_mask,
    prepare,
    read_nrrd,
    training_film,
    write_nrrd,
)


def chest(shape: tuple[int, int, int] = (96, 64, 24)) -> np.ndarray:
    """A box of soft tissue in air with two lungs either side of a spine, and a small airway on the
    midline (LPS: x towards the patient's left, y towards posterior)."""
    hu = np.full(shape, -1000, dtype=np.int16)
    hu[8:88, 8:56, :] = 40
    hu[14:42, 14:48, 2:22] = -850  # patient's right lung (low x)
    hu[54:82, 14:48, 2:22] = -850
    hu[46:50, 20:24, 12:22] = -900  # the trachea, on the midline
    hu[45:51, 44:52, :] = 400  # the spine, posterior
    return hu


@pytest.fixture()
def ct_dir(tmp_path: Path) -> Path:
    hu = chest()
    label = np.zeros(hu.shape, dtype=np.int16)
    label[20:26, 24:30, 8:11] = 1  # the tumour, in the right lung
    write_nrrd(tmp_path / "case_image.nrrd", hu, (3.0, 3.0, 5.0))
    write_nrrd(tmp_path / "case_label.nrrd", label, (3.0, 3.0, 5.0), encoding="raw")
    return tmp_path


def test_read_nrrd_gives_the_file_axes_and_load_turns_lps_into_the_phantom_axes(ct_dir: Path) -> None:
    arr, fields = read_nrrd(ct_dir / "case_image.nrrd")
    assert arr.shape == (96, 64, 24) and fields["space"] == "left-posterior-superior"
    assert np.array_equal(arr, chest())
    ct = load("case", ct_dir)
    assert ct.spacing == (3.0, 3.0, 5.0)
    assert np.array_equal(ct.hu, chest()[:, ::-1, :])  # axis 1 now towards anterior
    assert ct.tumour.sum() == 6 * 6 * 3 and ct.tumour[20:26, 64 - 30:64 - 24, 8:11].all()


def test_read_nrrd_refuses_what_it_does_not_read(tmp_path: Path) -> None:
    bad = tmp_path / "x.nrrd"
    bad.write_bytes(b"P5 not an nrrd")
    with pytest.raises(ValueError, match="not an NRRD"):
        read_nrrd(bad)


def test_the_lungs_are_the_air_inside_the_body_and_the_airway_is_cut_out_of_the_fields(ct_dir: Path) -> None:
    ct = load("case", ct_dir)
    lungs = lung_mask(ct, min_ml=2.0)
    assert not lungs[0, 0, 0]  # the air around the patient is not lung
    assert lungs[20, 30, 10] and lungs[60, 30, 10]
    fields = lung_fields(lungs, 47.5, ct.spacing)
    assert fields["right"][20, 30, 10] and not fields["right"][60, 30, 10]
    assert fields["left"][60, 30, 10] and not fields["left"][20, 30, 10]
    assert lungs[47, 41, 15] and not (fields["right"] | fields["left"])[47, 41, 15]  # the trachea


def _patient(ct_dir: Path) -> object:
    ct = load("case", ct_dir)
    return prepare(OtherCT(ct.name, ct.hu, ct.tumour, ct.spacing))


def test_prepared_patient_has_the_spine_as_its_midline_and_the_tumour_on_the_right(ct_dir: Path) -> None:
    p = _patient(ct_dir)
    assert abs(p.midline_i - 47.5) <= 1.0
    assert p.tumour is not None and p.tumour.side == "right"
    # the film: columns = x, rows = superior first, square pixels of dx
    assert p.soft.shape == (round(24 * 5 / 3), 96)
    assert p.tumour_film[:, 20:26].any() and not p.tumour_film[:, 54:].any()


def test_inserted_nodules_add_attenuation_where_their_truth_says(ct_dir: Path) -> None:
    p = _patient(ct_dir)
    extra, lesions, mask = insert_nodules(p, np.random.default_rng(3), count=2)
    assert lesions and mask.any()
    for les in lesions:
        assert extra[int(round(les.y_px)), int(round(les.x_px))] > 0
        assert mask[int(round(les.y_px)), int(round(les.x_px))]
        assert les.side == ("right" if les.x_px < p.midline_i else "left")
    assert (extra[~mask] < 1e-3).all()  # only a soft rim outside the nominal sphere


def test_a_training_film_labels_its_lungs_and_lesions_on_the_same_pixels(ct_dir: Path) -> None:
    p = _patient(ct_dir)
    films = [training_film(p, seed) for seed in range(6)]
    for t in films:
        assert t.image.dtype == np.uint16 and t.image.shape == t.lesion_mask.shape == t.lungs["right"].shape
        assert t.lungs["right"].any() and t.lungs["left"].any()
    assert any(t.lesion_mask.any() for t in films) and any(not t.lesion_mask.any() for t in films)
