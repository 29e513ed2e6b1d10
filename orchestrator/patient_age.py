"""The patient's age group from a DICOM header: an infant's, a child's or an adult's film, or not said.

Two answers depend on it. The cardiothoracic ratio's 0.50 limit is an adult's: a young child's heart is normally
larger for its chest, an infant's most of all, so on a child's film a ratio above it settles nothing. And a spacing
estimated from an adult's chest width makes every measurement on a child's film too large; the answers can say so
plainly where the file gives the age, and drop the caveat where it gives an adult's.

Read from Patient's Age (0010,1010; VR AS: ``nnnD``, ``nnnW``, ``nnnM`` or ``nnnY``), else from Patient's Birth Date
(0010,0030) against the film's own date (Study, Series, Acquisition or Content Date, the first present). Only the group
is kept, never the age or the dates: the de-identification profile (``orchestrator.deidentify``) removes the age, and a
session keeps no more than the reading needs. A malformed or implausible value is an absent one (never an error: it is
an optional attribute).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from orchestrator.facts import AgeGroup

AGE_GROUPS: tuple[AgeGroup, ...] = ("infant", "child", "adult")
INFANT_UNDER_YEARS = 2.0  # under this: an infant's film (a ratio up to about 0.60 is common in the first two years)
ADULT_FROM_YEARS = 16.0  # from this the adult limits are read
OLDEST_YEARS = 130.0  # beyond this an age (or a birth date) is taken as a wrong value, not an age
_AS = re.compile(r"^(\d{3})([DWMY])$")
_DAYS_PER = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}
_FILM_DATES = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")


def group_of(years: float) -> AgeGroup | None:
    """The group of an age in years; None for a value no patient has (negative, or past ``OLDEST_YEARS``)."""
    if not 0.0 <= years <= OLDEST_YEARS:
        return None
    return "infant" if years < INFANT_UNDER_YEARS else "child" if years < ADULT_FROM_YEARS else "adult"


def age_string_years(value: Any) -> float | None:
    """Patient's Age (AS) in years: ``"004Y"`` -> 4.0, ``"018M"`` -> 1.5; None unless exactly the AS form."""
    match = _AS.match(str(value or "").strip().upper())
    if match is None:
        return None
    return int(match.group(1)) * _DAYS_PER[match.group(2)] / 365.25


def _date(value: Any) -> dt.date | None:
    text = str(value or "").strip()
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def birth_date_years(ds: Any) -> float | None:
    """Years from Patient's Birth Date to the film's date (the first of ``_FILM_DATES`` present); None when either
    is absent or not a date."""
    born = _date(ds.get("PatientBirthDate"))
    if born is None:
        return None
    taken = next((d for d in (_date(ds.get(k)) for k in _FILM_DATES) if d is not None), None)
    return None if taken is None else (taken - born).days / 365.25


def patient_age_group(ds: Any) -> AgeGroup | None:
    """The film's age group from its header (Patient's Age, else Birth Date against the film's date), or None."""
    try:
        years = age_string_years(ds.get("PatientAge"))
        if years is None:
            years = birth_date_years(ds)
    except Exception:  # noqa: BLE001 - a malformed optional attribute is as good as an absent one
        return None
    return None if years is None else group_of(years)
