"""Overload: what callers get when films arrive faster than Triton can encode them.

    .venv/bin/python -m loadtests.overload_encoder [--load 1.5] [--seconds 15] [--seed 0]

Declared scenario (the load is fixed before the run and apart from the system under test):
the committed encoder in a throwaway repository with two models, the config with the REJECT queue
policy (64 films, 10 s; the TensorRT default) and the same without it (the shipped CPU config),
on one tritonserver. First the
capacity: films/s of a closed loop of 16 callers on the policy-free model (``bench_encoder.run_load``,
``--capacity-films`` films after a warm-up round).
Then, for each system below, an open loop of Poisson arrivals at ``--load`` x that capacity for
``--seconds`` s (``numpy.random.default_rng(seed)``; the same arrival times for every system),
each film sent at its arrival time whatever came of the ones before. A film's latency runs
from its scheduled arrival to its answer, so a late driver counts against the system.

Systems (the orchestrator's limit is ``TritonEncoder.max_in_flight``, ``encoder_queue_size``):

- ``Triton's policy only``: the policy model, no limit in the orchestrator;
- ``orchestrator limit only (shipped)``: the policy-free model, limit ``--limit`` films in flight, as
  ``hilum serve --encoder triton://`` runs on the shipped CPU repository;
- ``both``: the policy model and the limit (a GPU repository);
- ``neither``: the policy-free model and no limit. It runs last, because the films its callers
  give up on (``--timeout`` s) may still be in Triton's queue when it ends.

Printed per system: films offered per second, the shares served, refused (429) and failed (a
timeout or another error), the served films' latency p50 / p99 / max, and the p99 time to a
refusal.
The queueing bound beside it, ``limit / capacity``, is the longest a film can wait behind the
films the limit lets in. What it shows is whether overload is refused at once, or paid for in
every caller's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadtests.bench_encoder import run_load
from orchestrator.errors import EncoderError, EncoderOverloadedError
from orchestrator.settings import Settings

UNLIMITED = 1_000_000
CAPACITY_CALLERS = 16
FILMS = 16  # distinct random films, sent in turn (the content does not change the cost)


@dataclass(frozen=True)
class Scenario:
    """The declared load: arrivals at ``load`` x the measured capacity for ``seconds``."""

    seed: int = 0
    load: float = 1.5
    seconds: float = 15.0
    capacity_films: int = 160
    limit: int = 64
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.load <= 0 or self.seconds <= 0 or self.capacity_films < 1:
            raise ValueError("load and seconds must be positive, capacity_films at least 1")
        if self.limit < 1 or self.timeout_s <= 0:
            raise ValueError("limit must be at least 1 and timeout positive")


@dataclass(frozen=True)
class System:
    """One way of bounding the queue: Triton's queue policy, the orchestrator's limit, both, neither."""

    name: str
    queue_policy: bool
    limited: bool


SYSTEMS = (
    System("Triton's policy only", queue_policy=True, limited=False),
    System("orchestrator limit only (shipped)", queue_policy=False, limited=True),
    System("both", queue_policy=True, limited=True),
    System("neither", queue_policy=False, limited=False),  # last: its abandoned films may linger
)


@dataclass(frozen=True)
class Outcome:
    """One film: when it was due, when its answer came (seconds from the start), and what came."""

    scheduled: float
    finished: float
    kind: str  # "served", "refused" (429) or "failed" (timeout, other error)

    @property
    def latency(self) -> float:
        return self.finished - self.scheduled


def arrival_times(rate: float, seconds: float, seed: int) -> np.ndarray:
    """A Poisson process of ``rate`` arrivals/s on [0, seconds): exponential gaps from ``seed``."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate, size=int(rate * seconds * 2) + 16)
    times = np.cumsum(gaps)
    while times[-1] < seconds:  # never for these sizes, but a short draw must not cut the window
        times = np.concatenate([times, times[-1] + np.cumsum(rng.exponential(1.0 / rate, size=len(gaps)))])
    return times[times < seconds]


def summarize(outcomes: Sequence[Outcome], seconds: float) -> dict[str, float]:
    """Films offered per second of the window; the shares served, refused and failed; the served
    films' latency p50 / p99 / max (s) and the p99 time to a refusal (ms); NaN where none came."""
    served = np.array([o.latency for o in outcomes if o.kind == "served"])
    refused = np.array([o.latency for o in outcomes if o.kind == "refused"])
    total = max(len(outcomes), 1)

    def pct(values: np.ndarray, q: float) -> float:
        return float(np.percentile(values, q)) if len(values) else float("nan")

    return {
        "offered_per_s": len(outcomes) / seconds,
        "served": len(served) / total,
        "refused": len(refused) / total,
        "failed": sum(o.kind == "failed" for o in outcomes) / total,
        "served_p50_s": pct(served, 50),
        "served_p99_s": pct(served, 99),
        "served_max_s": float(served.max()) if len(served) else float("nan"),
        "refusal_p99_ms": pct(refused, 99) * 1000.0,
    }


async def drive(encoder: Any, films: list[np.ndarray], arrivals: np.ndarray) -> list[Outcome]:
    """Send film ``i % len(films)`` at ``arrivals[i]`` s from now (open loop); every outcome."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int, due: float) -> Outcome:
        await asyncio.sleep(max(0.0, start + due - loop.time()))
        try:
            await encoder.infer_async(films[i % len(films)][None])
            kind = "served"
        except EncoderOverloadedError:
            kind = "refused"
        except EncoderError:
            kind = "failed"
        return Outcome(float(due), loop.time() - start, kind)

    return list(await asyncio.gather(*(one(i, float(t)) for i, t in enumerate(arrivals))))


def run(scenario: Scenario) -> tuple[float, dict[str, dict[str, float]]]:
    """The measured capacity and each system's summary."""
    from export.repository import RepositoryConfig, write_repository
    from export.triton_server import TritonPorts, TritonServer
    from orchestrator.encoders.triton import TritonEncoder

    rng = np.random.default_rng(scenario.seed)
    films = [rng.random((512, 512), dtype=np.float32) for _ in range(FILMS)]
    models = {True: RepositoryConfig(model_name="policy", queue_policy=True),
              False: RepositoryConfig(model_name="no_policy", queue_policy=False)}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in models.values():
            write_repository(Path(tmp), cfg, Settings().onnx_path)
        with TritonServer(Path(tmp), TritonPorts.free()) as server:
            def encoder(policy: bool, limit: int) -> Any:
                return TritonEncoder(server.grpc_url, models[policy].model_name, timeout_s=scenario.timeout_s,
                                     max_in_flight=limit)

            with closing(encoder(False, UNLIMITED)) as enc:  # the benchmark's closed loop, warm-up round included
                films_per_s = run_load("capacity", lambda f, e=enc: e.infer(f[None]), films, CAPACITY_CALLERS,
                                       scenario.capacity_films).throughput
            arrivals = arrival_times(scenario.load * films_per_s, scenario.seconds, scenario.seed)
            for system in SYSTEMS:
                with closing(encoder(system.queue_policy, scenario.limit if system.limited else UNLIMITED)) as enc:
                    outcomes = asyncio.run(drive(enc, films, arrivals))
                results[system.name] = summarize(outcomes, scenario.seconds)
                print(format_row(system.name, results[system.name]), flush=True)
    return films_per_s, results


HEADER = "system | offered films/s | served | refused | failed | served latency p50 / p99 / max s | refusal p99 ms"


def format_row(name: str, s: dict[str, float]) -> str:
    return (f"{name} | {s['offered_per_s']:.1f} | {s['served']:.0%} | {s['refused']:.0%} | "
            f"{s['failed']:.0%} | {s['served_p50_s']:.2f} / {s['served_p99_s']:.2f} / {s['served_max_s']:.2f} | "
            f"{s['refusal_p99_ms']:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Scenario()
    parser.add_argument("--load", type=float, default=defaults.load, help="offered rate / measured capacity")
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--capacity-films", type=int, default=defaults.capacity_films,
                        help="films the closed loop sends to measure capacity")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--limit", type=int, default=Settings().encoder_queue_size,
                        help="the orchestrator's limit on films in flight (default: encoder_queue_size)")
    parser.add_argument("--timeout", type=float, default=defaults.timeout_s, help="a caller's deadline, s")
    args = parser.parse_args(argv)
    scenario = Scenario(seed=args.seed, load=args.load, seconds=args.seconds,
                        capacity_films=args.capacity_films,
                        limit=args.limit, timeout_s=args.timeout)
    print(f"scenario: {scenario}")
    print(HEADER)
    films_per_s, _ = run(scenario)
    print(f"capacity (C={CAPACITY_CALLERS}, closed loop, policy-free model): {films_per_s:.1f} films/s; "
          f"arrival rate {scenario.load * films_per_s:.1f} films/s; queueing bound of the limit: "
          f"{scenario.limit / films_per_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
