"""The findings layer on phantom films, truth maps as input; the truth only scores.

The default suite scores 20 films; the slow run scores 60 (``-m slow``). The lobe threshold
is below the issue's 95%: on a PA projection the lobes overlap (the lower lobes lie behind
the upper and middle lobes), and even an oracle that knows each lobe's true projected
thickness at the lesion centre names the right lobe on only about 75% of these lesions
(measured with the phantom's CT, see the report); the rule used reaches 80-88% (seeds 0-119).
Where projected lobes overlap at the centre the finding says so (``lobe_overlap``) and the
answer calls the lobe an estimate: with that, the true lobe is always among those named
(100% on seeds 0-59), while about two thirds of the lesions (64%) sit in such an overlap.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from evaluation.scoring import Score, format_table, score

DEFAULT_FILMS = 20
SLOW_FILMS = 60


def _check(s: Score) -> None:
    table = format_table({"truth maps": s})
    assert s.tallies["laterality"].rate == 1.0, table  # never wrong
    assert s.tallies["detected"].rate >= 0.9, table
    assert s.tallies["zone"].rate >= 0.9, table
    assert s.tallies["band"].rate >= 0.9, table
    assert s.tallies["diameter_15"].rate >= 0.9, table
    assert s.tallies["margin_ge10"].rate >= 0.85, table
    assert s.tallies["hilum_3mm"].rate >= 0.9, table
    assert s.tallies["lobe"].rate >= 0.75, table
    assert s.tallies["lobe_or_overlap"].rate >= 0.95, table
    assert s.tallies["lobe_flagged"].rate <= 0.8, table  # the flag is a finding, not a blanket hedge
    assert s.tallies["calcified"].rate >= 0.9, table
    assert s.tallies["cavity"].rate >= 0.9, table
    assert s.tallies["costophrenic"].rate >= 0.9, table


def test_truth_maps_score_default(phantom_results: Callable) -> None:
    _check(score(phantom_results(DEFAULT_FILMS)))


@pytest.mark.slow
def test_truth_maps_score_sixty_films(phantom_results: Callable) -> None:
    s = score(phantom_results(SLOW_FILMS))
    assert s.films == SLOW_FILMS
    _check(s)
    assert s.tallies["diameter_15"].rate >= 0.95
    assert s.tallies["hilum_3mm"].rate >= 0.95
    assert s.tallies["margin_ge10"].rate >= 0.9
    assert s.tallies["lobe"].rate >= 0.8
