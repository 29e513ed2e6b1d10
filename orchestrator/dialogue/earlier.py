"""An earlier film uploaded with a session's film: is it the same patient's, and how long before?

The engine compares the two films' findings (``orchestrator.findings.interval``) once, when the session is made;
this module checks what the uploads say about each other first:

- **the same patient**: when both are DICOM files naming a Patient ID, the IDs must agree (``NotSamePatientError``,
  never saying either ID); films without one (PNG, JPEG, a de-identified export) are the caller's word;
- **the interval**: each film's date is the one given with the upload (``study_date`` / ``earlier_date``,
  YYYY-MM-DD or YYYYMMDD), else its DICOM Study Date; with both known the earlier film may not be later
  (``InvalidDateError``); with either unknown the interval is None and no doubling time is given.
"""

from __future__ import annotations

import datetime
import re

from orchestrator.dialogue.session import SourceRecord
from orchestrator.errors import InvalidDateError, NotSamePatientError

_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


def study_day(text: str | None) -> datetime.date | None:
    """A date given as YYYY-MM-DD or YYYYMMDD (None or blank: not given)."""
    if text is None or not str(text).strip():
        return None
    m = _DATE.fullmatch(str(text).strip())
    try:
        if m is None:
            raise ValueError
        return datetime.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise InvalidDateError("a study date is written YYYY-MM-DD (or YYYYMMDD), a real calendar date") from None


def _header(source: SourceRecord | None, keyword: str) -> str:
    if source is None or source.dicom is None:
        return ""
    return source.dicom.header_dict().get(keyword, "").strip()


def _dicom_day(source: SourceRecord | None) -> datetime.date | None:
    try:
        return study_day(_header(source, "StudyDate")) if _header(source, "StudyDate") else None
    except InvalidDateError:  # a header's malformed date is no date, not the caller's mistake
        return None


def check_same_patient(current: SourceRecord | None, earlier: SourceRecord | None) -> None:
    a, b = _header(current, "PatientID"), _header(earlier, "PatientID")
    if a and b and a != b:
        raise NotSamePatientError("the earlier film's DICOM names another patient than this film's (Patient ID): "
                                  "films of two patients are not compared")


def interval_days(current: SourceRecord | None, earlier: SourceRecord | None, study_date: str | None = None,
                  earlier_date: str | None = None) -> int | None:
    """Days from the earlier film to this one (None when either date is unknown)."""
    now = study_day(study_date) or _dicom_day(current)
    then = study_day(earlier_date) or _dicom_day(earlier)
    if now is None or then is None:
        return None
    if then > now:
        raise InvalidDateError("the earlier film's date is after this film's: upload the later film as the film "
                               "and the earlier one as the earlier film")
    return (now - then).days
