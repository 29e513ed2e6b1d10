"""The lobulation-threshold sweep (loadtests/margin_threshold.py): its tallies and its scoring."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from encoder.phantom import PhantomCase
from encoder.phantom.case import CaseSpec, generate_case
from encoder.phantom.lesions import LesionSpec
from encoder.phantom.volume import load_volume
from evaluation.scoring import case_spacing, score, truth_maps
from loadtests.margin_threshold import MarginTally, format_report, margin_calls, sweep
from orchestrator.findings import analyse, margin
from orchestrator.settings import Settings

TWO_NODULES = CaseSpec(
    lesions=(
        LesionSpec(type="nodule", diameter_mm=16.0, lobe="RUL", margin="lobulated", lobulated=True),
        LesionSpec(type="nodule", diameter_mm=14.0, lobe="LUL", margin="smooth", lobulated=False),
    )
)


@pytest.fixture(scope="module")
def case() -> PhantomCase:
    return generate_case(3, TWO_NODULES, volume=load_volume(Path(Settings().cache_dir)))


def test_tally_counts_three_classes_and_smooth_against_irregular() -> None:
    t = MarginTally(
        Counter(
            {
                ("smooth", "smooth"): 4,
                ("smooth", "lobulated"): 1,
                ("lobulated", "spiculated"): 2,
                ("spiculated", "spiculated"): 3,
                ("spiculated", "smooth"): 5,
            }
        )
    )
    assert (t.lesions, t.right, t.irregular_right) == (15, 7, 9)


def test_at_the_shipped_value_it_agrees_with_the_scorer(case: PhantomCase) -> None:
    spacing, lesions = case_spacing(case), case.truth["lesions"]
    calls = margin_calls(truth_maps(case), spacing, lesions, margin.LOBULATION_FRAC)
    assert sorted(calls) == [("lobulated", "lobulated"), ("smooth", "smooth")]
    tally = score([(analyse(truth_maps(case), spacing), lesions)]).tallies["margin_ge10"]
    assert (tally.total, tally.ok) == (2, 2)


def test_the_threshold_reaches_the_reader_and_is_restored(case: PhantomCase) -> None:
    shipped = margin.LOBULATION_FRAC
    tallies = sweep([case], {"truth": truth_maps}, [shipped, 0.9])
    after = margin.LOBULATION_FRAC
    assert after == shipped, "the sweep left the threshold changed"
    assert tallies["truth"][shipped].confusion == Counter({("lobulated", "lobulated"): 1, ("smooth", "smooth"): 1})
    # no notch is 0.9 of the radius deep: the lobulated nodule reads smooth
    assert tallies["truth"][0.9].confusion == Counter({("lobulated", "smooth"): 1, ("smooth", "smooth"): 1})
    report = format_report(tallies, shipped)
    assert f"{shipped:.2f} (shipped)" in report and "| truth: margin right of 2 | 2 | 1 |" in report
