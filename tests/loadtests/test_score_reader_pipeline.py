"""``loadtests/score_reader_pipeline.py``'s tallies: margins graded on nodules and masses >= 10 mm, sizes on
every round lesion >= 8 mm found, a miss counted as a miss (rows made by hand; the run itself needs minutes)."""

from __future__ import annotations

from typing import Any

from loadtests.score_reader_pipeline import size_tally, tally


def _row(kind: str, diameter: float, found: bool = True, ratio: float = 1.0, margin: str = "smooth",
         truth_margin: str = "smooth") -> dict[str, Any]:
    row: dict[str, Any] = {"truth_type": kind, "truth_diameter_mm": diameter, "truth_margin": truth_margin,
                           "found": found, "timings": {"findings": 0.01}}
    if found:
        row.update(margin=margin, source="reader", p_margin=0.9, kind=kind, centre_error_mm=1.0, diameter_ratio=ratio)
    return row


def test_sizes_are_graded_on_round_lesions_of_8_mm_or_more_found() -> None:
    rows = [_row("nodule", 12.0, ratio=1.10), _row("cavity", 20.0, ratio=1.18), _row("mass", 35.0, ratio=0.75),
            _row("calcified_nodule", 9.0, ratio=1.0), _row("nodule", 6.0, ratio=2.0),  # under 8 mm: not graded
            _row("strand", 25.0, ratio=2.0), _row("nodule", 15.0, found=False)]  # not round; not found
    size = size_tally(rows)
    assert size["round_ge8mm_found"] == 4
    assert size["diameter_within_15pct"] == "2/4 (50.0%)" and size["diameter_within_20pct"] == "3/4 (75.0%)"


def test_margins_are_graded_on_nodules_and_masses_of_10_mm_or_more() -> None:
    rows = [_row("nodule", 12.0, margin="lobulated", truth_margin="lobulated"),
            _row("mass", 31.0, margin="smooth", truth_margin="spiculated"),
            _row("cavity", 20.0, margin="smooth", truth_margin="lobulated"),  # not graded for margin
            _row("nodule", 8.0)]  # under 10 mm
    out = tally(rows, threshold=0.8)
    assert (out["nodules_ge10mm"], out["found"], out["margin_right"]) == (2, 2, "1/2 (50.0%)")
    assert out["smooth_stated_flatly"] == 1 and out["smooth_stated_flatly_right"] == 0
    assert out["size"]["round_ge8mm_found"] == 4
