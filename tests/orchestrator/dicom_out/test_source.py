"""The source image a session's DICOM results reference, and the working frame's mapping onto it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from orchestrator.contracts.preprocess import to_working_size
from orchestrator.dicom_out.content import session_content
from orchestrator.dicom_out.objects import DicomObjects
from orchestrator.dicom_out.source import KEPT_ATTRIBUTES, SourceImage, secondary_capture_source

from .conftest import COLS, ROWS


@pytest.mark.parametrize(("rows", "cols", "dot"), [(1024, 944, (600, 130)), (700, 900, (101, 850)), (512, 512, (7, 300))])
def test_working_pixels_map_back_onto_the_original_pixel(rows: int, cols: int, dot: tuple[int, int]) -> None:
    """A bright pixel of the original film, found in the working image, maps back onto itself
    (within one original pixel; the DICOM continuous frame puts a pixel's centre at index + 0.5)."""
    film = np.zeros((rows, cols), dtype=np.float32)
    film[dot] = 1000.0
    working, resampling = to_working_size(film)
    wy, wx = np.unravel_index(int(np.argmax(working)), working.shape)
    side = max(rows, cols)
    source = secondary_capture_source("s", (512, 512))
    source = type(source)(**{**source.__dict__, "rows": rows, "cols": cols, "scale": resampling.scale,
                             "pad_x": float(resampling.pad_x), "pad_y": float(resampling.pad_y)})
    x, y = source.to_original((wx, wy))
    assert abs(x - (dot[1] + 0.5)) <= max(1.0, side / 512), (x, dot)
    assert abs(y - (dot[0] + 0.5)) <= max(1.0, side / 512), (y, dot)


def test_the_session_keeps_uids_frame_and_only_the_kept_attributes(engine: Any, film_dcm: bytes) -> None:
    """The engine records the DICOM upload on the session itself; the objects' source comes from it."""
    ds = pydicom.dcmread(io.BytesIO(film_dcm))
    view = engine.create_session(film_dcm, filename="film.dcm", lang="en")
    state = engine.store.get(view.session_id)
    assert state.source is not None and state.source.format == "dicom" and state.source.dicom is not None
    assert state.frame is not None and state.frame.original_size == (ROWS, COLS)
    assert state.frame.working_size == (512, 512)
    assert view.to_dict()["frame"] == state.frame.as_dict()
    source = DicomObjects.source(session_content(engine, view.session_id, "default"))
    assert source.kind == "dicom"
    assert (source.sop_instance_uid, source.study_uid, source.series_uid, source.sop_class_uid) == (
        ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPClassUID)
    assert (source.rows, source.cols) == (ROWS, COLS)
    assert source.scale == pytest.approx(ROWS / 512) and (source.pad_x, source.pad_y) == ((ROWS - COLS) // 2, 0)
    assert set(source.header) <= set(KEPT_ATTRIBUTES)
    assert source.header["PatientID"] == ds.PatientID
    assert "Do Not Keep" not in state.to_json() and "OTHER-ID" not in state.to_json()
    assert ds.PatientID not in repr(state) and ds.PatientID not in repr(state.source)  # reprs reach logs
    ref = source.reference_dataset()
    assert "InstitutionName" not in ref and "OtherPatientIDs" not in ref and "PixelData" not in ref
    engine.close_session(view.session_id)


def _session_source(engine: Any, data: bytes) -> tuple[Any, SourceImage]:
    view = engine.create_session(data, filename=None, lang="en")
    state = engine.store.get(view.session_id)
    source = DicomObjects.source(session_content(engine, view.session_id, "default"))
    engine.close_session(view.session_id)
    return state, source


def test_a_png_or_a_dicom_without_valid_uids_gets_a_secondary_capture(engine: Any, phantom_case: Path,
                                                                       film_dcm: bytes) -> None:
    state, source = _session_source(engine, (phantom_case / "image.png").read_bytes())
    assert state.source is not None and state.source.format == "png" and state.source.dicom is None
    assert state.frame is not None and source.kind == "secondary_capture"
    ds = pydicom.dcmread(io.BytesIO(film_dcm))
    ds.SOPInstanceUID = "not.a..uid"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    state, source = _session_source(engine, out.getvalue())
    assert state.source is not None and state.source.format == "dicom" and state.source.dicom is None
    assert source.kind == "secondary_capture" and source.sop_instance_uid != "not.a..uid"


def test_secondary_capture_uids_are_new_and_stable_per_session() -> None:
    a, b = secondary_capture_source("abc", (512, 512)), secondary_capture_source("abc", (512, 512))
    other = secondary_capture_source("xyz", (512, 512))
    assert (a.sop_instance_uid, a.study_uid, a.series_uid) == (b.sop_instance_uid, b.study_uid, b.series_uid)
    assert len({a.sop_instance_uid, a.study_uid, a.series_uid, other.sop_instance_uid, other.study_uid}) == 5
    assert all(pydicom.uid.UID(u).is_valid for u in (a.sop_instance_uid, a.study_uid, a.series_uid))


def test_results_of_a_film_cut_from_its_upload_land_on_the_upload_pixels() -> None:
    """A film found inside a padded upload: the session's frame is against the upload (pad less the cut's corner),
    so a working point maps to the upload's own pixel."""
    from types import SimpleNamespace

    from orchestrator.contracts.lesion_reader import Frame
    from orchestrator.contracts.preprocess import Resampling
    from orchestrator.dicom_out.source import session_source

    ref = SimpleNamespace(sop_class_uid="1.2.840.10008.5.1.4.1.1.1.1", sop_instance_uid="1.2.3.4", study_uid="1.2.3",
                          series_uid="1.2.3.5", rows=900, cols=700, modality="DX", patient_orientation=(),
                          header_dict=lambda: {})
    # a 400 x 320 film cut at (150, 200) from a 900 x 700 upload, padded by 40 columns to a square of 400
    resampling = Resampling(400 / 512, 40, 0, (400, 320), crop_x=150, crop_y=200, upload_size=(900, 700))
    frame = Frame.from_resampling(resampling)
    assert frame.original_size == (900, 700) and frame.pad_px == (-110.0, -200.0)
    source = session_source("s", (512, 512), SimpleNamespace(dicom=ref), frame)
    # the film's pixel (100, 50) is the upload's (250, 250); in working pixels: (x + pad) / scale - 0.5
    wx, wy = (100 + 0.5 + 40.0) / (400 / 512) - 0.5, (50 + 0.5) / (400 / 512) - 0.5
    assert source.to_original((wx, wy)) == pytest.approx((250.5, 250.5), abs=1e-6)
