"""The benchmark's interleaved headline: round order and the within-round ratio."""

from __future__ import annotations

import pytest

from loadtests.bench_encoder import RAW, headline_ratios, rotated


def test_each_system_takes_each_position_once_over_as_many_rounds() -> None:
    names = [RAW, "embedded", "triton"]
    orders = [rotated(names, r) for r in range(3)]
    assert all(sorted(o) == sorted(names) for o in orders)
    for position in range(3):
        assert sorted(o[position] for o in orders) == sorted(names)


def test_a_ratio_is_taken_within_its_round_and_summarised_by_the_median() -> None:
    # the machine slows down in round 2: raw and triton both halve, their ratio does not move
    rounds = [
        {RAW: 30.0, "triton": 27.0},
        {RAW: 15.0, "triton": 13.5},
        {RAW: 28.0, "triton": 21.0},
    ]
    ratios = headline_ratios(rounds)
    assert set(ratios) == {"triton"}
    assert ratios["triton"]["median"] == pytest.approx(0.9)
    assert ratios["triton"]["min"] == pytest.approx(0.75)
    assert ratios["triton"]["max"] == pytest.approx(0.9)
