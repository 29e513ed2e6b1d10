"""The image Hilum's DICOM results point at, and how working-frame pixels map onto it.

A session's coordinates live in the working frame (the film padded to a square and resized to
``image_size``: ``encoder/preprocess.py``). DICOM results must reference the **original** image:

- an upload that was DICOM: its own SOP Class / SOP Instance / Study / Series UIDs, and its
  Rows × Columns, from which the working frame's scale and padding follow exactly as
  ``encoder.preprocess.to_working_size`` made them;
- a PNG/JPEG upload (or a session whose upload is not known here): Hilum wraps the film as it
  read it (the session's working-size display PNG) as a Secondary Capture image with new UIDs,
  and every object built on it says so.

Coordinates: DICOM's SCOORD (PS3.3 C.18.6.1.2) and presentation-state PIXEL units put the top-left
corner of the top-left pixel at (0, 0) and its centre at (0.5, 0.5). ``cv2.resize`` aligns pixel
centres, so a working pixel index ``x`` maps to ``(x + 0.5) × scale − pad`` in that continuous frame
(the DESIGN.md rule ``original = working × scale − pad``, taken at pixel centres).

PHI: a DICOM source keeps only the patient and study attributes a result needs to be filed in the
same patient's study (``KEPT_ATTRIBUTES``), in memory, for the objects returned to the same tenant;
they are never logged and never part of a JSON response.
"""

from __future__ import annotations

import datetime
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydicom.dataset import Dataset

from orchestrator.imaging import UploadLimits, dicom_film_tags, sniff_format

SECONDARY_CAPTURE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"
# what a result needs to be filed beside its source (PS3.3 Patient, General Study modules)
KEPT_ATTRIBUTES: tuple[str, ...] = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "AccessionNumber", "ReferringPhysicianName", "StudyID",
)
MANUFACTURER = "Hilum"
MODEL = "Hilum dialogue engine"
SOFTWARE_VERSION = "0.1.0"


UID_NAMESPACE = uuid.UUID("8a2f5c1e-3b7d-4e0a-9c61-4d2b7e9f0a13")  # Hilum's, for name-based UUIDs


UID_PATTERN = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+")


def valid_uid(value: object) -> bool:
    """A DICOM UID (PS3.5 9.1): dot-separated numbers without leading zeros, at most 64 characters.
    Checked here rather than by pydicom, whose warning would echo the value into the log."""
    return isinstance(value, str) and len(value) <= 64 and UID_PATTERN.fullmatch(value) is not None


def derived_uid(*parts: str) -> str:
    """A UID derived from ``parts``: ``2.25.`` and a name-based UUID as an integer (PS3.5 B.2); the
    same parts give the same UID, other parts another."""
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, chr(31).join(parts)).int}"


@dataclass(frozen=True)
class SourceImage:
    """The referenced image and the working frame's place in it (plain data)."""

    kind: Literal["dicom", "secondary_capture"]
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    rows: int
    cols: int
    scale: float  # original pixels per working pixel
    pad_x: float  # padding on the left, original pixels
    pad_y: float
    modality: str = "OT"
    header: dict[str, str] = field(default_factory=dict)  # KEPT_ATTRIBUTES present in the source
    patient_orientation: tuple[str, ...] = ()  # the source's (row, column) directions; () unknown

    def to_original(self, point: Any) -> tuple[float, float]:
        """A working-frame pixel (x, y) → the source image's continuous (column, row), clipped to it."""
        x = (float(point[0]) + 0.5) * self.scale - self.pad_x
        y = (float(point[1]) + 0.5) * self.scale - self.pad_y
        return min(max(x, 0.0), float(self.cols)), min(max(y, 0.0), float(self.rows))

    def to_original_array(self, points: Any) -> np.ndarray:
        return np.array([self.to_original(p) for p in points], dtype=np.float32).reshape(-1, 2)

    def reference_dataset(self) -> Dataset:
        """The header a builder needs to reference this image (no pixels): UIDs, size, patient, study."""
        ds = Dataset()
        ds.SOPClassUID = self.sop_class_uid
        ds.SOPInstanceUID = self.sop_instance_uid
        ds.StudyInstanceUID = self.study_uid
        ds.SeriesInstanceUID = self.series_uid
        ds.Modality = self.modality
        ds.Rows, ds.Columns = self.rows, self.cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        for keyword in KEPT_ATTRIBUTES:
            setattr(ds, keyword, self.header.get(keyword, ""))
        return ds


def _frame(rows: int, cols: int, working_size: int) -> tuple[float, float, float]:
    side = max(rows, cols)
    return side / float(working_size), float((side - cols) // 2), float((side - rows) // 2)


def _text(ds: Any, keyword: str) -> str:
    try:
        value = ds.get(keyword)
        return "" if value is None else str(value)[:64]
    except Exception:  # noqa: BLE001 - a malformed optional attribute is left out
        return ""


def dicom_source(data: bytes, limits: UploadLimits, working_size: int) -> SourceImage | None:
    """The source record of a DICOM upload the engine has accepted; None when it is not DICOM or
    its UIDs are missing or malformed (the objects then reference a Secondary Capture)."""
    from orchestrator.imaging import _parse_dicom  # the bounded parse (deflate limit) uploads get

    if sniff_format(data, None) != "dicom":
        return None
    ds = _parse_dicom(data, limits)
    uids = [_text(ds, k) for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")]
    if not all(valid_uid(u) for u in uids):
        return None
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except Exception:  # noqa: BLE001
        return None
    scale, pad_x, pad_y = _frame(rows, cols, working_size)
    header = {k: _text(ds, k) for k in KEPT_ATTRIBUTES if k in ds}
    orientation = dicom_film_tags(ds).get("patient_orientation") or ()
    if len(orientation) != 2 or not all(o and set(o) <= set("APRLHF") for o in orientation):
        orientation = ()
    return SourceImage("dicom", *uids, rows, cols, scale, pad_x, pad_y, modality=_text(ds, "Modality") or "OT",
                       header=header, patient_orientation=tuple(orientation))


def secondary_capture_source(session_id: str, image_size: tuple[int, int]) -> SourceImage:
    """The record of the Secondary Capture Hilum makes of a session's film (new UIDs, derived from
    the session id so that every object of the session references the same image)."""
    rows, cols = int(image_size[0]), int(image_size[1])
    now = datetime.datetime.now(datetime.UTC)
    return SourceImage(
        "secondary_capture", SECONDARY_CAPTURE_SOP_CLASS, derived_uid(session_id, "sc-instance"),
        derived_uid(session_id, "study"), derived_uid(session_id, "sc-series"), rows, cols, 1.0, 0.0, 0.0,
        modality="OT", patient_orientation=("L", "F"), header={"PatientID": f"HILUM-{session_id[:16]}", "StudyID": "HILUM",
                               "StudyDate": now.strftime("%Y%m%d"), "StudyTime": now.strftime("%H%M%S")},
    )


def secondary_capture_image(source: SourceImage, display_png: bytes) -> Dataset:
    """The Secondary Capture image itself: the session's film as Hilum read it (8-bit, working size)."""
    from highdicom.sc import SCImage
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(display_png)).convert("L"), dtype=np.uint8)
    if pixels.shape != (source.rows, source.cols):
        raise ValueError("the session's film does not have the recorded size")
    sc = SCImage(
        pixel_array=pixels, photometric_interpretation="MONOCHROME2", bits_allocated=8,
        coordinate_system="PATIENT", study_instance_uid=source.study_uid, series_instance_uid=source.series_uid,
        series_number=900, sop_instance_uid=source.sop_instance_uid, instance_number=1,
        manufacturer=MANUFACTURER, patient_id=source.header.get("PatientID", ""), patient_name="",
        patient_sex=None, study_id=source.header.get("StudyID"), study_date=source.header.get("StudyDate"),
        study_time=source.header.get("StudyTime"),
        patient_orientation=("L", "F"),  # standard PA display: the patient's left to the right, feet down
    )
    sc.SeriesDescription = "Film as read by Hilum (secondary capture)"
    sc.ImageComments = ("Made by Hilum from an upload that was not DICOM (or whose DICOM header is not "
                        "kept here); new UIDs, not the original film")
    sc.BodyPartExamined = "CHEST"
    sc.BurnedInAnnotation = "NO"
    sc.ConversionType = "WSD"
    return sc
