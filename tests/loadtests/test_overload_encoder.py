"""The overload scenario's parts: the declared arrivals, the summary of outcomes, and the open-loop
driver against a real tritonserver on loopback."""

from __future__ import annotations

import asyncio
import math
from contextlib import closing

import numpy as np
import pytest

from export.triton_server import TritonServer
from loadtests.overload_encoder import SYSTEMS, Outcome, Scenario, arrival_times, drive, summarize
from orchestrator.encoders.triton import TritonEncoder
from orchestrator.settings import Settings


def test_arrivals_are_a_seeded_poisson_process_inside_the_window() -> None:
    times = arrival_times(rate=50.0, seconds=40.0, seed=3)
    assert np.array_equal(times, arrival_times(rate=50.0, seconds=40.0, seed=3))
    assert not np.array_equal(times, arrival_times(rate=50.0, seconds=40.0, seed=4))
    assert times.min() >= 0.0 and times.max() < 40.0 and np.all(np.diff(times) > 0)
    assert abs(len(times) - 2000) < 5 * math.sqrt(2000)  # the count of a Poisson process: 2000 +- 45
    gaps = np.diff(times)
    assert abs(gaps.std() / gaps.mean() - 1.0) < 0.1  # exponential gaps: as spread as they are long


def test_the_summary_counts_each_kind_and_times_it_from_its_due_time() -> None:
    outcomes = [Outcome(0.0, 0.5, "served"), Outcome(1.0, 3.0, "served"), Outcome(1.5, 1.502, "refused"),
                Outcome(2.0, 2.004, "refused"), Outcome(2.5, 32.5, "failed")]
    s = summarize(outcomes, seconds=5.0)
    assert s["offered_per_s"] == 1.0
    assert (s["served"], s["refused"], s["failed"]) == (0.4, 0.4, 0.2)
    assert s["served_p50_s"] == pytest.approx(1.25) and s["served_max_s"] == pytest.approx(2.0)
    assert s["refusal_p99_ms"] == pytest.approx(3.98)
    assert math.isnan(summarize([Outcome(0.0, 1.0, "served")], 1.0)["refusal_p99_ms"])


@pytest.mark.triton
def test_the_driver_sends_on_schedule_whatever_came_before(committed_triton: TritonServer) -> None:
    films = [np.random.default_rng(0).random((512, 512), dtype=np.float32)]
    arrivals = np.arange(10) * 0.001  # 10 films within 10 ms against a limit of 3
    with closing(TritonEncoder(committed_triton.grpc_url, Settings().triton_model_name, max_in_flight=3)) as enc:
        outcomes = asyncio.run(drive(enc, films, arrivals))
        wrong = asyncio.run(drive(enc, [np.zeros((256, 256), np.float32)], arrivals[:2]))
    kinds = [o.kind for o in outcomes]
    assert [o.scheduled for o in outcomes] == pytest.approx(list(arrivals))
    assert kinds[:3] == ["served"] * 3 and "failed" not in kinds
    # a film takes tens of ms: all 7 later ones find the limit taken, unless the driver stalls
    # for that long on a busy machine, and then one or two may find a place again
    assert kinds.count("refused") >= 5, kinds
    served = [o for o in outcomes if o.kind == "served"]
    refused = [o for o in outcomes if o.kind == "refused"]
    assert max(o.latency for o in refused) < min(o.latency for o in served)  # refused at once
    assert [o.kind for o in wrong] == ["failed", "failed"]  # Triton refuses the shape: not a 429


def test_the_declared_systems_cover_each_bound_and_run_the_unbounded_one_last() -> None:
    assert {(s.queue_policy, s.limited) for s in SYSTEMS} == {(True, False), (False, True), (True, True), (False, False)}
    assert SYSTEMS[-1].queue_policy is False and SYSTEMS[-1].limited is False
    with pytest.raises(ValueError):
        Scenario(load=0.0)
    with pytest.raises(ValueError):
        Scenario(limit=0)
