"""The TID 1500 Measurement Report: dciodvfy passes it, and highdicom reads back what the session said."""

from __future__ import annotations

import io
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from orchestrator.dicom_out import codes as c
from orchestrator.dicom_out.objects import encode
from orchestrator.dicom_out.sr import build_sr
from orchestrator.ontology.loader import load_ontology

from .conftest import Case, dciodvfy


@pytest.fixture(scope="module")
def sr_bytes(dicom_case: Case) -> bytes:
    return encode(build_sr(dicom_case.content, dicom_case.source, load_ontology()))


@pytest.fixture(scope="module")
def sr(sr_bytes: bytes) -> hd.sr.Comprehensive3DSR:
    return hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(sr_bytes)))


def test_dciodvfy_reports_no_error(sr_bytes: bytes, tmp_path: Path) -> None:
    verdict = dciodvfy(sr_bytes, tmp_path)
    assert verdict.iod == "Comprehensive3DSR"
    assert verdict.errors == [], "\n".join(verdict.lines)


def test_it_is_filed_in_the_source_study_and_references_the_source_image(sr: hd.sr.Comprehensive3DSR,
                                                                          dicom_case: Case) -> None:
    src = dicom_case.source
    assert sr.StudyInstanceUID == src.study_uid and sr.PatientID == src.header["PatientID"]
    assert sr.SeriesInstanceUID != src.series_uid
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == src.series_uid
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == src.sop_instance_uid
    assert "InstitutionName" not in sr and "OtherPatientIDs" not in sr
    assert sr.CompletionFlag == "COMPLETE" and sr.VerificationFlag == "UNVERIFIED"


def test_one_group_per_finding_with_its_values(sr: hd.sr.Comprehensive3DSR, dicom_case: Case) -> None:
    findings = dicom_case.content.report["findings"]
    assert findings, "the scenario film should have findings"
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == len(findings)
    for f, g in zip(findings, groups, strict=True):
        assert g.finding_type == c.finding_type(f["named_kind"])  # as the answers name it
        site = g.finding_sites[0]  # the lobe as the answers name it: the lung alone where lobes overlap there
        assert site.value == (c.LUNG if f["lobe_overlap"] else c.LOBES[f["lobe"]])
        assert site.laterality == c.LATERALITY[f["side"]]
        diameter = g.get_measurements(name=c.DIAMETER)[0]
        assert diameter.value == pytest.approx(f["diameter_mm"], abs=0.01) and diameter.unit == c.MM
        assert diameter.method == c.SPACING_METHODS["dicom"]
        hilum = g.get_measurements(name=c.DISTANCE)[0]
        assert hilum.value == pytest.approx(f["distance_to_hilum_mm"], abs=0.01)
        assert g.get_measurements(name=c.PROBABILITY)[0].value == pytest.approx(f["confidence"], abs=1e-3)
        certainty = g.get_qualitative_evaluations(name=c.CERTAINTY)[0]
        assert certainty.value == c.certainty(f["confidence"])
        margins = [e.value for e in g.get_qualitative_evaluations(name=c.MARGIN)]
        # only a margin the answers state flatly (a smooth one nothing backs is "not seen at this resolution")
        assert margins == ([c.MARGINS[f["margin"]]] if f["stated"]["margin"] else [])
        image = g.roi.ContentSequence[0].ReferencedSOPSequence[0]
        assert image.ReferencedSOPInstanceUID == dicom_case.source.sop_instance_uid


def test_outlines_are_the_anchor_outlines_in_the_original_frame_and_land_on_the_lesion(
        sr: hd.sr.Comprehensive3DSR, dicom_case: Case, phantom_case: Path) -> None:
    """Each outline is its anchor's polygon mapped to the resampled film (x2, 40 columns cropped), and
    the truth's lesion centre (phantom pixels, 512 x 512, placed in that film) lies inside it."""
    import json

    src, content = dicom_case.source, dicom_case.content
    groups = sr.content.get_planar_roi_measurement_groups()
    outlines = []
    for f, g in zip(content.report["findings"], groups, strict=True):
        outline = np.asarray(g.roi.value, dtype=float)
        polygon = content.anchor(f["anchor_id"])["polygon_px"]
        assert np.allclose(outline[:-1], [src.to_original(p) for p in polygon], atol=0.01)
        assert np.allclose(outline[0], outline[-1])
        outlines.append(outline)
    truth = json.loads((phantom_case / "truth.json").read_text())
    landed = 0
    for lesion in truth["lesions"]:
        tx, ty = lesion["center_px"]
        expected = np.array([(tx + 0.5) * 2 - src.pad_x, (ty + 0.5) * 2 - src.pad_y])
        near = [o for o in outlines if np.hypot(*(o[:-1].mean(axis=0) - expected)) < 40]
        if not near:  # this lesion was not found on the film
            continue
        lo, hi = near[0].min(axis=0), near[0].max(axis=0)
        assert (lo <= expected).all() and (expected <= hi).all(), (expected, lo, hi)
        landed += 1
    assert landed >= 1, "no truth lesion was found on the film"


def test_dialogue_measurements_checklist_and_text_come_back(sr: hd.sr.Comprehensive3DSR, dicom_case: Case) -> None:
    report = dicom_case.content.report
    film = sr.content.get_image_measurement_groups()
    assert len(film) == 1
    distances = [m.value for m in film[0].get_measurements(name=c.DISTANCE)]
    expected = [m["mm"] for m in report["measurements"] if m["kind"] == "distance" and m.get("from_px")]
    assert expected and distances == pytest.approx(expected, abs=0.01)
    group = sr.content.get_planar_roi_measurement_groups()[0]
    checklist = report["checklists"][0]
    got = {(e.name.value, e.value.value) for e in group.get_qualitative_evaluations()}
    ontology = load_ontology()
    for item in checklist["items"]:
        assert (c.item_concept(checklist["name"], item["sign"], ontology).value, c.STATUS[item["status"]].value) in got
    spiculation = c.item_concept("early_lung_cancer", "spiculation", ontology)  # "lobulated or spiculated margin"
    assert spiculation.meaning == "lobulated or spiculated margin" and spiculation != c.sign_concept("spiculation",
                                                                                                   ontology)
    texts = [item.TextValue for item in sr.ContentSequence[-1].ContentSequence]
    assert report["disclaimer"] in texts
    for t in report["turns"][1:]:
        assert any(t["question"] in x for x in texts) and any(t["answer"] in x for x in texts)
    assert not any("ESTIMATED" in x for x in texts)
    # the session a reader at the PACS continues: a session the DICOM node made was named only in Hilum's log
    session = [i.TextValue for i in sr.ContentSequence[-1].ContentSequence
               if i.ConceptNameCodeSequence[0].CodeValue == c.SESSION.value]
    assert session == [dicom_case.content.session_id]
    device = [i for i in sr.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "121005"]
    assert device and device[0].ConceptCodeSequence[0].CodeValue == c.DEVICE.value  # observer type: device


def test_estimated_spacing_is_stated(dicom_case: Case, tmp_path: Path) -> None:
    from dataclasses import replace

    report = {**dicom_case.content.report, "image": {**dicom_case.content.report["image"], "spacing_source": "estimated"}}
    content = replace(dicom_case.content, report=report)
    data = encode(build_sr(content, dicom_case.source, load_ontology()))
    assert dciodvfy(data, tmp_path).errors == []
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(data)))
    group = sr.content.get_planar_roi_measurement_groups()[0]
    assert group.get_measurements(name=c.DIAMETER)[0].method == c.SPACING_METHODS["estimated"]
    texts = [item.TextValue for item in sr.ContentSequence[-1].ContentSequence]
    assert any(x.startswith("ESTIMATED SPACING") for x in texts)
    assert not any("adult's chest" in x for x in texts)  # no chest width taken: none said


def test_an_estimate_from_the_lung_fields_says_it_took_an_adult_chest(dicom_case: Case) -> None:
    """The spacing scaled from the lung fields took an adult's chest width: the SR says so, and that a child's film
    measures too large, as the dialogue's spacing note does. A DICOM spacing says nothing of it."""
    from dataclasses import replace

    image = {**dicom_case.content.report["image"], "spacing_source": "estimated", "assumed_chest_width_mm": 265.0}
    content = replace(dicom_case.content, report={**dicom_case.content.report, "image": image})
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(encode(build_sr(content, dicom_case.source,
                                                                                          load_ontology())))))
    note = [i.TextValue for i in sr.ContentSequence[-1].ContentSequence
            if i.ConceptNameCodeSequence[0].CodeValue == c.SPACING_NOTE.value]
    assert len(note) == 1 and note[0].startswith("ESTIMATED SPACING")
    assert "adult's chest, 26.5 cm across" in note[0] and "child's film" in note[0]
    dicom = replace(content, report={**content.report, "image": {**image, "spacing_source": "dicom"}})
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(encode(build_sr(dicom, dicom_case.source,
                                                                                          load_ontology())))))
    assert not any("adult" in i.TextValue for i in sr.ContentSequence[-1].ContentSequence)


def test_a_film_that_cannot_be_read_states_no_finding(dicom_case: Case, tmp_path: Path) -> None:
    from dataclasses import replace

    content = replace(dicom_case.content, film_check={**dicom_case.content.film_check, "anatomy_plausible": False})
    data = encode(build_sr(content, dicom_case.source, load_ontology()))
    assert dciodvfy(data, tmp_path).errors == []
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(data)))
    assert sr.content.get_planar_roi_measurement_groups() == []
    film = sr.content.get_image_measurement_groups()[0]
    assert film.get_qualitative_evaluations(name=c.DETECTION)[0].value == c.INDETERMINATE
    assert film.get_measurements() == []


def test_a_reading_the_answers_do_not_state_is_left_out_of_the_report() -> None:
    """A smooth margin nothing backs ("no irregularity seen at this resolution") and a calcification that "cannot be
    judged" are not written as "smooth" and "non-calcified": the report says no more than the dialogue."""
    from orchestrator.dicom_out.sr import _finding_evaluations

    f = {"confidence": 0.9, "margin": "smooth", "shape": "round", "homogeneous": True, "calcified": False,
         "cavity": False}
    names = [e.name for e in _finding_evaluations(f)]  # no ``stated``: as before, every reading
    assert c.MARGIN in names and c.CALCIFICATION in names and c.HOMOGENEITY in names
    hedged = {**f, "stated": {"margin": False, "density": True, "calcification": False, "cavity": True}}
    names = [e.name for e in _finding_evaluations(hedged)]
    assert c.MARGIN not in names and c.CALCIFICATION not in names
    assert c.HOMOGENEITY in names and c.CAVITATION in names and c.SHAPE in names


def test_a_cavity_or_calcification_the_answers_do_not_state_is_not_the_finding_type() -> None:
    """A region read as a cavity whose cavity the answers cannot judge is coded as the nodule or mass they name, not
    as a cavitation; a report written before ``named_kind`` keeps the reading's kind."""
    from orchestrator.dicom_out.sr import named_kind

    assert c.finding_type(named_kind({"kind": "cavity", "named_kind": "mass"})) == c.finding_type("mass")
    assert c.finding_type(named_kind({"kind": "cavity", "named_kind": "cavity"})) == c.FINDING_TYPES["cavity"]
    assert named_kind({"kind": "cavity"}) == "cavity"


@pytest.fixture(scope="module")
def paired(engine: object, film_dcm: bytes, tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, bytes]:
    """A session over the resampled SCENARIO film made with the same chest's film of 180 days before (the phantom's
    ``earlier_film``: its own positioning, the round nodule at 0.75 of its size), and its report's SR."""
    from encoder.phantom import earlier_film, generate_case, scenario_spec
    from encoder.phantom.writer import write_dicom
    from orchestrator.dicom_out.content import session_content
    from orchestrator.dicom_out.objects import DicomObjects

    out = tmp_path_factory.mktemp("sr-earlier") / "earlier.dcm"
    write_dicom(earlier_film(generate_case(7, scenario_spec()), days=180, scale=0.75), out)
    view = engine.create_session(film_dcm, filename="film.dcm", lang="en",  # type: ignore[attr-defined]
                                 earlier=out.read_bytes(), earlier_filename="earlier.dcm")
    content = session_content(engine, view.session_id, "default")
    case = Case(content, DicomObjects.source(content), [t.to_dict() for t in view.turns])
    return case, encode(build_sr(case.content, case.source, load_ontology()))


def _read(data: bytes) -> hd.sr.Comprehensive3DSR:
    return hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(data)))


def _texts_of(sr: hd.sr.Comprehensive3DSR) -> list[str]:
    return [item.TextValue for item in sr.ContentSequence[-1].ContentSequence]


def test_a_change_on_coarse_films_is_not_coded_and_the_sr_says_why(paired: tuple[Case, bytes],
                                                                   tmp_path: Path) -> None:
    """The phantom's 0.64 mm earlier film is too coarse to measure a change on: the answers call the nodule's growth a
    reason to compare the films, not a measurement to act on, so the SR codes no difference for any finding, says why
    in its comparison note, and still records that a comparison was made and over what interval."""
    case, data = paired
    assert dciodvfy(data, tmp_path).errors == []
    comparison = case.content.report["comparison"]
    assert comparison["comparable"] and comparison["coarse"] and comparison["interval_days"] == 180
    assert any(ch["status"] == "larger" for ch in comparison["changes"])  # the 12 mm nodule, 9 mm then
    sr = _read(data)
    for g in sr.content.get_planar_roi_measurement_groups():
        assert g.get_qualitative_evaluations(name=c.QUALITATIVE_DIFFERENCE) == []
        assert g.get_measurements(name=c.SIZE_DIFFERENCE) == [] and g.get_measurements(name=c.DOUBLING_TIME) == []
    film = sr.content.get_image_measurement_groups()[0]
    assert film.get_qualitative_evaluations(name=c.COMPARED_WITH_PRIOR)[0].value == c.YES
    assert film.get_measurements(name=c.INTERVAL)[0].value == 180
    assert any("too coarse to measure a change on" in t for t in _texts_of(sr))


def test_the_comparison_is_coded_as_the_answers_state_it_on_fine_films(paired: tuple[Case, bytes],
                                                                        tmp_path: Path) -> None:
    """On films fine enough (the session's comparison as a detector-resolution pair reports it): each finding's
    qualitative difference (CID 6134) and size difference (CID 6133), the doubling time with its range; nothing for a
    pair read as another kind, for one the earlier film showed only as a "possibly", or for "not found then"."""
    from dataclasses import replace

    case, _ = paired
    findings = case.content.report["findings"]
    grown = {"finding_id": findings[0]["id"], "status": "larger", "change_mm": 3.1, "doubling_days": 145.0,
             "doubling_days_range": [90.0, 380.0], "earlier_uncertain": False}
    others = [{"finding_id": f["id"], "status": "new", "change_mm": None, "doubling_days": None} for f in findings[1:]]
    comparison = {**case.content.report["comparison"], "coarse": False, "changes": [grown, *others]}
    content = replace(case.content, report={**case.content.report, "comparison": comparison})
    data = encode(build_sr(content, case.source, load_ontology()))
    assert dciodvfy(data, tmp_path).errors == []
    sr = _read(data)
    groups = sr.content.get_planar_roi_measurement_groups()
    first = groups[0]
    assert [e.value for e in first.get_qualitative_evaluations(name=c.QUALITATIVE_DIFFERENCE)] == [c.CHANGES["larger"]]
    assert first.get_measurements(name=c.SIZE_DIFFERENCE)[0].value == pytest.approx(3.1)
    days = [first.get_measurements(name=n)[0].value for n in (c.DOUBLING_TIME, c.DOUBLING_TIME_FASTEST,
                                                               c.DOUBLING_TIME_SLOWEST)]
    assert days == pytest.approx([145.0, 90.0, 380.0])
    for g in groups[1:]:  # "not found on the earlier film (a smaller one may have been missed)" is no "New finding"
        assert g.get_qualitative_evaluations(name=c.QUALITATIVE_DIFFERENCE) == []
    faint = {**comparison, "changes": [{**grown, "earlier_uncertain": True}, *others]}
    data = encode(build_sr(replace(content, report={**content.report, "comparison": faint}), case.source,
                           load_ontology()))
    assert _read(data).content.get_planar_roi_measurement_groups()[0].get_qualitative_evaluations(
        name=c.QUALITATIVE_DIFFERENCE) == []


def test_an_earlier_film_that_could_not_be_compared_is_said_so_and_nothing_is_coded_as_changed(
        paired: tuple[Case, bytes], tmp_path: Path) -> None:
    from dataclasses import replace

    case, _ = paired
    comparison = {**case.content.report["comparison"], "comparable": False, "reason": "earlier_unreadable"}
    content = replace(case.content, report={**case.content.report, "comparison": comparison})
    data = encode(build_sr(content, case.source, load_ontology()))
    assert dciodvfy(data, tmp_path).errors == []
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(data)))
    for g in sr.content.get_planar_roi_measurement_groups():
        assert g.get_qualitative_evaluations(name=c.QUALITATIVE_DIFFERENCE) == []
        assert g.get_measurements(name=c.SIZE_DIFFERENCE) == []
    film = sr.content.get_image_measurement_groups()[0]
    assert film.get_qualitative_evaluations(name=c.COMPARED_WITH_PRIOR)[0].value == c.NO
    assert film.get_measurements(name=c.INTERVAL) == []


def test_a_difference_is_coded_only_where_the_answers_measured_one() -> None:
    from orchestrator.dicom_out.sr import _change_items

    method = c.SPACING_METHODS["dicom"]
    change = {"status": "seen_on_both", "change_mm": 4.0, "doubling_days": None}  # a strand: sizes not compared
    assert _change_items(change, method) == ([], [])
    assert _change_items(None, method) == ([], [])
    assert _change_items({"status": "new", "change_mm": None, "doubling_days": None}, method) == ([], [])
    assert _change_items({"status": "larger", "change_mm": 5.0, "doubling_days": None}, method, coarse=True) == ([], [])
    measurements, evaluations = _change_items({"status": "smaller", "change_mm": -3.1, "doubling_days": None}, method)
    assert [m.value for m in measurements] == [-3.1] and [e.value for e in evaluations] == [c.CHANGES["smaller"]]
    measurements, _ = _change_items({"status": "larger", "change_mm": 3.0, "doubling_days": 145.0}, method)
    assert [(m.name, m.value, m.unit) for m in measurements] == [(c.SIZE_DIFFERENCE, 3.0, c.MM),
                                                                 (c.DOUBLING_TIME, 145.0, c.DAY)]


def test_an_effusion_is_coded_in_its_pleural_cavity_and_a_session_in_its_language(sr: hd.sr.Comprehensive3DSR) -> None:
    """An effusion was coded in the left lower lobe, with a hilum distance, a shape and 'non-calcified'; a Chinese
    session's SR said its text was English."""
    from orchestrator.dicom_out.sr import _finding_evaluations, _sites

    fluid = {"kind": "effusion", "side": "left", "lobe": "LLL", "shape": "oval", "calcified": False,
             "homogeneous": True, "confidence": 0.9}
    site = _sites(fluid)[0]
    assert site.value == c.PLEURAL_CAVITY and site.laterality == c.LATERALITY["left"]
    assert [e.name for e in _finding_evaluations(fluid)] == [c.CERTAINTY]
    overlapping = {"kind": "nodule", "side": "right", "lobe": "RLL", "lobe_overlap": ["RML"]}
    assert _sites(overlapping)[0].value == c.LUNG  # the answers call the lobe an estimate there
    language = [i for i in sr.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "121049"]
    assert language and language[0].ConceptCodeSequence[0].CodeValue == "zh-CN"  # the dicom_case session is zh


def test_the_json_report_carries_the_frame_its_coordinates_are_in_and_each_lobe_overlap(dicom_case: Case) -> None:
    """Every *_px of the JSON report is in the 512² working frame; without the mapping a consumer put A1 230 px off on
    the 1024 x 944 film. The report now carries it, and the lobes a finding also projects over."""
    report = dicom_case.content.report
    frame = report["image"]["frame"]
    assert frame["original_size"] == [1024, 944] and frame["working_size"] == [512, 512]
    assert frame["scale"] == pytest.approx(2.0, abs=0.01)
    f = report["findings"][0]
    x, y = f["center_px"]
    ox, oy = x * frame["scale"] - frame["pad_px"][0], y * frame["scale"] - frame["pad_px"][1]
    assert 0 <= ox < 944 and 0 <= oy < 1024
    assert all(isinstance(g["lobe_overlap"], list) for g in report["findings"])
