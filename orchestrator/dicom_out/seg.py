"""The lesion masks as a DICOM Segmentation (binary, one segment per finding) on the source image.

Each finding's outline is filled in the source image's pixel grid (``source.py`` maps the working
frame onto it). Optional beside the presentation state: fewer viewers show a SEG, but it is what
a downstream tool that measures or trains on masks reads. A session without a finding has no
segmentation (404, ``no_such_dicom_object``)."""

from __future__ import annotations

import cv2
import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from orchestrator.dicom_out import codes as c
from orchestrator.dicom_out.content import SessionContent
from orchestrator.dicom_out.objects import NoSuchDicomObjectError
from orchestrator.dicom_out.source import MANUFACTURER, MODEL, SOFTWARE_VERSION, SourceImage, derived_uid
from orchestrator.dicom_out.sr import stamp

SEG_SERIES_NUMBER = 903
ABNORMAL_STRUCTURE = hd.sr.CodedConcept("49755003", "SCT", "Morphologically abnormal structure")


def _mask(points: list[list[float]], source: SourceImage) -> np.ndarray:
    mask = np.zeros((source.rows, source.cols), dtype=np.uint8)
    outline = source.to_original_array(points) - 0.5  # continuous frame → pixel indices
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1)
    return mask


def build_seg(content: SessionContent, source: SourceImage) -> Dataset:
    masks, descriptions = [], []
    algorithm = hd.AlgorithmIdentificationSequence(name=MODEL, version=SOFTWARE_VERSION,
                                                   family=hd.sr.CodedConcept("123109", "DCM", "Artificial Intelligence"))
    for f in content.report.get("findings", ()) if content.localisable else ():
        anchor = content.anchor(str(f.get("anchor_id", ""))) or {}
        points = anchor.get("polygon_px") or []
        if len(points) < 3:
            continue
        mask = _mask(points, source)
        if not mask.any():
            continue
        masks.append(mask)
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=len(masks), segment_label=f"{f.get('anchor_id', '')} {f.get('kind', '')}".strip()[:64],
            segmented_property_category=ABNORMAL_STRUCTURE, segmented_property_type=c.finding_type(str(f.get("kind"))),
            algorithm_type="AUTOMATIC", algorithm_identification=algorithm,
            tracking_uid=derived_uid(content.session_id, "finding", str(f.get("id"))), tracking_id=str(f.get("id")),
        ))
    if not masks:
        raise NoSuchDicomObjectError("this session has no finding outline to segment")
    pixels = np.stack(masks, axis=-1)[None]  # (frames=1, rows, cols, segments)
    n = max(1, content.turn_count)
    seg = hd.seg.Segmentation(
        source_images=[source.reference_dataset()], pixel_array=pixels, segmentation_type="BINARY",
        segment_descriptions=descriptions, series_instance_uid=derived_uid(content.session_id, "seg-series"),
        series_number=SEG_SERIES_NUMBER, sop_instance_uid=derived_uid(content.session_id, "seg", str(n)),
        instance_number=n, manufacturer=MANUFACTURER, manufacturer_model_name=MODEL,
        software_versions=SOFTWARE_VERSION, device_serial_number="0",
        content_description="Hilum lesion masks (device output, not a diagnosis)", content_label="HILUM_LESIONS",
    )
    # the session's dates and a UID of its own, not the clock and highdicom's random dimension organisation: the
    # same instance UID always names the same bytes (a PACS given it again gets the object it holds)
    stamp(seg, content.created_at)
    dimensions = derived_uid(content.session_id, "seg-dimensions")
    for item in (*(seg.get("DimensionOrganizationSequence") or ()), *(seg.get("DimensionIndexSequence") or ())):
        if "DimensionOrganizationUID" in item:
            item.DimensionOrganizationUID = dimensions
    seg.PatientOrientation = list(source.patient_orientation)  # Type 2C for a source without a frame of reference
    seg.SpecificCharacterSet = "ISO_IR 192"
    seg.SeriesDescription = "Hilum lesion masks (device observations)"
    return seg
