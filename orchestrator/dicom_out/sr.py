"""The session as a DICOM Comprehensive 3D SR following TID 1500 (Measurement Report), with highdicom.

One planar ROI measurement group (TID 1410) per finding: its outline as a SCOORD polyline on the
source image (``source.py`` maps the working frame onto it), the finding type (a radiographic
descriptor, never a diagnosis), site and laterality codes when the film allows them, sizes in mm
(UCUM) with the measurement method saying whether the pixel spacing came from DICOM or was
estimated, the engine's calibrated probability (a numeric "Probability" and a binned "Certainty of
Finding"), margin, shape, density, calcification, cavity and the checklist signs checked on it.
One image-level group (TID 1501) holds the measurements the dialogue made between anchors (with
their two points as SCOORD) and the checklist signs about the film. A Qualitative Evaluations
container holds the text: every turn's question and answer, the spacing note, the source note and
the disclaimer. A session made with an earlier film of the same chest adds what the comparison
established (``report["comparison"]``): per finding its qualitative difference (CID 6134: increase or
decrease in size, no significant change; "new finding" for one the earlier film did not show), the
difference in size in mm (CID 6133) and the volume doubling time where one was given; on the film,
whether a comparison was made and the interval in days. A pair whose sizes the answers do not compare
(read as a strand or a consolidation on either film) carries no difference. The observer is a device
(Hilum), never a person; the document is complete and not verified.
"""

from __future__ import annotations

import datetime
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.sr import (
    CodedConcept,
    ContainerContentItem,
    ContentSequence,
    FindingSite,
    ImageRegion,
    Measurement,
    QualitativeEvaluation,
    RelationshipTypeValues,
    SourceImageForRegion,
    TextContentItem,
    TrackingIdentifier,
)
from pydicom.dataset import Dataset

from orchestrator.control_chars import without_controls
from orchestrator.dialogue.interval_answer import comparison_caveats
from orchestrator.dicom_out import codes as c
from orchestrator.dicom_out.content import SessionContent
from orchestrator.dicom_out.source import MANUFACTURER, MODEL, SOFTWARE_VERSION, SourceImage, derived_uid
from orchestrator.findings.interval import comparison_from_dict
from orchestrator.ontology.loader import Ontology

SR_SERIES_NUMBER = 901
UT_CONTROLS = "\t\n\r\f"  # the control characters a UT value may carry (PS3.5 6.2), ESC aside
SCREENING_QUESTION = {"zh": "(自动筛查)", "en": "(automatic screening)"}
SPACING_NOTES = {
    "dicom": "Measurements in mm use the pixel spacing from the DICOM header.",
    "estimated": "ESTIMATED SPACING: the film carries no usable pixel spacing; measurements in mm use a spacing "
                 "estimated from the anatomy and are approximate.",
}
ADULT_WIDTH_NOTE = (" The spacing took the lung fields as an adult's chest, {cm:.1f} cm across: on a child's film the "
                    "measurements are too large.")
SOURCE_NOTE = ("The referenced image is a Secondary Capture made by Hilum of the film as it read it "
               "(new UIDs): the upload was not DICOM, or its DICOM header is not kept here.")


def _region_image(source: SourceImage) -> SourceImageForRegion:
    return SourceImageForRegion(source.sop_class_uid, source.sop_instance_uid)


def _outline(points: list[Any], source: SourceImage) -> tuple[str, np.ndarray]:
    """A closed polyline in the source image's frame (a point when the outline is degenerate)."""
    arr = source.to_original_array(points)
    if len(arr) < 3:
        return "POINT", arr[:1]
    if not np.array_equal(arr[0], arr[-1]):
        arr = np.vstack([arr, arr[:1]])
    return "POLYLINE", arr


def _mm(name: CodedConcept, value: Any, method: CodedConcept, unit: CodedConcept = c.MM,
        **kwargs: Any) -> Measurement | None:
    if value is None:
        return None
    return Measurement(name=name, value=round(float(value), 2), unit=unit, method=method, **kwargs)


def _sites(f: dict[str, Any]) -> list[FindingSite]:
    """Its lobe, as the answers name it: the lung alone where lobes overlap there (the answers call the lobe an
    estimate), the pleural cavity for an effusion (fluid is in no lobe)."""
    laterality = c.LATERALITY.get(str(f.get("side"))) if f.get("side_confirmed", True) else None
    if f.get("kind") == "effusion":
        return [FindingSite(c.PLEURAL_CAVITY, laterality=laterality)]
    lobe = None if f.get("lobe_overlap") else c.LOBES.get(str(f.get("lobe")))
    return [FindingSite(lobe or c.LUNG, laterality=laterality)]


def _checklist_evaluations(checklist: dict[str, Any], ontology: Ontology) -> list[QualitativeEvaluation]:
    name = str(checklist.get("name", ""))
    return [QualitativeEvaluation(c.item_concept(name, str(item["sign"]), ontology), c.STATUS[item["status"]])
            for item in checklist.get("items", ()) if item.get("status") in c.STATUS]


def named_kind(f: dict[str, Any]) -> str:
    """The finding's kind as the answers name it (``named_kind``: a calcification or a cavity only where stated; a
    report from before it: the reading's ``kind``)."""
    return str(f.get("named_kind") or f.get("kind", ""))


def _finding_evaluations(f: dict[str, Any]) -> list[QualitativeEvaluation]:
    out = [QualitativeEvaluation(c.CERTAINTY, c.certainty(float(f.get("confidence", 0.0))))]
    if f.get("kind") == "effusion":  # fluid: no margin, shape or lesion contents are read on it (as the answers say)
        return out
    # a reading the answers do not state flatly (``stated``: "not seen at this resolution", "cannot be judged") is
    # left out, so that the report says no more than the dialogue did
    stated = f.get("stated") or {}
    if f.get("margin") in c.MARGINS and stated.get("margin", True):
        out.append(QualitativeEvaluation(c.MARGIN, c.MARGINS[f["margin"]]))
    if f.get("shape") in c.SHAPES:
        out.append(QualitativeEvaluation(c.SHAPE, c.SHAPES[f["shape"]]))
    if "homogeneous" in f and stated.get("density", True):
        out.append(QualitativeEvaluation(c.HOMOGENEITY, c.HOMOGENEOUS if f["homogeneous"] else c.HETEROGENEOUS))
    if "calcified" in f and stated.get("calcification", True):
        out.append(QualitativeEvaluation(c.CALCIFICATION, c.CALCIFIED if f["calcified"] else c.NON_CALCIFIED))
    if "cavity" in f and stated.get("cavity", True):
        out.append(QualitativeEvaluation(c.CAVITATION, c.PRESENT if f["cavity"] else c.ABSENT))
    if f.get("air_bronchogram") in c.STATUS:
        out.append(QualitativeEvaluation(c.AIR_BRONCHOGRAM, c.STATUS[f["air_bronchogram"]]))
    return out


def _comparison(content: SessionContent) -> dict[str, Any] | None:
    """The comparison with an earlier film, where one was made (None: no earlier film, or one that could not be
    compared with this film)."""
    comparison = content.report.get("comparison")
    return comparison if isinstance(comparison, dict) and comparison.get("comparable") else None


def _change_of(content: SessionContent, finding_id: Any) -> dict[str, Any] | None:
    comparison = _comparison(content) or {}
    return next((ch for ch in comparison.get("changes") or () if ch.get("finding_id") == finding_id), None)


def _change_items(change: dict[str, Any] | None, method: CodedConcept, coarse: bool = False
                  ) -> tuple[list[Measurement], list[QualitativeEvaluation]]:
    """What the comparison says of one finding, as the answers say it: a difference only where it was measured on
    films fine enough to measure it (``coarse``: "a reason to compare the films, not a measurement to act on") and
    against an earlier reading that was more than a "possibly"; the doubling time with its range."""
    if change is None or change.get("status") not in c.CHANGES or coarse or change.get("earlier_uncertain"):
        return [], []
    evaluations = [QualitativeEvaluation(c.QUALITATIVE_DIFFERENCE, c.CHANGES[str(change["status"])])]
    fastest, slowest = (list(change.get("doubling_days_range") or ()) + [None, None])[:2]
    measurements = [m for m in (
        _mm(c.SIZE_DIFFERENCE, change.get("change_mm"), method),
        _mm(c.DOUBLING_TIME, change.get("doubling_days"), method, c.DAY),
        _mm(c.DOUBLING_TIME_FASTEST, fastest, method, c.DAY) if change.get("doubling_days") is not None else None,
        _mm(c.DOUBLING_TIME_SLOWEST, slowest, method, c.DAY) if change.get("doubling_days") is not None else None,
    ) if m is not None]
    return measurements, evaluations


def _finding_group(content: SessionContent, f: dict[str, Any], source: SourceImage, method: CodedConcept,
                   checklists: list[dict[str, Any]], ontology: Ontology
                   ) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations | None:
    anchor = content.anchor(str(f.get("anchor_id", "")))
    points = (anchor or {}).get("polygon_px") or [f.get("center_px")]
    if not points or points[0] is None:
        return None
    graphic_type, data = _outline(points, source)
    to_hilum = f.get("distance_to_hilum_mm") if f.get("kind") != "effusion" else None  # fluid has no hilar relation
    measurements = [
        _mm(c.DIAMETER, f.get("diameter_mm"), method), _mm(c.LONG_AXIS, f.get("longest_mm"), method),
        _mm(c.SHORT_AXIS, f.get("shortest_mm"), method), _mm(c.AREA, f.get("area_mm2"), method, c.MM2),
        _mm(c.DISTANCE, to_hilum, method,
            finding_sites=[FindingSite(c.HILUM_OF_LUNG, laterality=c.LATERALITY.get(str(f.get("side"))))]),
        Measurement(name=c.PROBABILITY, value=round(float(f.get("confidence", 0.0)), 3), unit=c.UNITY),
    ]
    evaluations = _finding_evaluations(f)
    coarse = bool((_comparison(content) or {}).get("coarse"))
    change_measurements, change_evaluations = _change_items(_change_of(content, f.get("id")), method, coarse)
    measurements += change_measurements
    evaluations += change_evaluations
    for checklist in checklists:
        if checklist.get("subject_anchor_id") == f.get("anchor_id"):
            evaluations += _checklist_evaluations(checklist, ontology)
    label = f"{f.get('anchor_id', '')} {f.get('id', '')} {named_kind(f)}".strip()
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=derived_uid(content.session_id, "finding", str(f.get("id"))),
                                               identifier=label[:64]),
        referenced_region=ImageRegion(graphic_type=graphic_type, graphic_data=data, source_image=_region_image(source)),
        finding_type=c.finding_type(named_kind(f)),
        finding_sites=_sites(f),
        measurements=[m for m in measurements if m is not None],
        qualitative_evaluations=evaluations,
    )


def _image_group(content: SessionContent, source: SourceImage, method: CodedConcept, n_findings: int,
                 checklists: list[dict[str, Any]], ontology: Ontology
                 ) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    measurements = []
    for m in content.report.get("measurements", ()) if content.localisable else ():
        if m.get("mm") is None or not (m.get("from_px") and m.get("to_px")):
            continue
        line = source.to_original_array([m["from_px"], m["to_px"]])
        coords = hd.sr.CoordinatesForMeasurement(graphic_type="POLYLINE", graphic_data=line,
                                                 source_image=_region_image(source))
        name = c.GAP if m.get("kind") == "gap" else c.DISTANCE
        measurements.append(Measurement(name=name, value=round(float(m["mm"]), 2), unit=c.MM, method=method,
                                        referenced_coordinates=[coords]))
    evaluations = []
    if content.report.get("comparison") is not None:  # an earlier film came with this one
        comparison = _comparison(content)
        evaluations.append(QualitativeEvaluation(c.COMPARED_WITH_PRIOR, c.YES if comparison else c.NO))
        if comparison and comparison.get("interval_days") is not None:
            measurements.append(Measurement(name=c.INTERVAL, value=int(comparison["interval_days"]), unit=c.DAY))
    if not content.localisable:
        evaluations.append(QualitativeEvaluation(c.DETECTION, c.INDETERMINATE))
    elif n_findings == 0:
        evaluations.append(QualitativeEvaluation(c.DETECTION, c.ABSENT))  # none detected by the device
    finding_anchors = {f.get("anchor_id") for f in content.report.get("findings", ())}
    for checklist in checklists:
        if checklist.get("subject_anchor_id") not in finding_anchors:
            evaluations += _checklist_evaluations(checklist, ontology)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=derived_uid(content.session_id, "film"), identifier="film"),
        source_images=[hd.sr.SourceImageForMeasurementGroup(source.sop_class_uid, source.sop_instance_uid)],
        measurements=measurements or None, qualitative_evaluations=evaluations or None,
    )


def _comparison_note(content: SessionContent) -> str:
    """What the coded comparison rests on, as the answers say it (``interval_answer.comparison_caveats``), in the
    session's language; an earlier film that could not be compared is said so."""
    raw = content.report.get("comparison")
    if not isinstance(raw, dict):
        return ""
    comparison = comparison_from_dict({**raw, "changes": ()})  # the caveats rest on its own flags, not on its rows
    if comparison is None:
        return ""
    zh = content.lang == "zh"
    if not comparison.comparable:
        return "以前的片子未能与本片对比。" if zh else "The earlier film could not be compared with this one."
    return ("" if zh else " ").join(comparison_caveats(comparison, content.lang))


def _text(name: CodedConcept, value: str) -> TextContentItem:
    """A TEXT item (UT: TAB, LF, CR and FF are its only control characters; a session stored before questions
    with others were refused may still hold one)."""
    return TextContentItem(name=name, value=without_controls(value, keep=UT_CONTROLS),
                           relationship_type=RelationshipTypeValues.CONTAINS)


def _spacing_note(content: SessionContent) -> str:
    """Where the mm came from; an estimate scaled from the lung fields also says the adult width it took."""
    note = SPACING_NOTES.get(content.spacing_source, SPACING_NOTES["estimated"])
    width = content.report.get("image", {}).get("assumed_chest_width_mm") if content.spacing_source != "dicom" else None
    return note + ADULT_WIDTH_NOTE.format(cm=float(width) / 10) if width else note


def _texts(content: SessionContent, source: SourceImage) -> ContainerContentItem:
    container = ContainerContentItem(name=c.QUALITATIVE_EVALUATIONS, relationship_type=RelationshipTypeValues.CONTAINS)
    items = [_text(c.DISCLAIMER, str(content.report.get("disclaimer") or "Image observations, not a diagnosis.")),
             _text(c.SPACING_NOTE, _spacing_note(content)),
             # where a reader at the PACS finds the dialogue to continue it (GET /v1/sessions/{id}, with the tenant's
             # key: the id alone opens nothing); a session the DICOM node made was named only in Hilum's log
             _text(c.SESSION, content.session_id)]
    if source.kind == "secondary_capture":
        items.append(_text(c.SOURCE_NOTE, SOURCE_NOTE))
    note = _comparison_note(content)
    if note:
        items.append(_text(c.COMPARISON_NOTE, note))
    for t in content.report.get("turns", ()):
        question = str(t.get("question") or "") or SCREENING_QUESTION.get(content.lang, SCREENING_QUESTION["en"])
        items.append(_text(c.QUESTION, f"Turn {t.get('turn')}: {question}"))
        items.append(_text(c.ANSWER, f"Turn {t.get('turn')}: {t.get('answer') or ''}"))
    container.ContentSequence = ContentSequence(items)
    return container


def build_sr(content: SessionContent, source: SourceImage, ontology: Ontology) -> Dataset:
    """The Measurement Report; highdicom validates the content tree as it is built."""
    method = c.SPACING_METHODS.get(content.spacing_source, c.SPACING_METHODS["estimated"])
    checklists = list(content.report.get("checklists", ()))
    findings = list(content.report.get("findings", ())) if content.localisable else []
    groups: list[Any] = []
    for f in findings:
        group = _finding_group(content, f, source, method, checklists, ontology)
        if group is not None:
            groups.append(group)
    groups.append(_image_group(content, source, method, len(groups), checklists, ontology))
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=derived_uid("device", MODEL, SOFTWARE_VERSION), name=MANUFACTURER, manufacturer_name=MANUFACTURER,
        model_name=MODEL)
    observation = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=c.DEVICE, observer_identifying_attributes=device))
    language = hd.sr.LanguageOfContentItemAndDescendants(c.LANGUAGES.get(content.lang, c.LANGUAGES["en"]))
    report = hd.sr.MeasurementReport(observation_context=observation, procedure_reported=c.PROCEDURE_CHEST_XRAY,
                                     imaging_measurements=groups, language_of_content_item_and_descendants=language)
    report[0].ContentSequence.append(_texts(content, source))
    n = max(1, content.turn_count)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[source.reference_dataset()], content=report[0],
        series_instance_uid=derived_uid(content.session_id, "sr-series"), series_number=SR_SERIES_NUMBER,
        sop_instance_uid=derived_uid(content.session_id, "sr", str(n)), instance_number=n,
        manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
        performed_procedure_codes=[c.PROCEDURE_CHEST_XRAY],
    )
    finish(sr, "Hilum measurement report (device observations, not a diagnosis)", content.created_at)
    return sr


def stamp(ds: Dataset, created_at: float | None) -> None:
    """Dates and times from the session, not the clock: an instance UID (derived from the session and
    its turn count) then always names the same bytes, whichever route or replica built it, and a
    retried store sends the same object. Without a creation time the builder's own clock stays."""
    if not created_at:
        return
    when = datetime.datetime.fromtimestamp(created_at, datetime.UTC)
    date, time = when.strftime("%Y%m%d"), when.strftime("%H%M%S.%f")
    for prefix in ("InstanceCreation", "Content", "PresentationCreation"):
        if f"{prefix}Date" in ds:
            setattr(ds, f"{prefix}Date", date)
            setattr(ds, f"{prefix}Time", time)
    for item in ds.get("ContributingEquipmentSequence") or ():
        if "ContributionDateTime" in item:
            item.ContributionDateTime = date + time


def finish(ds: Dataset, description: str, created_at: float | None = None) -> None:
    """What every Hilum object carries besides its IOD: UTF-8 text, the device, the private scheme,
    dates from the session (``stamp``)."""
    stamp(ds, created_at)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SeriesDescription = description[:64]
    ds.ManufacturerModelName = MODEL
    ds.SoftwareVersions = SOFTWARE_VERSION
    scheme = Dataset()
    scheme.CodingSchemeDesignator = c.PRIVATE_SCHEME
    scheme.CodingSchemeName = c.PRIVATE_SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    ds.CodingSchemeIdentificationSequence = [scheme]
