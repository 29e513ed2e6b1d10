"""Where Triton's CPU model spends the time between batches: a diagnostic, not a benchmark.

    .venv/bin/python -m loadtests.triton_exec_gaps [--config '{"dynamic_batching": false}']
        [--concurrency 16] [--seconds 12] [--shared-memory]

Declared scenario: the committed ONNX encoder in a throwaway repository written with
``RepositoryConfig(**config)``, whose ``model.py`` is the shipped one with its ``execute``
wrapped to append ``start end batch`` (perf_counter seconds) to one file per stub process;
``--concurrency`` closed-loop client threads (one ``TritonEncoder`` each, random films) for 3 s of
warm-up and ``--seconds`` measured. Printed per stub: executions, mean batch, the share of the
window spent inside ``execute``, and the gaps between one ``execute`` returning and the next
starting (mean, p50, p90, max); and for the whole machine the share of core time left idle
(``/proc/stat``). A gap is time the stub is not computing: answers going back, the next batch
being formed and handed over.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from loadtests.bench_encoder import MachineShare, machine_jiffies, process_tree_cpu_s
from orchestrator.settings import Settings

WRAPPED_EXECUTE = '''    def execute(self, requests: list[Any]) -> list[Any]:
        import os as _os
        import time as _time

        _start = _time.perf_counter()
        _responses = self._timed_execute(requests)
        with open(f"{TRACE_DIR}/stub_{_os.getpid()}.txt", "a") as _trace:
            _trace.write(f"{_start} {_time.perf_counter()} {len(requests)}\\n")
        return _responses

    def _timed_execute(self, requests: list[Any]) -> list[Any]:
'''


def traced_model_source(source: str, trace_dir: Path) -> str:
    """The shipped ``model.py`` with ``execute`` timed into ``trace_dir``."""
    head = "    def execute(self, requests: list[Any]) -> list[Any]:\n"
    if source.count(head) != 1:
        raise ValueError("model.py has no single execute() to wrap")
    return source.replace(head, WRAPPED_EXECUTE.replace("{TRACE_DIR}", str(trace_dir)), 1)


def gap_stats(trace: np.ndarray) -> dict[str, float]:
    """(N, 3) rows of ``start end batch`` (seconds, in order) -> executions, mean batch, busy
    share of the span, and the gaps between executions in ms."""
    gaps = (trace[1:, 0] - trace[:-1, 1]) * 1000.0
    span = trace[-1, 1] - trace[0, 0]
    return {
        "executions": float(len(trace)),
        "mean_batch": float(trace[:, 2].mean()),
        "busy": float((trace[:, 1] - trace[:, 0]).sum() / span) if span > 0 else 0.0,
        "gap_mean_ms": float(gaps.mean()) if len(gaps) else 0.0,
        "gap_p50_ms": float(np.percentile(gaps, 50)) if len(gaps) else 0.0,
        "gap_p90_ms": float(np.percentile(gaps, 90)) if len(gaps) else 0.0,
        "gap_max_ms": float(gaps.max()) if len(gaps) else 0.0,
    }


def drive(server: Any, model: str, concurrency: int, seconds: float, slots: int) -> tuple[float, MachineShare, float]:
    """Closed-loop clients for 3 s of warm-up, then ``seconds`` measured: (films/s, the machine's
    share, the measuring window's start in perf_counter seconds)."""
    from orchestrator.encoders.triton import TritonEncoder

    rng = np.random.default_rng(0)
    films = [rng.random((512, 512), dtype=np.float32) for _ in range(8)]
    stop = threading.Event()
    done = [0] * concurrency

    def client(k: int) -> None:
        with closing(TritonEncoder(server.grpc_url, model, timeout_s=120.0, shared_memory_slots=slots)) as enc:
            while not stop.is_set():
                enc.infer(films[(k + done[k]) % len(films)][None])
                done[k] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    try:
        time.sleep(3.0)
        count0, jiffies0 = sum(done), machine_jiffies()
        cpu0, server0, window = time.process_time(), process_tree_cpu_s(server.pid), time.perf_counter()
        time.sleep(seconds)
        films_per_s = (sum(done) - count0) / (time.perf_counter() - window)
        ours = time.process_time() - cpu0 + process_tree_cpu_s(server.pid) - server0
        share = MachineShare.between(jiffies0, machine_jiffies(), ours)
    finally:
        stop.set()
        for t in threads:
            t.join()
    return films_per_s, share, window


def main(argv: list[str] | None = None) -> int:
    from export.repository import PYTHON_MODEL_SOURCE, RepositoryConfig, write_repository
    from export.triton_server import TritonPorts, TritonServer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="{}", help="RepositoryConfig fields as JSON (default: the shipped config)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--shared-memory", action="store_true", help="films and maps through /dev/shm regions")
    args = parser.parse_args(argv)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.config).items()}
    cfg = RepositoryConfig(model_name="traced", **fields)
    with tempfile.TemporaryDirectory() as tmp:
        repo, traces = Path(tmp) / "repository", Path(tmp) / "traces"
        traces.mkdir()
        write_repository(repo, cfg, Settings().onnx_path)
        model_py = repo / cfg.model_name / str(cfg.version) / "model.py"
        model_py.write_text(traced_model_source(Path(PYTHON_MODEL_SOURCE).read_text(), traces))
        with TritonServer(repo, TritonPorts.free()) as server:
            films_per_s, share, window = drive(server, cfg.model_name, args.concurrency, args.seconds,
                                               1 if args.shared_memory else 0)
        print(f"config {args.config}, C={args.concurrency}{', shared memory' if args.shared_memory else ''}: "
              f"{films_per_s:.1f} films/s; machine % ours / others / idle / steal: "
              f"{share.ours:.0f} / {share.others:.0f} / {share.idle:.0f} / {share.steal:.0f}")
        for path in sorted(traces.glob("stub_*.txt")):
            trace = np.loadtxt(path, ndmin=2)
            trace = trace[trace[:, 0] >= window]
            if len(trace) < 2:
                print(f"  {path.stem}: {len(trace)} executions in the window")
                continue
            s = gap_stats(trace)
            print(f"  {path.stem}: {s['executions']:.0f} executions, mean batch {s['mean_batch']:.2f}, "
                  f"inside execute {s['busy']:.0%}, gap mean {s['gap_mean_ms']:.1f} ms "
                  f"(p50 {s['gap_p50_ms']:.1f}, p90 {s['gap_p90_ms']:.1f}, max {s['gap_max_ms']:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
