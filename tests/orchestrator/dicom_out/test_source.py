"""The source image a session's DICOM results reference, and the working frame's mapping onto it."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image

from encoder.preprocess import to_working_size
from orchestrator.dicom_out.registry import SourceRegistry
from orchestrator.dicom_out.source import KEPT_ATTRIBUTES, dicom_source, secondary_capture_source
from orchestrator.settings import Settings

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


def test_dicom_source_reads_uids_frame_and_only_the_kept_attributes(film_dcm: bytes) -> None:
    ds = pydicom.dcmread(io.BytesIO(film_dcm))
    source = dicom_source(film_dcm, Settings(), 512)
    assert source is not None and source.kind == "dicom"
    assert (source.sop_instance_uid, source.study_uid, source.series_uid, source.sop_class_uid) == (
        ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPClassUID)
    assert (source.rows, source.cols) == (ROWS, COLS)
    assert source.scale == pytest.approx(ROWS / 512) and (source.pad_x, source.pad_y) == ((ROWS - COLS) // 2, 0)
    assert set(source.header) <= set(KEPT_ATTRIBUTES)
    assert source.header["PatientID"] == ds.PatientID
    assert "Do Not Keep" not in repr(source) and "OTHER-ID" not in repr(source)
    ref = source.reference_dataset()
    assert "InstitutionName" not in ref and "OtherPatientIDs" not in ref and "PixelData" not in ref


def test_no_dicom_source_for_a_png_or_a_dicom_without_valid_uids(film_dcm: bytes) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(buf, format="PNG")
    assert dicom_source(buf.getvalue(), Settings(), 512) is None
    ds = pydicom.dcmread(io.BytesIO(film_dcm))
    ds.SOPInstanceUID = "not.a..uid"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    assert dicom_source(out.getvalue(), Settings(), 512) is None


def test_secondary_capture_uids_are_new_and_stable_per_session() -> None:
    a, b = secondary_capture_source("abc", (512, 512)), secondary_capture_source("abc", (512, 512))
    other = secondary_capture_source("xyz", (512, 512))
    assert (a.sop_instance_uid, a.study_uid, a.series_uid) == (b.sop_instance_uid, b.study_uid, b.series_uid)
    assert len({a.sop_instance_uid, a.study_uid, a.series_uid, other.sop_instance_uid, other.study_uid}) == 5
    assert all(pydicom.uid.UID(u).is_valid for u in (a.sop_instance_uid, a.study_uid, a.series_uid))


def test_registry_is_per_tenant_bounded_and_expires() -> None:
    now = [0.0]
    reg = SourceRegistry(ttl_s=10, max_items=2, clock=lambda: now[0])
    s = secondary_capture_source("a", (512, 512))
    reg.record("t1", "a", s)
    assert reg.get("t1", "a") == s and reg.get("t2", "a") is None
    reg.record("t1", "b", s)
    reg.record("t1", "c", s)
    assert reg.get("t1", "a") is None and reg.get("t1", "c") == s
    now[0] = 11.0
    assert reg.get("t1", "c") is None
