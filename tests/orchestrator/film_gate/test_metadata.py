"""What the file says: DICOM tags refuse or name, never accept on their own."""

from __future__ import annotations

import pytest

from orchestrator.film_gate.metadata import read_tags


@pytest.mark.parametrize(("info", "reason"), [
    ({"modality": "CT"}, "modality"),
    ({"modality": "MR"}, "modality"),
    ({"modality": "DX", "body_part": "HAND"}, "body_part"),
    ({"modality": "CR", "body_part": "SKULL"}, "body_part"),
    ({"modality": "DX", "view_position": "LL"}, "lateral_view"),
    ({"modality": "DX", "view_position": "LATERAL"}, "lateral_view"),
    ({"modality": "DX", "patient_orientation": ("L", "H")}, "upside_down"),
    # one axis front to back, the other head to foot: only a lateral or oblique projection lies so (the pixels pass a
    # lateral as a chest as often as not: loadtests/film_corpus.py, "lateral")
    ({"modality": "DX", "patient_orientation": ("A", "F")}, "lateral_view"),
    ({"modality": "DX", "patient_orientation": ("P", "F")}, "lateral_view"),
    ({"modality": "DX", "patient_orientation": ("F", "A")}, "lateral_view"),
    ({"modality": "DX", "patient_orientation": ("PL", "FR")}, "lateral_view"),
    # the View Code Sequence (CID 4010) where View Position is absent or says nothing
    ({"modality": "DX", "view_code": "399198007|RIGHT LATERAL"}, "lateral_view"),
    ({"modality": "DX", "view_code": "R-10236|LEFT LATERAL"}, "lateral_view"),
    ({"modality": "DX", "view_code": "399135007|LEFT ANTERIOR OBLIQUE"}, "lateral_view"),
    ({"modality": "DX", "view_position": "", "view_code": "|LATERAL"}, "lateral_view"),
])
def test_tags_that_rule_a_film_out(info: dict, reason: str) -> None:
    assert read_tags(info).refuse == reason


@pytest.mark.parametrize(("po", "orientation"), [
    (("L", "F"), "upright"),
    (("LP", "FL"), "upright"),  # combined letters: the first names the dominant direction
    (("R", "F"), "flipped_lr"),
    (("R", "H"), "rotated_180"),
    (("F", "R"), "rotated_90"),
    (("H", "L"), "rotated_90"),
    (("A", "L"), None),  # no head-foot axis: not a radiograph's display, the pixels decide
    (None, None),
])
def test_patient_orientation_names_the_display(po: tuple | None, orientation: str | None) -> None:
    verdict = read_tags({"modality": "DX", "body_part": "CHEST", "patient_orientation": po})
    assert verdict.refuse is None and verdict.orientation == orientation


@pytest.mark.parametrize(("info", "view"), [
    ({"view_code": "272479007|POSTERO-ANTERIOR"}, "PA"),
    ({"view_code": "399348003|ANTERO-POSTERIOR"}, "AP"),
    ({"view_code": "R-10214|POSTERO ANTERIOR"}, "PA"),  # an older SNOMED RT code: its meaning names it
    ({"view_code": "R-10206|ANTERO-POSTERIOR"}, "AP"),
    ({"view_position": "PA", "view_code": "399348003|ANTERO-POSTERIOR"}, "PA"),  # View Position first
    ({"view_code": "111|SOMETHING ELSE"}, None),
    ({"view_code": None}, None),
])
def test_the_view_code_names_a_frontal_view(info: dict, view: str | None) -> None:
    verdict = read_tags({"modality": "DX", "body_part": "CHEST", **info})
    assert verdict.refuse is None and verdict.view == view


def test_frontal_views_and_absent_tags() -> None:
    assert read_tags({"modality": "DX", "body_part": "CHEST", "view_position": "PA"}).view == "PA"
    assert read_tags({"modality": "CR", "view_position": "AP"}).view == "AP"
    plain = read_tags({})  # a PNG: the file says nothing
    assert plain.refuse is None and plain.view is None and plain.orientation is None and not plain.warnings
    assert read_tags({"modality": "OT"}).warnings == ("secondary_capture",)
