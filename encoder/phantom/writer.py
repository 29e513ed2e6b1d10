"""A phantom case (:class:`PhantomCase`) and its files on disk: ``image.png`` (8-bit display),
``image.dcm`` (16-bit DX, MONOCHROME2, ImagerPixelSpacing, synthetic patient), ``anatomy.npz``
and ``truth.json``; and back. The record lives here, with its file format, so that
``encoder.phantom.case`` (which makes cases) imports this module and never the reverse.

``image.dcm`` is a Digital X-Ray Image - For Presentation (PS3.3 A.26) of a PA chest that
``dciodvfy`` (dicom3tools) validates with no errors: the DX Anatomy Imaged (SNOMED CT "Chest",
laterality U), DX Image (LOG intensity, sign -1: brighter is less beam, i.e. denser; identity
rescale and Presentation LUT), DX Detector, DX Positioning (PA, with its SNOMED view code) and
an empty Acquisition Context. Type 2 attributes the phantom cannot know (detector and positioner
type) are present and empty, as the standard allows.

Files are byte-identical for the same case: the DICOM UIDs derive from the seed, dates are
fixed, the npz members carry zip's fixed default timestamp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from encoder.anatomy_classes import ANATOMY_CLASSES

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

UID_ROOT = "1.2.826.0.1.3680043.10.1384."  # pydicom-style root for synthetic objects
STUDY_DATE = "20000101"
# (code value, coding scheme, meaning): CID 4009 DX Anatomy Imaged and CID 4010 DX View
CHEST_CODE = ("51185008", "SCT", "Chest")
PA_VIEW_CODE = ("272479007", "SCT", "postero-anterior")  # DICOM CID 4010 (399348003 is antero-posterior)


@dataclass(frozen=True, eq=False)
class PhantomCase:
    """One phantom film and its truth, as ``encoder.phantom.case.generate_case`` makes it and
    :func:`load_case` reads it back; :meth:`write` puts it on disk (:func:`write_case`)."""

    image: np.ndarray  # float32 (H, W) = image.png / 255
    image_u16: np.ndarray  # uint16 (H, W), MONOCHROME2
    masks: np.ndarray  # bool (C, H, W), ANATOMY_CLASSES order
    lesion_mask: np.ndarray  # bool (H, W)
    hilum_px: dict[str, tuple[float, float]]
    pixel_spacing_mm: tuple[float, float]
    truth: dict[str, Any] = field(default_factory=dict)
    # bool (H, W): where ``CaseSpec.devices`` drew a device (None: the spec draws none); for training only, never
    # written (the truth lists the devices)
    device_mask: np.ndarray | None = None

    def write(self, out_dir: Path) -> None:
        write_case(self, Path(out_dir))


def _uid(seed: int, what: str) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=UID_ROOT, entropy_srcs=[f"hilum-phantom-{seed}-{what}"]))


def _code(value: tuple[str, str, str]) -> Dataset:
    """One code sequence item: (CodeValue, CodingSchemeDesignator, CodeMeaning)."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value
    return item


def write_dicom(case: PhantomCase, path: Path) -> None:
    earlier = case.truth.get("earlier_film_of")  # the same patient's earlier film: its own study, its own date
    write_dx(case.image_u16, case.pixel_spacing_mm, int(earlier if earlier is not None else case.truth.get("seed", 0)),
             path, study_date=str(case.truth.get("study_date") or STUDY_DATE), study=f"earlier-{case.truth['seed']}"
             if earlier is not None else "")


def write_dx(image_u16: np.ndarray, spacing_mm: tuple[float, float], seed: int, path: Any, *,
             study_date: str = STUDY_DATE, study: str = "") -> None:
    """A DX (For Presentation) file of ``image_u16`` at ``spacing_mm`` (row, column), the patient and UIDs from
    ``seed`` (``study``: another study of that patient, UIDs of its own), dated ``study_date`` (YYYYMMDD);
    ``path``: a file name or a binary file object."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image - For Presentation
    meta.MediaStorageSOPInstanceUID = _uid(seed, study + "sop")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID_ROOT + "1"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = _uid(seed, study + "study")
    ds.SeriesInstanceUID = _uid(seed, study + "series")
    ds.Modality = "DX"
    ds.PatientName = f"PHANTOM^{seed}"
    ds.PatientID = f"PHANTOM-{seed:08d}"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "000000"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "Hilum phantom (synthetic)"
    ds.BodyPartExamined = "CHEST"
    ds.AnatomicRegionSequence = Sequence([_code(CHEST_CODE)])
    ds.ImageLaterality = "U"  # the chest is an unpaired part
    ds.ViewPosition = "PA"
    ds.ViewCodeSequence = Sequence([_code(PA_VIEW_CODE)])
    ds.ViewCodeSequence[0].ViewModifierCodeSequence = Sequence()
    ds.PositionerType = ""  # type 2: a simulated projection has no positioner to name
    ds.DetectorType = ""  # type 2: nor a detector
    ds.AcquisitionContextSequence = Sequence()
    ds.PatientOrientation = ["L", "F"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PixelIntensityRelationship = "LOG"  # brightness follows the attenuation line integral
    ds.PixelIntensityRelationshipSign = -1  # higher values: less X-ray beam intensity (denser)
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(v) for v in image_u16.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.ImagerPixelSpacing = [f"{spacing_mm[0]:.6f}", f"{spacing_mm[1]:.6f}"]
    ds.PixelSpacing = ds.ImagerPixelSpacing
    ds.WindowCenter = "32768"
    ds.WindowWidth = "65536"
    ds.PixelData = np.ascontiguousarray(image_u16, dtype="<u2").tobytes()
    ds.save_as(path if hasattr(path, "write") else str(path), enforce_file_format=True)


def write_case(case: PhantomCase, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    png = np.rint(case.image * 255.0).astype(np.uint8)
    cv2.imwrite(str(out_dir / "image.png"), png)
    write_dicom(case, out_dir / "image.dcm")
    hilum = np.array([case.hilum_px["right"], case.hilum_px["left"]], dtype=np.float32)
    np.savez_compressed(out_dir / "anatomy.npz", masks=case.masks.astype(np.uint8),
                        class_names=np.array(ANATOMY_CLASSES), hilum_px=hilum,
                        lesion=case.lesion_mask.astype(np.uint8))
    (out_dir / "truth.json").write_text(json.dumps(case.truth, indent=1, sort_keys=False) + "\n")


def load_case(case_dir: Path) -> PhantomCase:
    """Read a written case back (image from the PNG, 16-bit pixels from the DICOM)."""
    import pydicom

    case_dir = Path(case_dir)
    png = cv2.imread(str(case_dir / "image.png"), cv2.IMREAD_GRAYSCALE)
    if png is None:
        raise FileNotFoundError(case_dir / "image.png")
    truth = json.loads((case_dir / "truth.json").read_text())
    with np.load(case_dir / "anatomy.npz") as z:
        names = [str(n) for n in z["class_names"]]
        masks = z["masks"].astype(bool)
        order = [names.index(c) for c in ANATOMY_CLASSES]
        masks = masks[order]
        hil = z["hilum_px"].astype(float)
        lesion = z["lesion"].astype(bool)
    u16 = pydicom.dcmread(str(case_dir / "image.dcm")).pixel_array.astype(np.uint16)
    sp = truth["pixel_spacing_mm"]
    return PhantomCase(image=png.astype(np.float32) / 255.0, image_u16=u16, masks=masks, lesion_mask=lesion,
                       hilum_px={"right": (float(hil[0, 0]), float(hil[0, 1])),
                                 "left": (float(hil[1, 0]), float(hil[1, 1]))},
                       pixel_spacing_mm=(float(sp[0]), float(sp[1])), truth=truth)
