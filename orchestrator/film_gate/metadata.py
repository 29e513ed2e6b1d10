"""What the file says: DICOM Modality, BodyPartExamined, ViewPosition, View Code Sequence, PatientOrientation, and
the patient's age group (``orchestrator.patient_age``).

Tags only ever *refuse* or *name*; a film is never accepted on its tags alone (the pixels must
agree, ``orchestrator.film_gate.image``). Absent tags (PNG, JPEG, a sparse DICOM) say nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.patient_age import AGE_GROUPS

# projection radiography; OT/SC (other, secondary capture) carry anything, so the pixels decide
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG"})
UNDECIDED_MODALITIES = frozenset({"OT", "SC", ""})
CHEST_PARTS = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS", "TORSO", "CHEST_TO_PELVIS", "CHESTABDOMEN",
                         "CHEST_ABDOMEN", "PORTABLE"})
FRONTAL_VIEWS = frozenset({"PA", "AP"})
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "LLO", "RLO", "OBL", "OBLIQUE", "LPO",
                           "RPO", "LAO", "RAO"})
# the View Code Sequence (DICOM CID 4010, "DX View"): SNOMED CT codes of the frontal views, and words of a code meaning
# (SNOMED CT or the older SNOMED RT codes' "left lateral", "right anterior oblique", ...) that name any other chest view
FRONTAL_VIEW_CODES = {"272479007": "PA", "399348003": "AP"}
FRONTAL_VIEW_MEANINGS = {"POSTERO-ANTERIOR": "PA", "ANTERO-POSTERIOR": "AP"}
NOT_FRONTAL_WORDS = ("LATERAL", "OBLIQUE")
# a PatientOrientation direction along the body's front-back axis: the image's rows or columns run through the chest
# from front to back, as only a lateral (or oblique) projection's do
FRONT_BACK = frozenset("AP")


@dataclass(frozen=True)
class TagVerdict:
    refuse: str | None = None  # a reason code when the tags alone rule the film out
    view: str | None = None  # PA / AP when the file says so
    orientation: str | None = None  # upright, rotated_90, rotated_180, flipped_lr, or None: not said
    warnings: tuple[str, ...] = ()
    age_group: str | None = None  # infant, child, adult (orchestrator.patient_age), or None: not said


def _orientation(po: Any) -> tuple[str | None, str | None]:
    """(orientation, refusal) from PatientOrientation (row direction, column direction).

    Standard PA display is ("L", "F"): columns run towards the patient's left, rows towards the
    feet. Each value may combine letters ("LP"); the first letter is the dominant direction."""
    if not po or len(po) < 2 or not po[0] or not po[1]:
        return None, None
    row, col = po[0][0], po[1][0]
    table = {("L", "F"): "upright", ("R", "F"): "flipped_lr", ("R", "H"): "rotated_180",
             ("F", "R"): "rotated_90", ("H", "L"): "rotated_90", ("F", "L"): "rotated_90", ("H", "R"): "rotated_90"}
    if (row, col) in table:
        return table[(row, col)], None
    if (row, col) == ("L", "H"):
        return None, "upside_down"  # flipped top to bottom: no orientation of the contract names it
    if {row, col} & FRONT_BACK and {row, col} & set("HF"):
        return None, "lateral_view"  # one axis front to back, the other head to foot: a lateral or oblique view
    return None, None


def _coded_view(code: Any) -> str | None:
    """``"VALUE|MEANING"`` of the View Code Sequence -> "PA", "AP", "other" (a lateral or oblique view), or None."""
    if not code:
        return None
    value, _, meaning = str(code).upper().partition("|")
    if value in FRONTAL_VIEW_CODES:
        return FRONTAL_VIEW_CODES[value]
    if any(word in meaning for word in NOT_FRONTAL_WORDS):
        return "other"
    return next((v for m, v in FRONTAL_VIEW_MEANINGS.items() if m in meaning.replace(" ", "-")), None)


def read_tags(info: dict[str, Any]) -> TagVerdict:
    """``info`` is ``DecodedFilm.info`` (``orchestrator.imaging``)."""
    modality = (info.get("modality") or "").upper()
    if modality and modality not in RADIOGRAPH_MODALITIES | UNDECIDED_MODALITIES:
        return TagVerdict(refuse="modality")
    part = (info.get("body_part") or "").upper().replace(" ", "_")
    if part and part not in CHEST_PARTS:
        return TagVerdict(refuse="body_part")
    view = (info.get("view_position") or "").upper()
    coded = _coded_view(info.get("view_code"))
    if view in LATERAL_VIEWS or coded == "other":
        return TagVerdict(refuse="lateral_view")
    if view not in FRONTAL_VIEWS and coded is not None:
        view = coded
    orientation, refusal = _orientation(info.get("patient_orientation"))
    if refusal:
        return TagVerdict(refuse=refusal)
    warnings: list[str] = []
    if modality in ("OT", "SC"):
        warnings.append("secondary_capture")
    if int(info.get("frames") or 1) > 1:
        warnings.append("first_frame_only")
    age = info.get("age_group")
    return TagVerdict(view=view if view in FRONTAL_VIEWS else None, orientation=orientation, warnings=tuple(warnings),
                      age_group=age if age in AGE_GROUPS else None)
