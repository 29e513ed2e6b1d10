"""Held turns: does a follow-up stay fast once the process holds thousands of answered turns?

    .venv/bin/python -m loadtests.held_turns [--sessions 64] [--turns 20000]

Declared scenario (fixed before the run, apart from the system under test): the engine in process
(embedded encoder, in-process sessions, the composer), one upload of the committed example film
``orchestrator/api/data/examples/phantom-7.dcm``, ``--sessions`` forks of it, then ``--turns``
follow-ups round-robin over the sessions from a fixed question list. Printed: per-ask latency
p50 / p99 / max, how many full (generation 2) passes the cyclic garbage collector made and the
longest, and the objects it tracks at the end. Held turns as object graphs made those passes take
1.7 s after 20,000 turns; held as JSON records (``orchestrator/dialogue/session.py``) they do not.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from orchestrator.server import build_services
from orchestrator.settings import Settings

FILM = Path(__file__).resolve().parent.parent / "orchestrator" / "api" / "data" / "examples" / "phantom-7.dcm"
QUESTIONS = ("Is the margin of the round opacity regular?", "How far is it from the right hilum?",
             "If this were early lung cancer, how many typical signs does it show?", "what about the left lung?",
             "Is there a pleural effusion?", "How big is A1?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--turns", type=int, default=20_000)
    args = parser.parse_args(argv)
    engine = build_services(Settings(max_turns_per_session=args.turns + 2)).engine
    first = engine.create_session(FILM.read_bytes(), "film.dcm", "en")
    engine.ask(first.session_id, QUESTIONS[-1])
    sessions = [engine.fork(first.session_id, 2, QUESTIONS[-1]).session_id for _ in range(args.sessions)]
    pauses: list[tuple[int, float]] = []
    started: dict[str, float] = {}

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started["t"]))

    gc.callbacks.append(watch)
    latencies = []
    for i in range(args.turns):
        t0 = time.perf_counter()
        engine.ask(sessions[i % len(sessions)], QUESTIONS[i % len(QUESTIONS)])
        latencies.append(time.perf_counter() - t0)
    gc.callbacks.remove(watch)
    latencies.sort()
    full = [seconds for generation, seconds in pauses if generation == 2]
    print(f"{args.turns} asks over {args.sessions} sessions: p50 {latencies[len(latencies) // 2] * 1e3:.2f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms, max {latencies[-1] * 1e3:.1f} ms")
    print(f"collector: {len(pauses)} passes, {len(full)} full, longest full {max(full, default=0.0) * 1e3:.1f} ms; "
          f"{len(gc.get_objects())} objects tracked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
