"""De-identification of what Hilum keeps from a DICOM upload (``Settings.deidentify``).

From a DICOM upload a session keeps its UIDs, size, Modality, Patient Orientation and the nine
patient/study attributes a result needs to be filed beside it
(``orchestrator.imaging.SOURCE_HEADER_ATTRIBUTES``); everything else in the header is dropped when
the film is decoded. With ``HILUM_DEIDENTIFY=1`` those attributes go through the DICOM PS3.15
Annex E **Basic Application Level Confidentiality Profile** before the session is stored, by the
``dicom-anonymizer`` library's action table for the profile (not by hand), with the profile's
**Retain UIDs Option** (PS3.15 E.3.9): the Study/Series/SOP Instance UIDs stay, so the SR,
presentation state and segmentation still reference the source image and land in its study in the
PACS that sent it. Patient name, ID, birth date and sex, the study's date, time, ID, accession
number and referring physician are emptied or replaced with dummies as the profile says.

Every DICOM object Hilum then writes for the session says so in its Patient module: Patient
Identity Removed ``YES``, De-identification Method and its code sequence (DCM 113100 Basic
Application Confidentiality Profile, DCM 113108 Retain UIDs Option). A PACS that files by patient
identity keeps such results apart from the identified study: that is the point of the option.

Not covered: identifiers burned into the pixels (the profile's Clean Pixel Data Option); Hilum
keeps the film's pixels as uploaded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

PROFILE_TABLE = "dicomfields_2026c"  # the library's PS3.15 Table E.1-1 edition (DICOM 2026c)
METHOD = "PS3.15 Basic Profile, Retain UIDs Option (dicom-anonymizer)"  # LO: at most 64
METHOD_CODES: tuple[tuple[str, str], ...] = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113108", "Retain UIDs Option"),
)
REMOVED_KEY = "PatientIdentityRemoved"
METHOD_KEY = "DeidentificationMethod"


@functools.lru_cache(maxsize=1)
def _profile_actions() -> dict[Any, Callable[..., None]]:
    from dicomanonymizer.simpledicomanonymizer import initialize_actions

    return initialize_actions(PROFILE_TABLE)


def deidentify_header(header: dict[str, str]) -> dict[str, str]:
    """The kept attributes after the basic profile (UIDs are not among them: retained), marked as
    de-identified."""
    from dicomanonymizer.simpledicomanonymizer import anonymize_dataset

    ds = Dataset()
    for keyword, value in header.items():
        if keyword not in (REMOVED_KEY, METHOD_KEY):
            setattr(ds, keyword, value)
    # a copy of the table each time: the library updates the dict it is given with any extra rules
    anonymize_dataset(ds, base_rules_gen=lambda: dict(_profile_actions()), delete_private_tags=True)
    # the profile's "Z" for a date or time is a zero-length value or a dummy; the library's dummy
    # (0001-01-01) is refused by dciodvfy, so dates and times are kept zero-length
    out = {elem.keyword: "" if elem.VR in ("DA", "TM", "DT") else str(elem.value) for elem in ds if elem.keyword}
    out[REMOVED_KEY] = "YES"
    out[METHOD_KEY] = METHOD
    return out


def is_deidentified(header: dict[str, str]) -> bool:
    return header.get(REMOVED_KEY) == "YES"


def mark_deidentified(ds: Dataset) -> Dataset:
    """Patient Identity Removed, De-identification Method and its codes on a result (PS3.3 C.7.1.1)."""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    codes = []
    for value, meaning in METHOD_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    return ds
