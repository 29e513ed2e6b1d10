"""This film against an earlier one (``orchestrator/findings/interval.py``) and what the uploads say of each other
(``orchestrator/dialogue/earlier.py``), over hand-built facts."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from orchestrator.dialogue.earlier import check_same_patient, interval_days, study_day
from orchestrator.dialogue.session import DicomReference, SourceRecord
from orchestrator.errors import InvalidDateError, NotSamePatientError
from orchestrator.facts import AnatomyRegion, FilmCheck, ImageFacts
from orchestrator.findings.interval import compare_films, comparison_from_dict, doubling_days
from tests.orchestrator.dialogue.conftest import scenario_facts

LUNGS = (AnatomyRegion("lung_right", (150.0, 250.0), (60.0, 80.0, 240.0, 420.0)),
         AnatomyRegion("lung_left", (360.0, 255.0), (280.0, 85.0, 460.0, 430.0)))


def film(dx: float = 0.0, dy: float = 0.0, f1_mm: float | None = 12.0, extra: bool = False) -> ImageFacts:
    """The SCENARIO's facts with lung fields, the whole chest moved by (dx, dy) pixels as another positioning
    moves it, F1 at ``f1_mm`` (None: not there), ``extra``: a nodule in the left upper zone as well."""
    base = scenario_facts()
    regions = tuple(replace(r, center_px=(r.center_px[0] + dx, r.center_px[1] + dy),
                            bbox_px=(r.bbox_px[0] + dx, r.bbox_px[1] + dy, r.bbox_px[2] + dx, r.bbox_px[3] + dy))
                    for r in base.anatomy.regions + LUNGS)
    found = []
    for f in base.findings:
        f = replace(f, center_px=(f.center_px[0] + dx, f.center_px[1] + dy))
        if f.id == "F1":
            if f1_mm is None:
                continue
            f = replace(f, diameter_mm=f1_mm)
        found.append(f)
    if extra:
        found.append(replace(base.findings[0], id=f"F{len(found) + 1}", side="left", lobe="LUL", diameter_mm=9.0,
                             center_px=(400.0 + dx, 150.0 + dy)))
    return replace(base, anatomy=replace(base.anatomy, regions=regions), findings=tuple(found))


def test_a_grown_nodule_pairs_across_positioning_and_gets_its_doubling_time() -> None:
    now, before = film(), film(dx=14.0, dy=-9.0, f1_mm=9.0)
    c = compare_films(now, before, 180)
    assert c.comparable and c.sizes_from_file
    f1 = c.change_of("F1")
    assert f1 is not None and f1.earlier_id == "F1" and f1.status == "larger" and f1.change_mm == 3.0
    assert f1.doubling_days == round(180 * math.log(2) / (3 * math.log(12 / 9)))
    f2 = c.change_of("F2")  # a strand's outline is not measured against itself: seen, not called
    assert f2 is not None and f2.status == "seen_on_both" and f2.doubling_days is None


def test_a_difference_within_one_measurements_error_is_no_change() -> None:
    c = compare_films(film(), film(dx=-6.0, f1_mm=11.0), 365)  # 1 mm: under 2 mm
    f1 = c.change_of("F1")
    assert f1 is not None and f1.status == "no_measurable_change" and f1.doubling_days is None
    shrunk = compare_films(film(f1_mm=12.0), film(f1_mm=16.0), 90).change_of("F1")
    assert shrunk is not None and shrunk.status == "smaller" and shrunk.doubling_days is None


def test_new_and_no_longer_seen_findings() -> None:
    c = compare_films(film(), film(f1_mm=None, extra=True), 30)
    f1 = c.change_of("F1")
    assert f1 is not None and f1.status == "new" and f1.earlier_id is None
    gone = c.not_seen_now()
    assert len(gone) == 1 and gone[0].lobe == "LUL" and gone[0].then_mm == 9.0 and gone[0].finding_id is None
    from orchestrator.dialogue.anchors import screening_registry
    from orchestrator.dialogue.interval_answer import interval_section

    text = interval_section(c, screening_registry(film()), "en")[0]["text"]
    assert "is not found on this film (this film's reading can miss a lesion too" in text  # never "resolved"
    fluid = replace(gone[0], kind="effusion", side="left")
    from orchestrator.dialogue.interval_answer import _what

    assert _what(fluid, "en") == "the effusion-like opacity in the left pleural space"


def test_findings_far_apart_or_on_the_other_side_do_not_pair() -> None:
    moved = film()
    f1 = moved.findings[0]
    moved = replace(moved, findings=(replace(f1, center_px=(f1.center_px[0], f1.center_px[1] + 120.0)),)
                    + moved.findings[1:])
    assert compare_films(film(), moved, 30).change_of("F1").status == "new"  # type: ignore[union-attr]


def test_nothing_is_compared_with_a_film_that_cannot_be_localised() -> None:
    mirrored = replace(film(), film_check=FilmCheck(orientation="flipped_lr"))
    c = compare_films(film(), mirrored, 30)
    assert not c.comparable and c.reason == "earlier_unreadable" and c.changes == ()
    c = compare_films(replace(film(), film_check=FilmCheck(anatomy_plausible=False)), film(), 30)
    assert not c.comparable and c.reason == "current_unreadable"


def test_estimated_spacing_is_said_and_the_comparison_reads_back() -> None:
    before = replace(film(f1_mm=8.0), spacing=replace(film().spacing, source="estimated"))
    c = compare_films(film(), before, None)
    assert not c.sizes_from_file and c.interval_days is None
    assert c.change_of("F1").doubling_days is None  # type: ignore[union-attr]  (no interval, no rate)
    assert comparison_from_dict(c.to_dict()) == c and comparison_from_dict(None) is None


def test_doubling_time_needs_an_interval_and_growth() -> None:
    assert doubling_days(None, 12.0, 9.0) is None and doubling_days(0, 12.0, 9.0) is None
    assert doubling_days(100, 9.0, 12.0) is None
    assert doubling_days(100, 2 ** (1 / 3) * 10.0, 10.0) == 100  # the volume doubled in 100 days


def _dicom_source(patient: str, date: str) -> SourceRecord:
    ref = DicomReference("1.2", f"1.2.3.{date}", "1.2.4", "1.2.5", 10, 10, "DX",
                         header=(("PatientID", patient), ("StudyDate", date)))
    return SourceRecord("dicom", ref)


def test_dates_as_given_else_the_files_and_never_backwards() -> None:
    assert study_day("2026-03-01") == study_day("20260301") and study_day(" ") is None
    for bad in ("2026-13-01", "yesterday", "2026-02-30"):
        with pytest.raises(InvalidDateError) as err:
            study_day(bad)
        assert bad not in err.value.message  # never echoes the input
    now, before = _dicom_source("P1", "20260301"), _dicom_source("P1", "20250901")
    assert interval_days(now, before) == 181
    assert interval_days(now, before, earlier_date="2026-02-01") == 28  # the date given wins
    assert interval_days(SourceRecord("png"), before) is None  # a PNG's date is not known
    with pytest.raises(InvalidDateError):
        interval_days(before, now)


def test_two_patients_are_never_compared() -> None:
    check_same_patient(_dicom_source("P1", "20260301"), _dicom_source("P1", "20250101"))
    check_same_patient(SourceRecord("png"), _dicom_source("P2", "20250101"))  # no ID to compare: the caller's word
    with pytest.raises(NotSamePatientError) as err:
        check_same_patient(_dicom_source("P1", "20260301"), _dicom_source("P2", "20250101"))
    assert "P1" not in err.value.message and "P2" not in err.value.message


def test_the_same_place_read_as_another_kind_pairs_and_says_so() -> None:
    base = film()
    before = replace(base, findings=(replace(base.findings[0], kind="consolidation", shape="patchy"),)
                     + base.findings[1:])
    f1 = compare_films(base, before, 60).change_of("F1")
    assert f1 is not None and f1.earlier_id == "F1" and f1.earlier_kind == "consolidation"
    assert f1.status == "seen_on_both" and f1.doubling_days is None  # sizes of two kinds are not compared
    # a round lesion of either kind (a nodule grown into a mass) is measured against itself
    grown = replace(base, findings=(replace(base.findings[0], kind="mass", diameter_mm=34.0),) + base.findings[1:])
    c = compare_films(grown, base, 200).change_of("F1")
    assert c is not None and c.status == "larger" and c.earlier_kind == "nodule" and c.doubling_days is not None


def test_a_comparison_names_a_calcification_only_where_each_film_states_it() -> None:
    """A nodule read calcified on both films is named so in the comparison only where that film's calcification is
    stated; an earlier reading the answers could not judge is named a nodule, and the change says it was read as
    another kind only where what each film's answers say differs."""
    def calcified(facts: ImageFacts, p: float) -> ImageFacts:
        f1 = facts.findings[0]
        f1 = replace(f1, kind="calcified_nodule", density=replace(f1.density, calcified=True),
                     attribute_confidence={**f1.attribute_confidence, "calcification": p})
        return replace(facts, findings=(f1, *facts.findings[1:]))

    now, before = film(), film(f1_mm=11.5)
    sure = compare_films(calcified(now, 0.95), calcified(before, 0.95), 90).change_of("F1")
    assert sure is not None and sure.kind == "calcified_nodule" and sure.earlier_kind is None
    unsure_then = compare_films(calcified(now, 0.95), calcified(before, 0.5), 90).change_of("F1")
    assert unsure_then is not None and unsure_then.earlier_kind == "nodule"
    neither = compare_films(calcified(now, 0.5), calcified(before, 0.5), 90).change_of("F1")
    assert neither is not None and neither.kind == "nodule" and neither.earlier_kind is None


def test_the_doubling_time_comes_with_what_a_measurement_error_makes_of_it() -> None:
    from orchestrator.findings.interval import SIZE_ERROR, doubling_range

    lo, hi = doubling_range(180, 12.0, 9.0)  # type: ignore[misc]
    assert lo < doubling_days(180, 12.0, 9.0) < hi  # type: ignore[operator]
    assert lo == doubling_days(180, 12.0 * (1 + SIZE_ERROR), 9.0 * (1 - SIZE_ERROR))
    assert doubling_range(180, 10.0, 9.0) == (doubling_days(180, 11.0, 8.1), None)  # within the error: maybe no growth
    c = compare_films(film(), film(f1_mm=9.0), 180).change_of("F1")
    assert c is not None and c.doubling_range == doubling_range(180, 12.0, 9.0)


def test_a_new_finding_says_where_to_look_on_the_earlier_film() -> None:
    """Not found on the earlier film: its place there carried over through the lung field, so a reader can look."""
    c = compare_films(film(), film(dx=14.0, dy=-9.0, f1_mm=None), 30).change_of("F1")
    assert c is not None and c.status == "new" and c.earlier_bbox_px is not None
    x0, y0, x1, y1 = c.earlier_bbox_px
    f1 = film().findings[0]
    assert (x0 + x1) / 2 == pytest.approx(f1.center_px[0] + 14.0) and (y0 + y1) / 2 == pytest.approx(f1.center_px[1] - 9.0)


def test_a_change_is_never_called_where_its_own_range_allows_none() -> None:
    """12 vs 10 mm is past 2 mm and 15%, but not past a 10% error either way: no change called, no doubling time."""
    c = compare_films(film(f1_mm=12.0), film(f1_mm=10.0), 180).change_of("F1")
    assert c is not None and c.status == "no_measurable_change" and c.doubling_days is None
    grown = compare_films(film(f1_mm=12.0), film(f1_mm=9.0), 180).change_of("F1")
    assert grown is not None and grown.status == "larger" and grown.doubling_range[1] is not None  # type: ignore[index]


def test_what_the_answer_says_of_coarse_films_unchecked_identity_and_the_same_day() -> None:
    from orchestrator.dialogue.anchors import screening_registry
    from orchestrator.dialogue.interval_answer import interval_section

    now = film()
    reg = screening_registry(now)
    sec, _ = interval_section(compare_films(now, film(f1_mm=9.0), 0, coarse=True, identity_checked=False), reg, "en")
    assert "taken the same day" in sec["text"] and "too coarse for the lesion reader" in sec["text"]
    assert "could not check that they are the same patient" in sec["text"]
    zh, _ = interval_section(compare_films(now, film(f1_mm=9.0), 30), reg, "zh")
    assert "相隔30天" in zh["text"] and "无法核对" not in zh["text"] and "像素较粗" not in zh["text"]


def test_coarse_films_give_no_doubling_time_and_an_uncertain_earlier_reading_is_said() -> None:
    """On films too coarse for the lesion reader sizes can be off by a third, which spans fast growth to none: a
    growth is still called (a reason to compare the films) but no doubling time is given; where the earlier film's
    reading was only a "possibly", the answer says so."""
    from orchestrator.dialogue.anchors import screening_registry
    from orchestrator.dialogue.interval_answer import interval_section

    now = film()
    coarse = compare_films(now, film(f1_mm=6.0), 180, coarse=True)
    f1 = coarse.change_of("F1")
    assert f1 is not None and f1.status == "larger" and f1.doubling_days is None and f1.doubling_range is None
    reg = screening_registry(now)
    sec, rows = interval_section(coarse, reg, "en")
    assert "no doubling time is given" in sec["text"] and "double in" not in sec["text"]
    assert rows[0]["doubling_days"] is None
    fine = compare_films(now, film(f1_mm=6.0), 180).change_of("F1")
    assert fine is not None and fine.doubling_days is not None and not fine.earlier_uncertain

    before = film(f1_mm=6.0)
    faint = replace(before, findings=(replace(before.findings[0], confidence=0.3),) + before.findings[1:])
    c = compare_films(now, faint, 180)
    assert c.change_of("F1").earlier_uncertain  # type: ignore[union-attr]
    assert comparison_from_dict(c.to_dict()) == c
    en, _ = interval_section(c, reg, "en")
    zh, _ = interval_section(c, reg, "zh")
    assert "only possibly shows a lesion" in en["text"] and "仅可能为病灶" in zh["text"]


def test_a_film_is_not_its_own_earlier_film_and_dates_are_plausible() -> None:
    import datetime

    from orchestrator.dialogue.earlier import SameFilmError, check_not_the_same_film

    with pytest.raises(SameFilmError):
        check_not_the_same_film(b"abc", b"abc", None, None)
    with pytest.raises(SameFilmError):
        check_not_the_same_film(b"abc", b"abd", _dicom_source("P1", "20260301"), _dicom_source("P2", "20260301"))
    for bad in ("2099-01-01", "1800-01-01", (datetime.date.today() + datetime.timedelta(days=3)).isoformat()):
        with pytest.raises(InvalidDateError):
            study_day(bad)
    assert study_day(datetime.date.today().isoformat()) == datetime.date.today()
    with pytest.raises(InvalidDateError, match="before 1900"):  # not "a film is not taken in the future"
        study_day("1899-12-31")


def test_another_birth_date_is_another_patient() -> None:
    ref = DicomReference("1.2", "1.2.9", "1.2.4", "1.2.5", 10, 10, "DX",
                         header=(("PatientID", "P1"), ("PatientBirthDate", "19600101")))
    other = DicomReference("1.2", "1.2.8", "1.2.6", "1.2.7", 10, 10, "DX",
                           header=(("PatientID", "P1"), ("PatientBirthDate", "19700101")))
    with pytest.raises(NotSamePatientError):
        check_same_patient(SourceRecord("dicom", ref), SourceRecord("dicom", other))
    assert check_same_patient(SourceRecord("dicom", ref), SourceRecord("dicom", ref)) is True
    assert check_same_patient(SourceRecord("png"), SourceRecord("dicom", ref)) is False
    # de-identified on upload (HILUM_DEIDENTIFY): every film's ID is the same dummy, which proves nothing
    anon = DicomReference("1.2", "1.2.10", "1.2.4", "1.2.5", 10, 10, "DX",
                          header=(("PatientID", "ANONYMIZED"), ("PatientIdentityRemoved", "YES")))
    assert check_same_patient(SourceRecord("dicom", anon), SourceRecord("dicom", anon)) is False


def test_a_patient_named_differently_on_the_two_films_is_said_not_refused() -> None:
    """An earlier film with the same Patient ID and another patient's name was compared with no word of it: names are
    written differently from one system to the next (order, case, separators), so a difference is said, never refused;
    one sharing no word of the name is a difference."""
    from orchestrator.dialogue.anchors import screening_registry
    from orchestrator.dialogue.earlier import patient_names_differ
    from orchestrator.dialogue.interval_answer import interval_section

    def named(name: str) -> SourceRecord:
        ref = DicomReference("1.2", "1.2.3", "1.2.4", "1.2.5", 10, 10, "DX",
                             header=(("PatientID", "P1"), ("PatientName", name)))
        return SourceRecord("dicom", ref)

    assert not patient_names_differ(named("DOE^JOHN"), named("John Doe"))
    assert not patient_names_differ(named("Zhang^San=张^三"), named("ZHANG^SAN"))
    assert not patient_names_differ(named("DOE^JOHN"), _dicom_source("P1", "20260301"))  # one names none: nothing said
    assert patient_names_differ(named("DOE^JOHN"), named("ROE^MARY"))
    c = compare_films(film(), film(f1_mm=9.0), 180, names_differ=True)
    assert comparison_from_dict(c.to_dict()) == c
    text = interval_section(c, screening_registry(film()), "en")[0]["text"]
    assert "name the patient differently" in text


def test_where_an_earlier_finding_was_is_carried_onto_this_film_by_its_place_in_the_lung_field() -> None:
    """"Show me where it was on the earlier film" drew only this film's outline: ``earlier_bbox_px`` is in the earlier
    film's own frame. The comparison now also carries the earlier finding onto this film's frame by its place in its
    lung field (the pairing's own measure), for a finding seen on both films and for one no longer seen; a new one has
    no earlier position; stored comparisons without it read back as None."""
    now, before = film(), film(dx=14.0, dy=-9.0, f1_mm=9.0)
    c = compare_films(now, before, 180)
    f1 = c.change_of("F1")
    assert f1 is not None and f1.earlier_bbox_px is not None and f1.earlier_bbox_here_px is not None
    x0, y0, x1, y1 = f1.earlier_bbox_here_px
    # the whole chest moved by (14, -9) on the earlier film: carried back, the box sits on this film's F1 again
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx(now.findings[0].center_px, abs=0.2)
    ex0, ey0, ex1, ey1 = f1.earlier_bbox_px  # (its own frame: where it is on that film), its size kept
    assert (x1 - x0, y1 - y0) == pytest.approx((ex1 - ex0, ey1 - ey0), abs=0.2)
    assert comparison_from_dict(c.to_dict()) == c
    gone = compare_films(film(f1_mm=None), film(extra=True), 30).not_seen_now()
    assert len(gone) == 2 and all(g.earlier_bbox_here_px is not None for g in gone)
    new = compare_films(film(), film(f1_mm=None), 30).change_of("F1")
    assert new is not None and new.status == "new" and new.earlier_bbox_here_px is None
    old = c.to_dict()
    for change in old["changes"]:
        del change["earlier_bbox_here_px"]  # a comparison stored before it was kept
    assert comparison_from_dict(old).change_of("F1").earlier_bbox_here_px is None  # type: ignore[union-attr]
