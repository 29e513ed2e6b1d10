"""The turns load test: its pure parts (percentiles, the Poisson schedule, the declared scenarios,
the turn-order check) and a quick run of every scenario against a real server it starts itself.
Behaviour only: no timing thresholds."""

from __future__ import annotations

import json
import math
import os
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loadtests import turns
from loadtests.turns import (
    BY_NAME,
    QUESTIONS,
    SCENARIOS,
    Record,
    Scenario,
    percentile,
    poisson_schedule,
    shaped,
    turn_order_violations,
)


def test_percentile_matches_known_data_and_numpy() -> None:
    data = list(range(1, 101))
    assert percentile(data, 0) == 1 and percentile(data, 100) == 100
    assert percentile(data, 50) == pytest.approx(50.5)
    assert percentile(data, 90) == pytest.approx(90.1)
    assert percentile(data, 99) == pytest.approx(99.01)
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of the input does not matter
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    xs = np.random.default_rng(1).exponential(size=999).tolist()
    for q in (1, 25, 50, 90, 99, 99.9):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))
    with pytest.raises(ValueError):
        percentile(data, 101)


def test_the_poisson_schedule_has_the_requested_rate_on_a_fixed_seed() -> None:
    rate, seconds = 400.0, 30.0
    arrivals = poisson_schedule(rate, seconds, seed=7, upload_fraction=0.01)
    assert arrivals == poisson_schedule(rate, seconds, seed=7, upload_fraction=0.01)
    assert arrivals != poisson_schedule(rate, seconds, seed=8, upload_fraction=0.01)
    times = np.array([a.at for a in arrivals])
    assert times.min() >= 0 and times.max() < seconds and np.all(np.diff(times) > 0)
    expected = rate * seconds  # 12000, sd sqrt(12000) ~ 110
    assert abs(len(arrivals) - expected) < 4 * math.sqrt(expected)
    assert len(arrivals) / seconds == pytest.approx(rate, rel=0.05)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.1)  # exponential gaps
    kinds = [a.kind for a in arrivals]
    assert kinds[50] == kinds[150] == "upload" and kinds.count("upload") == math.ceil((len(kinds) - 50) / 100)
    assert {a.kind for a in poisson_schedule(50.0, 10.0, seed=1)} == {"turn"}
    with pytest.raises(ValueError):
        poisson_schedule(0.0, 1.0, seed=0)


def test_the_declared_scenarios_are_frozen_checked_and_shaped() -> None:
    assert [s.name for s in SCENARIOS] == ["first_turn", "first_turn_read_alone", "followups_closed_64",
                                          "followups_closed_4", "poisson_mixed", "long_session"]
    assert BY_NAME["first_turn_read_alone"].films == "read_alone" and BY_NAME["first_turn"].films == "examples"
    assert BY_NAME["followups_closed_64"].connections == 64 and BY_NAME["followups_closed_4"].connections == 4
    assert BY_NAME["poisson_mixed"].kind == "open" and BY_NAME["poisson_mixed"].sessions == 64
    assert BY_NAME["long_session"].count >= 201 and BY_NAME["long_session"].probe_turns == (2, 200)
    with pytest.raises(FrozenInstanceError):
        BY_NAME["first_turn"].count = 1  # type: ignore[misc]
    for bad in ({"kind": "half-open"}, {"duration_s": 5.0, "count": 5}, {"duration_s": 1.0, "warmup_s": 2.0},
                {"connections": 0}, {"upload_fraction": 2.0}, {"films": "other"}):
        args: dict[str, Any] = {"name": "x", "kind": "closed", "work": "followups", "count": 10, **bad}
        if "duration_s" in bad and "count" not in bad:
            args.pop("count")
        with pytest.raises(ValueError):
            Scenario(**args)
    long = shaped(BY_NAME["followups_closed_64"], duration_s=30.0)
    assert long.duration_s == 30.0 and long.warmup_s == BY_NAME["followups_closed_64"].warmup_s
    quick = [shaped(s, quick=True) for s in SCENARIOS]
    assert all((q.duration_s or 0) <= 2 and (q.count or 0) <= 40 for q in quick)
    assert [q.connections for q in quick] == [s.connections for s in SCENARIOS]  # the same shapes, shorter
    assert len(QUESTIONS) >= 12 and len(set(QUESTIONS)) == len(QUESTIONS)
    assert any("肺" in q for q in QUESTIONS) and any(q.isascii() for q in QUESTIONS)


def test_server_settings_from_the_command_line_are_hilum_settings_only() -> None:
    assert turns.server_env(["HILUM_ANALYSIS_PROCESSES=1", "HILUM_X=a=b"]) == {"HILUM_ANALYSIS_PROCESSES": "1",
                                                                                 "HILUM_X": "a=b"}
    for bad in (["PATH=/tmp"], ["HILUM_ANALYSIS_PROCESSES"]):
        with pytest.raises(SystemExit):
            turns.server_env(bad)


def test_cpu_lists_name_cpus_this_machine_has() -> None:
    first = min(os.sched_getaffinity(0))
    assert turns.cpu_list(str(first)) == {first}
    assert turns.cpu_list(f"{first}-{first},{first}") == {first}
    for bad in ("", "x", "1-0", "-1", "0-", "100000"):
        with pytest.raises(ValueError):
            turns.cpu_list(bad)


def test_the_turn_order_check_counts_gaps_repeats_and_ignores_errors() -> None:
    def rec(session: str, turn: int | None, sent: float, status: int = 200) -> Record:
        return Record("turn", session, sent, sent, sent + 0.01, status=status, turn=turn)

    good = [rec("a", 2, 0.0), rec("b", 3, 0.1), rec("a", 3, 0.2), rec("a", None, 0.3, status=500),
            rec("a", 4, 0.4), rec("b", 4, 0.5)]
    assert turn_order_violations(good, {"a": 1, "b": 2}) == 0
    assert turn_order_violations([rec("a", 2, 0.0), rec("a", 4, 0.1)], {"a": 1}) == 1  # a gap
    assert turn_order_violations([rec("a", 2, 0.0), rec("a", 2, 0.1)], {"a": 1}) == 1  # a repeat
    assert turn_order_violations([rec("a", 3, 0.0)], {"a": 1}) == 1


# --- a quick run of every scenario against a real server ------------------------------------------------------
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[turns.Outcome], Path]:
    out = tmp_path_factory.mktemp("turns")
    doc, outcomes = turns.main(["--quick", "--out", str(out)])
    return doc, outcomes, out


def test_every_request_of_the_quick_run_is_answered(quick_run: tuple[dict[str, Any], list[Any], Path]) -> None:
    _, outcomes, _ = quick_run
    assert [o.scenario.name for o in outcomes] == [s.name for s in SCENARIOS]
    for o in outcomes:
        sent = [r for r in o.records if r.kind != "dropped"]
        assert sent, o.scenario.name
        assert {r.status for r in sent} <= {200, 201}, (o.scenario.name, sorted({r.status for r in sent}))
        assert all(r.status == 201 and r.turn == 1 for r in sent if r.kind == "upload")
        assert all(r.status == 200 for r in sent if r.kind == "turn")
        assert all(r.done >= r.sent >= r.scheduled - 1e-6 for r in sent)
    by_name = {o.scenario.name: o for o in outcomes}
    assert all(r.kind == "upload" for r in by_name["first_turn"].records)
    assert {r.timings.keys() >= {"decode", "gate", "encode", "findings", "compose"}
            for r in by_name["first_turn"].records} == {True}
    # the example films are read from the encoder's maps; the read-alone films by the second reader alone, as declared
    assert not any(r.read_alone for r in by_name["first_turn"].records)
    assert all(r.read_alone and "second_reader_alone" in r.timings for r in by_name["first_turn_read_alone"].records)
    closed_64 = {r.session for r in by_name["followups_closed_64"].records}
    assert len(closed_64) == 64  # one session per connection
    assert len({r.session for r in by_name["followups_closed_4"].records}) == 4
    kinds = {r.kind for r in by_name["poisson_mixed"].records}
    assert {"turn", "upload"} <= kinds  # follow-ups with new films mixed in (the quick run's fraction)


def test_turn_numbers_rise_by_one_in_every_session(quick_run: tuple[dict[str, Any], list[Any], Path]) -> None:
    _, outcomes, _ = quick_run
    for o in outcomes:
        last = dict(o.first_turn)
        for r in sorted((r for r in o.records if r.kind == "turn"), key=lambda r: r.sent):
            assert r.turn == last[r.session] + 1, (o.scenario.name, r.session, r.turn, last[r.session])
            last[r.session] = r.turn
        assert o.summary["turn_order_violations"] == 0
    long = next(o for o in outcomes if o.scenario.name == "long_session")
    assert [r.turn for r in long.records] == list(range(2, 2 + long.scenario.count))


def test_the_json_result_has_every_field(quick_run: tuple[dict[str, Any], list[Any], Path]) -> None:
    doc, _, out = quick_run
    on_disk = json.loads((out / "turns-results.json").read_text())
    assert on_disk["command"] == doc["command"] and "--quick" in doc["command"]
    assert {"command", "date", "machine", "server", "client", "scenarios"} <= on_disk.keys()
    assert on_disk["machine"]["cpu_count"] >= 1 and "cpu_model" in on_disk["machine"]
    assert on_disk["server"]["started_here"] is True
    assert on_disk["server"]["connection_probe"]["healthz_keepalive_median_ms"] > 0
    assert on_disk["server"]["env"]["HILUM_TENANT_RATE_PER_S"] == "0"
    assert set(on_disk["scenarios"]) == {s.name for s in SCENARIOS}
    for name, s in on_disk["scenarios"].items():
        part = s["uploads"] if name.startswith("first_turn") else s["turns"]
        for key in ("count", "ok", "errors_by_status", "http_429", "throughput_per_s", "p50_ms", "p90_ms",
                    "p99_ms", "max_ms", "stage_mean_ms"):
            assert key in part, (name, key)
        assert part["count"] == part["ok"] > 0 and part["errors_by_status"] == {} and part["http_429"] == 0
        assert part["p50_ms"] <= part["p90_ms"] <= part["p99_ms"] <= part["max_ms"]
        assert s["declared"]["name"] == name
        for key in ("client_cpu_s", "client_cpu_ms_per_request", "server_cpu_ms_per_request", "machine_percent"):
            assert key in s["cpu"], (name, key)
    alone = on_disk["scenarios"]["first_turn_read_alone"]["uploads"]
    assert alone["read_alone"] == alone["count"] and on_disk["scenarios"]["first_turn"]["uploads"]["read_alone"] == 0
    stages = on_disk["scenarios"]["first_turn"]["uploads"]["stage_mean_ms"]
    assert {"decode", "gate", "encode", "findings", "compose", "narrate"} <= stages.keys()
    assert {"parse", "compose"} <= on_disk["scenarios"]["followups_closed_4"]["turns"]["stage_mean_ms"].keys()
    poisson = on_disk["scenarios"]["poisson_mixed"]
    assert {"rate_per_s", "rate_source", "scheduled", "dropped", "late"} <= poisson["open_loop"].keys()
    assert poisson["open_loop"]["rate_source"].startswith("half")
    if "uploads" in poisson:  # the measured window's uploads (the records test finds them over the whole run)
        assert poisson["uploads"]["count"] == poisson["uploads"]["ok"] >= 1
    assert on_disk["scenarios"]["long_session"]["long_session"]["late_over_early"] > 0
    assert on_disk["scenarios"]["long_session"]["long_session"]["slowest_late_over_early"] > 0


def test_the_plot_is_a_png(quick_run: tuple[dict[str, Any], list[Any], Path]) -> None:
    _, _, out = quick_run
    png = out / "turns-latency.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_the_long_session_probe_shows_a_question_whose_cost_grows() -> None:
    """Medians stay flat when one question in fourteen slows with the session; the slowest turn of
    each window does not."""
    def record(turn: int, seconds: float) -> Record:
        return Record("turn", "s", 0.0, 0.0, seconds, status=200, turn=turn)

    records = [record(t, 0.030 if t % 14 == 0 and t > 100 else 0.002) for t in range(1, 221)]
    probe = turns.probe_medians(records, (2, 200), 7)
    assert probe["late_over_early"] == pytest.approx(1.0)
    assert probe["slowest_late_over_early"] == pytest.approx(15.0)
