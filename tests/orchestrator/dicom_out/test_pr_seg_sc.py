"""The overlay as a presentation state, the lesion masks as a segmentation, and the Secondary Capture
that results reference when the upload was not DICOM: dciodvfy passes each; what was drawn reads back."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from orchestrator.dicom_out.objects import NoSuchDicomObjectError, encode
from orchestrator.dicom_out.pr import build_pr
from orchestrator.dicom_out.seg import build_seg
from orchestrator.dicom_out.source import secondary_capture_image, secondary_capture_source
from orchestrator.dicom_out.sr import build_sr
from orchestrator.ontology.loader import load_ontology

from .conftest import Case, dciodvfy


def _read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def test_presentation_state_draws_outlines_labels_and_distances(dicom_case: Case, tmp_path: Path) -> None:
    data = encode(build_pr(dicom_case.content, dicom_case.source))
    verdict = dciodvfy(data, tmp_path)
    assert verdict.iod == "GrayscaleSoftcopyPresentationState"
    assert verdict.errors == [], "\n".join(verdict.lines)
    pr = _read(data)
    src, report = dicom_case.source, dicom_case.content.report
    assert pr.StudyInstanceUID == src.study_uid
    ref = pr.ReferencedSeriesSequence[0]
    assert ref.SeriesInstanceUID == src.series_uid
    assert ref.ReferencedImageSequence[0].ReferencedSOPInstanceUID == src.sop_instance_uid
    layers = {a.GraphicLayer: a for a in pr.GraphicAnnotationSequence}
    outlines = layers["FINDINGS"].GraphicObjectSequence
    assert len(outlines) == len(report["findings"])
    for f, obj in zip(report["findings"], outlines, strict=True):
        pts = np.asarray(obj.GraphicData, dtype=float).reshape(-1, 2)
        polygon = next(a for a in report["anchors"] if a["id"] == f["anchor_id"])["polygon_px"]
        assert np.allclose(pts[0], src.to_original(polygon[0]), atol=0.01) and np.allclose(pts[0], pts[-1])
    labels = [t.UnformattedTextValue for t in layers["FINDINGS"].TextObjectSequence]
    assert all(any(x.startswith(f["anchor_id"]) and f"{f['diameter_mm']:.1f} mm" in x for x in labels)
               for f in report["findings"])
    distances = [t.UnformattedTextValue for t in layers["MEASUREMENTS"].TextObjectSequence]
    for m in report["measurements"]:
        if m.get("from_px"):
            assert f"{m['mm']:.1f} mm" in distances
    assert layers["NOTE"].TextObjectSequence[0].UnformattedTextValue.endswith(("not a diagnosis", "不构成诊断"))


def test_presentation_state_draws_each_object_set_aside_as_a_box_said_not_a_finding(
        dicom_case: Case, tmp_path: Path) -> None:
    """A region set aside from the findings (an electrode, a generator's can) is drawn on PACS as on the page: its
    box, in the source image's pixels, and a label saying it is not a finding; a film with none has no such layer."""
    assert "OBJECTS" not in {a.GraphicLayer for a in _read(encode(build_pr(dicom_case.content,
                                                                            dicom_case.source))).GraphicAnnotationSequence}
    obj = {"center_px": [300.0, 120.0], "bbox_px": [280.0, 100.0, 330.0, 140.0], "diameter_mm": 30.0,
           "side": "left", "zone": "upper", "look": "large"}
    content = replace(dicom_case.content, report={**dicom_case.content.report, "objects_set_aside": [obj]})
    data = encode(build_pr(content, dicom_case.source))
    verdict = dciodvfy(data, tmp_path)
    assert verdict.errors == [], "\n".join(verdict.lines)
    layers = {a.GraphicLayer: a for a in _read(data).GraphicAnnotationSequence}
    box = np.asarray(layers["OBJECTS"].GraphicObjectSequence[0].GraphicData, dtype=float).reshape(-1, 2)
    src = dicom_case.source
    assert np.allclose(box[0], src.to_original((280.0, 100.0)), atol=0.01)
    assert np.allclose(box[2], src.to_original((330.0, 140.0)), atol=0.01) and np.allclose(box[0], box[-1])
    label = layers["OBJECTS"].TextObjectSequence[0].UnformattedTextValue
    assert label == ("未计为病灶" if content.lang == "zh" else "set aside, not a finding")
    assert layers["NOTE"].TextObjectSequence[0].UnformattedTextValue.endswith(("not a diagnosis", "不构成诊断"))


@pytest.mark.parametrize(("stated", "named"), [(True, "calcified nodule"), (False, "nodule")])
def test_presentation_state_names_a_calcified_nodule_so_only_where_the_answers_state_it(
        dicom_case: Case, stated: bool, named: str) -> None:
    """The label on PACS says no more than the text: a calcification the answers cannot judge (its probability, held
    to the finding's presence, under the threshold) is not named in it."""
    f = {**dicom_case.content.report["findings"][0], "kind": "calcified_nodule", "calcified": True, "diameter_mm": 9.0,
         "named_kind": "calcified_nodule" if stated else "nodule"}  # as finding_dict names it (calibration.stated_kind)
    content = replace(dicom_case.content, report={**dicom_case.content.report, "findings": [f]})
    layers = {a.GraphicLayer: a for a in _read(encode(build_pr(content, dicom_case.source))).GraphicAnnotationSequence}
    (label,) = [t.UnformattedTextValue for t in layers["FINDINGS"].TextObjectSequence]
    approx = "≈" if content.spacing_source != "dicom" else ""
    assert label == f"{f['anchor_id']} {named} {approx}9.0 mm", label


def test_segmentation_masks_cover_each_finding_centre(dicom_case: Case, tmp_path: Path) -> None:
    data = encode(build_seg(dicom_case.content, dicom_case.source))
    verdict = dciodvfy(data, tmp_path)
    assert verdict.iod == "Segmentation"
    assert verdict.errors == [], "\n".join(verdict.lines)
    seg = hd.seg.Segmentation.from_dataset(_read(data))
    findings = dicom_case.content.report["findings"]
    assert seg.number_of_segments == len(findings)
    src = dicom_case.source
    masks = seg.get_pixels_by_source_instance([src.sop_instance_uid])  # (1, rows, cols, segments)
    assert masks.shape[1:3] == (src.rows, src.cols)
    for i, f in enumerate(findings):
        x, y = src.to_original(f["center_px"])
        assert masks[0, int(y), int(x), i] == 1
        assert 0 < masks[..., i].sum() < 0.05 * src.rows * src.cols


def test_the_segmentation_is_the_same_bytes_whenever_it_is_built(dicom_case: Case) -> None:
    """Its UID derives from the session and turn count, so its dates must too: built from the clock, two fetches a
    second apart gave different bytes under one UID (a re-push sent a PACS a changed object it already held)."""
    import time

    first = encode(build_seg(dicom_case.content, dicom_case.source))
    time.sleep(1.1)
    again = encode(build_seg(dicom_case.content, dicom_case.source))
    assert first == again and _read(first).InstanceCreationTime == _read(first).ContentTime


def test_no_segmentation_without_a_finding(dicom_case: Case) -> None:
    report = {**dicom_case.content.report, "findings": []}
    with pytest.raises(NoSuchDicomObjectError):
        build_seg(replace(dicom_case.content, report=report), dicom_case.source)


def test_secondary_capture_for_a_film_that_was_not_dicom(dicom_case: Case, tmp_path: Path) -> None:
    """The film as Hilum read it, with new UIDs; SR and PR then reference it, in its study."""
    content = dicom_case.content
    source = secondary_capture_source(content.session_id, content.image_size)
    sc = encode(secondary_capture_image(source, content.display_png))
    assert dciodvfy(sc, tmp_path, "sc.dcm").errors == []
    ds = _read(sc)
    assert ds.SOPInstanceUID == source.sop_instance_uid != dicom_case.source.sop_instance_uid
    assert (ds.Rows, ds.Columns) == content.image_size and "secondary capture" in ds.SeriesDescription.lower()
    sr = encode(build_sr(content, source, load_ontology()))
    assert dciodvfy(sr, tmp_path, "sr.dcm").errors == []
    parsed = _read(sr)
    assert parsed.StudyInstanceUID == source.study_uid
    texts = [item.TextValue for item in parsed.ContentSequence[-1].ContentSequence]
    assert any("Secondary Capture" in x for x in texts)
    pr = encode(build_pr(content, source))
    assert dciodvfy(pr, tmp_path, "pr.dcm").errors == []
    ref = _read(pr).ReferencedSeriesSequence[0].ReferencedImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == source.sop_instance_uid
