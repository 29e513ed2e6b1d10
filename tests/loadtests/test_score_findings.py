"""``loadtests/score_findings.py``'s dome measure: how far the stated dome height difference lies from the truth's."""

from __future__ import annotations

from dataclasses import replace

from loadtests.score_findings import dome_errors, dome_rise_mm
from tests.orchestrator.dialogue.conftest import scenario_facts


def test_the_dome_rise_is_the_right_domes_height_above_the_left_in_mm() -> None:
    facts = scenario_facts()  # domes at rows 400 (right) and 410 (left), 0.7 mm per pixel
    assert abs(dome_rise_mm(facts) - 7.0) < 1e-9
    one = replace(facts, anatomy=replace(facts.anatomy, diaphragm_dome_px={"right": (150.0, 400.0)}))
    assert dome_rise_mm(one) is None


def test_dome_errors_pair_the_films_and_skip_those_without_both_domes() -> None:
    truth = scenario_facts()
    lower = replace(truth, anatomy=replace(truth.anatomy, diaphragm_dome_px={"right": (150.0, 405.0),
                                                                             "left": (360.0, 410.0)}))
    none = replace(truth, anatomy=replace(truth.anatomy, diaphragm_dome_px={}))
    errors = dome_errors([(truth, []), (truth, []), (truth, [])], [(lower, []), (truth, []), (none, [])])
    assert [round(e, 6) for e in errors] == [3.5, 0.0]
