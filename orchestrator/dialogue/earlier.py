"""An earlier film uploaded with a session's film: is it the same patient's, and how long before?

The engine compares the two films' findings (``orchestrator.findings.interval``) once, when the session is made;
this module checks what the uploads say about each other first:

- **the same patient**: when both are DICOM files naming a Patient ID, the IDs must agree, and so must the birth
  date and sex where both name them (``NotSamePatientError``, never saying any of them); films without an ID (PNG,
  JPEG, a de-identified export, a header Hilum de-identified on upload) are the caller's word, and the answers say
  that it could not be checked;
- **not the same image**: the film uploaded again as its own earlier film (the same bytes, or the same SOP
  Instance UID) is refused (``SameFilmError``);
- **the interval**: each film's date is the one given with the upload (``study_date`` / ``earlier_date``,
  YYYY-MM-DD or YYYYMMDD), else its DICOM Study Date; a date given must lie between 1900 and tomorrow, and with both
  known the earlier film may not be later (``InvalidDateError``); with either unknown the interval is None and no
  doubling time is given.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING

from orchestrator.dialogue.session import SourceRecord
from orchestrator.errors import InputError, InvalidDateError, NotSamePatientError
from orchestrator.findings.interval import IntervalComparison, compare_films

if TYPE_CHECKING:
    from orchestrator.film_analysis import FilmAnalysis

_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
EARLIEST = datetime.date(1900, 1, 1)


class SameFilmError(InputError):
    """The earlier film uploaded is the film itself (the same bytes or the same SOP Instance UID)."""

    http_status = 422
    kind = "same_film"
    subject = "earlier"


def study_day(text: str | None) -> datetime.date | None:
    """A date given as YYYY-MM-DD or YYYYMMDD (None or blank: not given)."""
    if text is None or not str(text).strip():
        return None
    m = _DATE.fullmatch(str(text).strip())
    try:
        if m is None:
            raise ValueError
        day = datetime.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise InvalidDateError("a study date is written YYYY-MM-DD (or YYYYMMDD), a real calendar date") from None
    if day < EARLIEST:
        raise InvalidDateError("a study date lies between 1900 and today: this one is before 1900")
    if day > datetime.date.today() + datetime.timedelta(days=1):
        raise InvalidDateError("a study date lies between 1900 and today: a film is not taken in the future")
    return day


def _header(source: SourceRecord | None, keyword: str) -> str:
    if source is None or source.dicom is None:
        return ""
    return source.dicom.header_dict().get(keyword, "").strip()


def _dicom_day(source: SourceRecord | None) -> datetime.date | None:
    try:
        return study_day(_header(source, "StudyDate")) if _header(source, "StudyDate") else None
    except InvalidDateError:  # a header's malformed date is no date, not the caller's mistake
        return None


def check_same_patient(current: SourceRecord | None, earlier: SourceRecord | None) -> bool:
    """Raises when the two files name different patients; True when both name the same one (checked), False when
    either names none, or its header was de-identified (``HILUM_DEIDENTIFY``: every film's ID is then the same dummy,
    which proves nothing): the caller's word."""
    if any(_header(s, "PatientIdentityRemoved").upper() == "YES" for s in (current, earlier)):
        return False
    for keyword, what in (("PatientID", "Patient ID"), ("PatientBirthDate", "birth date"), ("PatientSex", "sex")):
        a, b = _header(current, keyword), _header(earlier, keyword)
        if a and b and a != b:
            raise NotSamePatientError(f"the earlier film's DICOM names another patient than this film's ({what}): "
                                      "films of two patients are not compared")
    return bool(_header(current, "PatientID") and _header(earlier, "PatientID"))


def _name_tokens(name: str) -> frozenset[str]:
    """A DICOM Person Name's alphabetic group as a set of words: case, order and ^ / space / comma separators aside
    ("DOE^JOHN" and "John Doe" are one name)."""
    alphabetic = name.split("=")[0]
    return frozenset(w for w in re.split(r"[\^\s,]+", alphabetic.upper()) if w)


def patient_names_differ(current: SourceRecord | None, earlier: SourceRecord | None) -> bool:
    """Both files name the patient, and their names share no word: not refused (a name is written differently from
    one system to the next), but said, so that a reader makes sure the films are one patient's."""
    a, b = _name_tokens(_header(current, "PatientName")), _name_tokens(_header(earlier, "PatientName"))
    return bool(a and b and not a & b)


def check_not_the_same_film(data: bytes, earlier: bytes, current: SourceRecord | None,
                            before: SourceRecord | None) -> None:
    uid = current.dicom.sop_instance_uid if current is not None and current.dicom is not None else ""
    earlier_uid = before.dicom.sop_instance_uid if before is not None and before.dicom is not None else ""
    if data == earlier or (uid and uid == earlier_uid):
        raise SameFilmError("the earlier film is this film itself: upload an earlier film of the same chest")


def interval_days(current: SourceRecord | None, earlier: SourceRecord | None, study_date: str | None = None,
                  earlier_date: str | None = None) -> int | None:
    """Days from the earlier film to this one (None when either date is unknown)."""
    now = study_day(study_date) or _dicom_day(current)
    then = study_day(earlier_date) or _dicom_day(earlier)
    if now is None or then is None:
        return None
    if then > now:
        exc = InvalidDateError("the earlier film's date is after this film's: upload the later film as the film "
                               "and the earlier one as the earlier film")
        exc.subject = "earlier"  # the pair's order, which the earlier film's date set: as any refusal of it
        raise exc
    return (now - then).days


def compare_with_earlier(film: FilmAnalysis, before: FilmAnalysis, data: bytes, earlier: bytes,
                         study_date: str | None = None, earlier_date: str | None = None) -> IntervalComparison:
    """The two uploads checked against each other (above), then their findings compared
    (``orchestrator.findings.interval``): sizes are coarse unless the lesion reader could read both films."""
    check_not_the_same_film(data, earlier, film.source, before.source)
    checked = check_same_patient(film.source, before.source)
    days = interval_days(film.source, before.source, study_date, earlier_date)
    return compare_films(film.facts, before.facts, days, coarse=not (film.fine_pixels and before.fine_pixels),
                         identity_checked=checked, names_differ=patient_names_differ(film.source, before.source))
