"""The benchmark's interleaved headline (round order, the within-round ratio) and its account of the
machine's cores during a cell."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from loadtests.bench_encoder import RAW, MachineShare, headline_ratios, machine_jiffies, median_share, rotated


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


def test_the_machine_share_splits_busy_time_into_ours_and_others() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal, in ticks over all cores
    before = np.array([1000, 0, 100, 5000, 10, 0, 5, 40], dtype=np.int64)
    after = before + np.array([120, 10, 30, 30, 5, 0, 0, 5], dtype=np.int64)  # 200 ticks in all
    share = MachineShare.between(before, after, ours_cpu_s=100 / tick)
    assert share == MachineShare(ours=50.0, others=30.0, idle=17.5, steal=2.5)
    # our processes cannot have used more than the machine's busy time (rounding of /proc)
    assert MachineShare.between(before, after, ours_cpu_s=1000 / tick).others == 0.0


def test_the_machine_jiffies_are_read_from_proc_and_grow() -> None:
    first = machine_jiffies()
    end = time.perf_counter() + 0.05  # five clock ticks of busy work
    while time.perf_counter() < end:
        pass
    second = machine_jiffies()
    assert first.shape == (8,) and (second >= first).all() and second.sum() > first.sum()


def test_the_median_idle_share_is_taken_per_system_over_rounds() -> None:
    rounds = [{RAW: {"idle": 2.0}, "triton": {"idle": 30.0}},
              {RAW: {"idle": 4.0}, "triton": {"idle": 10.0}},
              {RAW: {"idle": 3.0}, "triton": {"idle": 20.0}}]
    assert median_share(rounds, "idle") == {RAW: 3.0, "triton": 20.0}
