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
    (("A", "F"), None),  # not a frontal display: the pixels decide
    (None, None),
])
def test_patient_orientation_names_the_display(po: tuple | None, orientation: str | None) -> None:
    verdict = read_tags({"modality": "DX", "body_part": "CHEST", "patient_orientation": po})
    assert verdict.refuse is None and verdict.orientation == orientation


def test_frontal_views_and_absent_tags() -> None:
    assert read_tags({"modality": "DX", "body_part": "CHEST", "view_position": "PA"}).view == "PA"
    assert read_tags({"modality": "CR", "view_position": "AP"}).view == "AP"
    plain = read_tags({})  # a PNG: the file says nothing
    assert plain.refuse is None and plain.view is None and plain.orientation is None and not plain.warnings
    assert read_tags({"modality": "OT"}).warnings == ("secondary_capture",)
