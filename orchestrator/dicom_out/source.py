"""The image Hilum's DICOM results point at, and how working-frame pixels map onto it.

A session's coordinates live in the working frame (the film padded to a square and resized to
``image_size``: ``orchestrator/contracts/preprocess.py``). DICOM results must reference the **original** image:

- an upload that was DICOM: its own SOP Class / SOP Instance / Study / Series UIDs and its
  Rows × Columns, kept on the session (``SessionState.source``, set by the dialogue engine when
  it made the session, so that every replica, gRPC-made sessions and sessions that outlive a
  restart in Redis have it), and the session's ``frame`` (the working frame's scale and padding,
  as ``orchestrator.contracts.preprocess.to_working_size`` made them);
- a PNG/JPEG upload (or a DICOM without valid UIDs, or a session stored before sources were kept):
  Hilum wraps the film as it read it (the session's working-size display PNG) as a Secondary
  Capture image with new UIDs, and every object built on it says so.

Coordinates: DICOM's SCOORD (PS3.3 C.18.6.1.2) and presentation-state PIXEL units put the top-left
corner of the top-left pixel at (0, 0) and its centre at (0.5, 0.5). ``cv2.resize`` aligns pixel
centres, so a working pixel index ``x`` maps to ``(x + 0.5) × scale − pad`` in that continuous frame
(the DESIGN.md rule ``original = working × scale − pad``, taken at pixel centres).

PHI: a DICOM source keeps only the patient and study attributes a result needs to be filed in the
same patient's study (``KEPT_ATTRIBUTES``), in the session store, for the objects returned to the
same tenant; they are never logged and never part of a JSON response.

Those attributes come from the upload as it was read, whatever it carried: before they are copied into
an object each is made a valid value of its VR (``header_value``, PS3.5 6.2): control characters (CR, LF,
BEL, NUL, ESC: the value is decoded text, with no code extension to announce) and the multiplicity
separator become a space, text is cut to its VR's length, and a date, time or code string that is not
one is left empty, so that ``dciodvfy`` finds no error the upload brought in.
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

from orchestrator.control_chars import without_controls
from orchestrator.imaging import SOURCE_HEADER_ATTRIBUTES, valid_uid

SECONDARY_CAPTURE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"
# what a result needs to be filed beside its source (PS3.3 Patient, General Study modules): the
# only header attributes a session keeps from a DICOM upload (``orchestrator/imaging.py``)
KEPT_ATTRIBUTES: tuple[str, ...] = SOURCE_HEADER_ATTRIBUTES
__all__ = ["KEPT_ATTRIBUTES", "SourceImage", "derived_uid", "header_value", "secondary_capture_image",
           "secondary_capture_source", "session_source", "valid_uid"]
MANUFACTURER = "Hilum"
MODEL = "Hilum dialogue engine"
SOFTWARE_VERSION = "0.1.0"


UID_NAMESPACE = uuid.UUID("8a2f5c1e-3b7d-4e0a-9c61-4d2b7e9f0a13")  # Hilum's, for name-based UUIDs

# PS3.5 6.2: the longest value of each text VR (characters; PN: per component group)
VR_MAX_CHARS = {"AE": 16, "CS": 16, "LO": 64, "PN": 64, "SH": 16, "LT": 10240, "ST": 1024, "UT": 1 << 20}
_DA = re.compile(r"\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
_TM = re.compile(r"([01]\d|2[0-3])([0-5]\d(([0-5]\d|60)(\.\d{1,6})?)?)?")  # HH, HHMM, HHMMSS, HHMMSS.F
_CS = re.compile(r"[A-Z0-9 _]*")
ENUMERATED = {"PatientSex": frozenset({"M", "F", "O"})}  # a CS whose values the standard enumerates


def _vr(keyword: str) -> str:
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    tag = tag_for_keyword(keyword)
    return dictionary_VR(tag) if tag is not None else "LO"


def header_value(keyword: str, value: object) -> str:
    """``value`` as a valid value of ``keyword``'s VR: control characters and backslashes (the value
    multiplicity separator) become a space; LO / SH / PN cut to their length (a name per component group,
    at most five components); a DA, TM or CS that is not one (Patient's Sex: M, F or O) is empty (Type 2:
    known to be unknown). Never raises, never logs the value."""
    vr = _vr(keyword)
    text = without_controls(str(value)).replace("\\", " ").strip()
    if vr == "DA":
        return text if _DA.fullmatch(text) else ""
    if vr == "TM":
        return text if _TM.fullmatch(text) else ""
    if vr == "CS":
        text = text.upper()
        if keyword in ENUMERATED:
            return text if text in ENUMERATED[keyword] else ""
        return text[:VR_MAX_CHARS["CS"]].rstrip() if _CS.fullmatch(text) else ""
    if vr == "PN":
        groups = ["^".join(part.strip() for part in group.split("^")[:5])[:VR_MAX_CHARS["PN"]].rstrip(" ^")
                  for group in text.split("=")[:3]]
        return "=".join(groups).rstrip("=")
    return text[:VR_MAX_CHARS.get(vr, 64)].rstrip()


def header_values(header: dict[str, str]) -> dict[str, str]:
    """Each of ``header``'s attributes through ``header_value``."""
    return {keyword: header_value(keyword, value) for keyword, value in header.items()}


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


def session_source(session_id: str, image_size: tuple[int, int], source: Any, frame: Any,
                   created_at: float | None = None) -> SourceImage:
    """The image a session's results reference: its DICOM upload, from the session's ``source``
    record (``orchestrator.dialogue.session.SourceRecord``) and ``frame``; else a Secondary Capture
    of its film (a PNG/JPEG upload, a DICOM without valid UIDs, a session stored before sources
    were kept)."""
    ref = getattr(source, "dicom", None)
    if ref is None or frame is None or not all(valid_uid(u) for u in (
            ref.sop_class_uid, ref.sop_instance_uid, ref.study_uid, ref.series_uid)):
        return secondary_capture_source(session_id, image_size, created_at)
    return SourceImage("dicom", ref.sop_class_uid, ref.sop_instance_uid, ref.study_uid, ref.series_uid,
                       int(ref.rows), int(ref.cols), float(frame.scale), float(frame.pad_px[0]),
                       float(frame.pad_px[1]), modality=header_value("Modality", ref.modality or "") or "OT",
                       header=header_values(ref.header_dict()),
                       patient_orientation=tuple(ref.patient_orientation))


def secondary_capture_source(session_id: str, image_size: tuple[int, int],
                             created_at: float | None = None) -> SourceImage:
    """The record of the Secondary Capture Hilum makes of a session's film (new UIDs, derived from
    the session id, and the study date and time the session's creation, so that every object of the
    session references the same image)."""
    rows, cols = int(image_size[0]), int(image_size[1])
    now = (datetime.datetime.fromtimestamp(created_at, datetime.UTC) if created_at
           else datetime.datetime.now(datetime.UTC))
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
