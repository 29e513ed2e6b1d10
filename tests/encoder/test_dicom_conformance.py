"""Conformant DICOM out (issue 24): the phantom's DX For Presentation ``image.dcm`` passes
``dciodvfy`` (Debian dicom3tools, installed by ``make system-packages``) with no errors, as
written and re-encoded losslessly; it still carries what the reader and the film gate use."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from encoder.phantom import PhantomCase, generate_case
from encoder.phantom.writer import write_dicom
from orchestrator.film_gate.metadata import read_tags
from orchestrator.imaging import decode_upload
from orchestrator.settings import Settings


@dataclass(frozen=True)
class Verdict:
    iod: str
    errors: list[str]
    warnings: list[str]


def dciodvfy(path: Path) -> Verdict:
    exe = shutil.which("dciodvfy")
    if exe is None:
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed; `make system-packages` installs it")
    run = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120)
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    warnings = [line for line in lines if line.startswith("Warning")]
    assert (run.returncode != 0) == bool(errors), (run.returncode, lines)
    return Verdict(iod=lines[0] if lines else "", errors=errors, warnings=warnings)


@pytest.fixture(scope="module")
def case() -> PhantomCase:
    return generate_case(7, size=256, cache_dir=Settings().cache_dir)


@pytest.fixture(scope="module")
def dicom_path(case: PhantomCase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conformance") / "image.dcm"
    write_dicom(case, path)
    return path


def test_phantom_dicom_passes_dciodvfy_with_no_errors(dicom_path: Path) -> None:
    verdict = dciodvfy(dicom_path)
    assert verdict.iod == "DXImageForPresentation"
    assert verdict.errors == [], "\n".join(verdict.errors)


@pytest.mark.parametrize("ts", [RLELossless, JPEGLSLossless, JPEG2000Lossless], ids=["rle", "jpeg-ls", "jpeg2000"])
def test_losslessly_compressed_phantom_still_passes(dicom_path: Path, tmp_path: Path, ts: str) -> None:
    ds = pydicom.dcmread(dicom_path)
    ds.compress(ts)
    out = tmp_path / "compressed.dcm"
    ds.save_as(out, enforce_file_format=True)
    verdict = dciodvfy(out)
    assert verdict.errors == [], "\n".join(verdict.errors)
    assert np.array_equal(pydicom.dcmread(out).pixel_array, pydicom.dcmread(dicom_path).pixel_array)


def test_the_validator_is_really_read(dicom_path: Path, tmp_path: Path) -> None:
    """The parse above is not vacuous: dropping two type 1 attributes gives errors naming them."""
    ds = pydicom.dcmread(dicom_path)
    del ds.ImageLaterality
    del ds.PixelIntensityRelationshipSign
    broken = tmp_path / "broken.dcm"
    ds.save_as(broken, enforce_file_format=True)
    errors = "\n".join(dciodvfy(broken).errors)
    assert "ImageLaterality" in errors and "PixelIntensityRelationshipSign" in errors


def test_dx_for_presentation_chest_attributes(dicom_path: Path, case: PhantomCase) -> None:
    ds = pydicom.dcmread(dicom_path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1" and ds.PresentationIntentType == "FOR PRESENTATION"
    assert (ds.Modality, ds.BodyPartExamined, ds.ViewPosition, ds.ImageLaterality) == ("DX", "CHEST", "PA", "U")
    assert list(ds.PatientOrientation) == ["L", "F"]
    region = ds.AnatomicRegionSequence[0]
    assert (region.CodeValue, region.CodingSchemeDesignator) == ("51185008", "SCT")
    view = ds.ViewCodeSequence[0]
    assert (view.CodeValue, view.CodingSchemeDesignator, view.CodeMeaning) == ("272479007", "SCT", "postero-anterior")
    assert (ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign) == ("LOG", -1)
    assert (ds.PresentationLUTShape, ds.LossyImageCompression, ds.BurnedInAnnotation) == ("IDENTITY", "00", "NO")
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx(case.pixel_spacing_mm, abs=1e-6)
    assert np.array_equal(ds.pixel_array, case.image_u16)


def test_the_film_gate_still_reads_the_tags(dicom_path: Path, case: PhantomCase) -> None:
    film = decode_upload(dicom_path.read_bytes(), "image.dcm", Settings())
    assert (film.info["body_part"], film.info["view_position"]) == ("CHEST", "PA")
    assert film.info["patient_orientation"] == ("L", "F") and film.info["image_laterality"] == "U"
    verdict = read_tags(film.info)
    assert verdict.refuse is None and verdict.view == "PA" and verdict.orientation == "upright"
    assert film.spacing is not None
    assert film.spacing.row_mm == pytest.approx(case.pixel_spacing_mm[0] * film.resampling.scale)
