"""The patient's age group from a DICOM header (orchestrator.patient_age): read as the file gives it, never raising."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from orchestrator.facts import FilmCheck, from_jsonable, to_jsonable
from orchestrator.patient_age import age_string_years, group_of, patient_age_group


@pytest.mark.parametrize(("value", "years"), [("004Y", 4.0), ("018M", 1.5), ("006W", 42 / 365.25), ("010D", 10 / 365.25),
                                              ("045y", 45.0), (" 016Y ", 16.0)])
def test_an_age_string_is_read_in_years(value: str, years: float) -> None:
    assert age_string_years(value) == pytest.approx(years)


@pytest.mark.parametrize("value", ["4Y", "0004Y", "004", "04.5Y", "004X", "", None, "abc", 4])
def test_an_age_string_not_in_the_as_form_is_none(value: object) -> None:
    assert age_string_years(value) is None


@pytest.mark.parametrize(("years", "group"), [(0.0, "infant"), (1.99, "infant"), (2.0, "child"), (15.9, "child"),
                                              (16.0, "adult"), (89.0, "adult"), (130.0, "adult"), (131.0, None),
                                              (-0.1, None)])
def test_the_groups_bounds(years: float, group: str | None) -> None:
    assert group_of(years) == group


def _ds(**tags: object) -> Dataset:
    ds = Dataset()
    for key, value in tags.items():
        setattr(ds, key, value)
    return ds


def test_the_age_is_read_from_the_age_else_the_birth_date_against_the_films_date() -> None:
    assert patient_age_group(_ds(PatientAge="001Y", PatientBirthDate="19600101", StudyDate="20260101")) == "infant"
    assert patient_age_group(_ds(PatientBirthDate="20220310", StudyDate="20261201")) == "child"
    assert patient_age_group(_ds(PatientBirthDate="20260101", AcquisitionDate="20261201")) == "infant"
    assert patient_age_group(_ds(PatientBirthDate="19600101", ContentDate="20261201")) == "adult"
    # the study's date first, whatever the others say
    assert patient_age_group(_ds(PatientBirthDate="20200101", StudyDate="20210101", ContentDate="20400101")) == "infant"


@pytest.mark.parametrize("tags", [{}, {"PatientAge": ""}, {"PatientBirthDate": "19600101"},
                                  {"PatientBirthDate": "20261301", "StudyDate": "20261201"},
                                  {"PatientBirthDate": "2026-01-01", "StudyDate": "20261201"},
                                  {"PatientBirthDate": "20270101", "StudyDate": "20261201"},  # born after the film
                                  {"PatientAge": "999Y"}, {"PatientBirthDate": "16000101", "StudyDate": "20261201"}])
def test_an_absent_malformed_or_impossible_age_gives_no_group(tags: dict[str, str]) -> None:
    assert patient_age_group(_ds(**tags)) is None


def test_a_header_that_raises_gives_no_group() -> None:
    class Broken:
        def get(self, key: str) -> object:
            raise ValueError("unreadable")

    assert patient_age_group(Broken()) is None


def test_the_group_survives_a_sessions_round_trip_and_is_absent_from_the_turn_when_unsaid() -> None:
    check = FilmCheck(view="PA", age_group="child")
    assert from_jsonable(FilmCheck, to_jsonable(check)) == check
    assert check.to_dict()["age_group"] == "child"
    assert "age_group" not in FilmCheck(view="PA").to_dict()
