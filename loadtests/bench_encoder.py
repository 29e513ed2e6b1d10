"""Encoder benchmark (issue 4): raw ONNX Runtime vs the embedded encoder vs Triton, one run.

    .venv/bin/python -m loadtests.bench_encoder [--requests 64] [--seed 0] [--json out.json]

Declared scenario: ``--films 8`` films drawn once from ``numpy.random.default_rng(seed)`` (the
content does not change CPU cost), sent by a closed loop of C client threads (C in 1/4/16),
each sending its next film as soon as the previous answer is back, ``--requests`` films per
cell after one warm-up round. Reported per cell: throughput (films/s), p50 and p99 latency (ms).

Sections:
1. model: FLOPs, ORT batch-1 latency at 1 and 2 threads, achieved GFLOP/s, and numpy float32
   matmul GFLOP/s on the same machine at 1 and 2 threads (for scale).
2. raw ORT batch sweep (threads x batch size) — what batching buys on this CPU.
3. load table: raw ORT (one shared session called from C threads, best thread setting chosen by
   its C=16 throughput), embedded variants, Triton variants (dynamic batching on/off, instances x
   threads), and the default Triton model again with the client's films and maps in /dev/shm
   regions instead of gRPC payloads (``triton_shared_memory_slots``: a Triton on the same host).
   Served paths are measured to raw outputs (``infer``: queue/batcher or gRPC included),
   so the ratio to raw ORT is the serving overhead; post-processing to AnatomyMaps is timed apart.
4. headline, interleaved (``--rounds R``, default 5): the ratio the issue's goal is about
   (throughput at C=16 relative to raw ORT) for the default serving paths, and the default
   Triton model over shared memory. Section 3 measures
   each system once, one after the other, so a burst of load from the machine's other tenants
   lands on whichever system happens to run then. Here every round measures raw ORT and each
   serving path back to back (``--requests`` films each), the order rotating from round to round,
   and a path's ratio is taken within its round; the median over rounds is the headline, with
   the range beside it.

CPU accounting per cell (CPU milliseconds per film, from /proc): ``client`` is this process (for
raw ORT and the embedded encoder that is all of the work), ``server`` is tritonserver plus its
Python-backend stubs. Client and server share the same cores here; in a deployment the
orchestrator and Triton run in different pods, so ``raw ORT CPU / Triton server CPU`` is the
throughput ratio Triton would reach on cores of its own (printed as "server-side ratio").
Beside that, how the whole machine's cores were spent during the cell (/proc/stat): ours (client
plus server), other processes', idle, and steal (the hypervisor serving another tenant). A path
that loses throughput with its cores idle is leaving work unscheduled; one that loses it to
others or steal met a busy machine. The headline prints each path's median idle share.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.settings import Settings

CONCURRENCY = (1, 4, 16)
MATMUL_N = 1024


@dataclass(frozen=True)
class Cell:
    system: str
    concurrency: int
    throughput: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms: float = 0.0  # CPU ms per film in this process
    server_cpu_ms: float = 0.0  # CPU ms per film in tritonserver and its stubs
    machine: MachineShare | None = None  # what the whole machine did meanwhile


@dataclass(frozen=True)
class MachineShare:
    """How the machine's CPU time was spent during a cell (/proc/stat, all cores together), in
    percent of the cores' wall time: ``ours`` (this process plus a Triton server), ``others``
    (every other process on this machine), ``idle`` (nobody ran: the system under test left
    cores unused), ``steal`` (the hypervisor ran another tenant on our vCPUs)."""

    ours: float
    others: float
    idle: float
    steal: float

    @classmethod
    def between(cls, before: np.ndarray, after: np.ndarray, ours_cpu_s: float) -> MachineShare:
        """``before``/``after``: :func:`machine_jiffies`; ``ours_cpu_s``: CPU seconds our
        processes used in between (the rest of the busy time is ``others``)."""
        d = (after - before).astype(np.float64)
        total = float(d.sum())
        if total <= 0:
            return cls(0.0, 0.0, 0.0, 0.0)
        busy = float(d[[0, 1, 2, 5, 6]].sum())  # user nice system irq softirq
        ours = min(busy, ours_cpu_s * os.sysconf("SC_CLK_TCK"))
        pct = 100.0 / total
        return cls(round(ours * pct, 1), round((busy - ours) * pct, 1), round(float(d[3] + d[4]) * pct, 1),
                   round(float(d[7]) * pct, 1))


def machine_jiffies() -> np.ndarray:
    """The machine's CPU time so far in clock ticks, summed over cores (/proc/stat's ``cpu``
    line): user, nice, system, idle, iowait, irq, softirq, steal."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return np.array([int(v) for v in fields[1:9]], dtype=np.int64)


def process_tree_cpu_s(pid: int | None) -> float:
    """user + system CPU seconds of ``pid`` and its direct children (Linux /proc)."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def run_load(system: str, call: Callable[[np.ndarray], object], films: list[np.ndarray], concurrency: int,
             requests: int, server_pid: int | None = None) -> Cell:
    def one(i: int) -> float:
        start = time.perf_counter()
        call(films[i % len(films)])
        return time.perf_counter() - start

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency)))  # warm-up round
        cpu0, server0, jiffies0 = time.process_time(), process_tree_cpu_s(server_pid), machine_jiffies()
        start = time.perf_counter()
        latencies = list(pool.map(one, range(requests)))
        wall = time.perf_counter() - start
        client_s = time.process_time() - cpu0
        server_s = process_tree_cpu_s(server_pid) - server0
        share = MachineShare.between(jiffies0, machine_jiffies(), client_s + server_s)
    lat = np.array(latencies) * 1000.0
    return Cell(system, concurrency, requests / wall, float(np.percentile(lat, 50)), float(np.percentile(lat, 99)),
                client_s * 1000.0 / requests, server_s * 1000.0 / requests, share)


# --- 1. model FLOPs vs matmul ----------------------------------------------------------------------------
def matmul_gflops(threads: int, n: int = MATMUL_N, repeats: int = 10) -> float:
    """numpy float32 n x n matmul in a fresh process with BLAS threads pinned."""
    code = (
        "import numpy as np, time\n"
        f"a = np.random.default_rng(0).random(({n}, {n}), dtype=np.float32); b = a.copy(); a @ b\n"
        f"ts = []\nfor _ in range({repeats}):\n t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)\n"
        f"print(2 * {n} ** 3 / min(ts) / 1e9)\n"
    )
    env = {**os.environ, **{k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def ort_latency_ms(onnx: Path, threads: int, batch: int = 1, repeats: int = 10) -> float:
    from orchestrator.encoders.onnxrt import ort_session

    session = ort_session(onnx, threads=threads)
    x = np.random.default_rng(0).random((batch, 1, 512, 512), dtype=np.float32)
    session.run(None, {"image": x})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {"image": x})
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def model_section(onnx: Path) -> dict[str, Any]:
    from encoder.network import build_network, count_flops, count_parameters

    net = build_network()
    flops = count_flops(net)["flops"]
    result: dict[str, Any] = {"gflops_per_film": flops / 1e9, "parameters": count_parameters(net)}
    for threads in (1, 2):
        ms = ort_latency_ms(onnx, threads)
        result[f"ort_batch1_ms_{threads}t"] = ms
        result[f"achieved_gflops_{threads}t"] = flops / (ms / 1000.0) / 1e9
        result[f"matmul_gflops_{threads}t"] = matmul_gflops(threads)
    result["postprocess_ms"] = postprocess_ms()
    return result


def postprocess_ms(repeats: int = 10) -> float:
    """Logits -> AnatomyMaps (sigmoid, upsampling, keypoints): paid by every caller on top of the model."""
    from orchestrator.encoders.postprocess import to_anatomy_maps

    rng = np.random.default_rng(0)
    outs = (rng.normal(size=(17, 128, 128)).astype(np.float32), rng.normal(size=(1, 256, 256)).astype(np.float32),
            rng.normal(size=(2, 128, 128)).astype(np.float32))
    image = np.zeros((512, 512), np.float32)
    start = time.perf_counter()
    for _ in range(repeats):
        to_anatomy_maps(image, *outs)
    return 1000.0 * (time.perf_counter() - start) / repeats


def batch_sweep(onnx: Path) -> list[dict[str, float]]:
    rows = []
    for threads in (1, 2):
        for batch in (1, 4, 8):
            ms = ort_latency_ms(onnx, threads, batch, repeats=4 if batch > 1 else 10)
            rows.append({"threads": threads, "batch": batch, "ms_per_batch": ms, "films_per_s": batch * 1000.0 / ms})
    return rows


# --- 3. systems under load ---------------------------------------------------------------------------------
def raw_ort_cells(onnx: Path, films: list[np.ndarray], requests: int) -> tuple[int, list[Cell]]:
    """(best intra-op thread count by C=16 throughput, its cells)."""
    from orchestrator.encoders.onnxrt import ort_session

    best: list[Cell] = []
    best_threads = 1
    for threads in (1, 2):
        session = ort_session(onnx, threads=threads)
        cells = [run_load(f"raw ORT ({threads} thr)", lambda f, s=session: s.run(None, {"image": f[None, None]}),
                          films, c, requests) for c in CONCURRENCY]
        if not best or cells[-1].throughput > best[-1].throughput:
            best, best_threads = cells, threads
    return best_threads, [replace(c, system=f"{c.system} [best]") for c in best]


EMBEDDED_VARIANTS: dict[str, dict[str, Any]] = {
    "embedded b1 2x1thr (default)": {"max_batch": 1, "workers": 2, "intra_op_threads": 1},
    "embedded b1 1x2thr": {"max_batch": 1, "workers": 1, "intra_op_threads": 2},
    "embedded b4 1x2thr": {"max_batch": 4, "workers": 1, "intra_op_threads": 2},
}


def embedded_cells(onnx: Path, films: list[np.ndarray], requests: int) -> list[Cell]:
    from orchestrator.encoders.embedded import EmbeddedEncoder

    cells = []
    for name, kwargs in EMBEDDED_VARIANTS.items():
        enc = EmbeddedEncoder(onnx, max_wait_ms=2.0, queue_size=256, **kwargs)
        try:
            cells += [run_load(name, lambda f, e=enc: e.infer(f[None]), films, c, requests) for c in CONCURRENCY]
        finally:
            enc.close()
    return cells


TRITON_VARIANTS: dict[str, dict[str, Any]] = {  # name -> RepositoryConfig fields that differ from the default
    "triton dyn-batch 2x1thr (default)": {},
    "triton dyn-batch 2x1thr preferred 2, no delay": {"preferred_batch_sizes": (2,), "max_queue_delay_us": 0},
    "triton dyn-batch 2x1thr, with queue policy": {"queue_policy": True},
    "triton no-batch 2x1thr": {"dynamic_batching": False},
    "triton dyn-batch 1x2thr": {"instances": 1, "intra_op_threads": 2},
    "triton dyn-batch 1x2thr micro-batch 8": {"instances": 1, "intra_op_threads": 2, "micro_batch": 8},
}
HEADLINE_TRITON: tuple[str, ...] = (  # the default and its nearest rivals
    "triton dyn-batch 2x1thr (default)",
    "triton dyn-batch 2x1thr preferred 2, no delay",
    "triton dyn-batch 2x1thr, with queue policy",
    "triton no-batch 2x1thr",
)
SHM_OF = HEADLINE_TRITON[0]  # the default model, measured again with films and maps in shared memory
SHM = f"{SHM_OF} + shared memory"
SHM_SLOTS = 16  # one region per concurrent caller at C=16


def triton_variants() -> dict[str, Any]:
    """name -> RepositoryConfig, each under its own model name in one repository."""
    from export.repository import RepositoryConfig

    return {name: RepositoryConfig(model_name=f"variant_{i}", **cfg) for i, (name, cfg) in enumerate(TRITON_VARIANTS.items())}


@contextmanager
def triton_server(onnx: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """One tritonserver for sections 3 and 4, every variant of ``TRITON_VARIANTS`` loaded:
    yields (server, name -> RepositoryConfig)."""
    from export.repository import write_repository
    from export.triton_server import TritonPorts, TritonServer

    with tempfile.TemporaryDirectory() as tmp:
        variants = triton_variants()
        for cfg in variants.values():
            write_repository(Path(tmp), cfg, onnx)
        with TritonServer(Path(tmp), TritonPorts.free()) as server:
            yield server, variants


def triton_cells(server: Any, variants: dict[str, Any], films: list[np.ndarray], requests: int) -> list[Cell]:
    from export.triton_server import model_metric, read_metrics
    from orchestrator.encoders.triton import TritonEncoder

    cells = []
    for name, cfg in variants.items():
        with closing(TritonEncoder(server.grpc_url, cfg.model_name, timeout_s=120.0)) as enc:
            cells += [run_load(name, lambda f, e=enc: e.infer(f[None]), films, c, requests, server.pid)
                      for c in CONCURRENCY]
    model = variants[SHM_OF].model_name
    with closing(TritonEncoder(server.grpc_url, model, timeout_s=120.0, shared_memory_slots=SHM_SLOTS)) as enc:
        cells += [run_load(SHM, lambda f, e=enc: e.infer(f[None]), films, c, requests, server.pid) for c in CONCURRENCY]
    metrics = read_metrics(server.metrics_url)
    for name, cfg in variants.items():
        count = model_metric(metrics, "nv_inference_count", cfg.model_name)
        execs = model_metric(metrics, "nv_inference_exec_count", cfg.model_name)
        print(f"{name}: average batch {count / max(execs, 1):.2f} (Triton metrics)")
    return cells


RAW = "raw ORT"


def rotated(names: list[str], round_index: int) -> list[str]:
    """The order of round ``round_index``: the list rotated by the round number (each system
    takes each position in turn, so slow stretches of a shared machine spread over all)."""
    k = round_index % len(names)
    return names[k:] + names[:k]


def headline_ratios(rounds: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-round throughputs -> each serving path's ratio to raw ORT within its round:
    median, min and max over rounds."""
    out: dict[str, dict[str, float]] = {}
    for name in rounds[0]:
        if name == RAW:
            continue
        ratios = [r[name] / r[RAW] for r in rounds]
        out[name] = {"median": round(float(np.median(ratios)), 3), "min": round(min(ratios), 3),
                     "max": round(max(ratios), 3)}
    return out


def headline(settings: Settings, films: list[np.ndarray], requests: int, rounds: int, raw_threads: int,
             triton: tuple[Any, dict[str, Any]] | None) -> dict[str, Any]:
    """Section 4: raw ORT and the default serving paths at C=16, interleaved over ``rounds``.
    The embedded encoder is the service's own (``build_encoder(settings)``); ``triton`` is the
    (server, variants) of :func:`triton_server`, whose ``HEADLINE_TRITON`` models are measured."""
    from orchestrator.encoders.embedded import EmbeddedEncoder
    from orchestrator.encoders.factory import build_encoder
    from orchestrator.encoders.onnxrt import ort_session
    from orchestrator.encoders.triton import TritonEncoder

    session = ort_session(settings.onnx_path, threads=raw_threads)
    calls: dict[str, Callable[[np.ndarray], object]] = {RAW: lambda f: session.run(None, {"image": f[None, None]})}
    with ExitStack() as stack:
        embedded = build_encoder(settings.model_copy(update={"encoder": "embedded"}))
        stack.callback(embedded.close)
        assert isinstance(embedded, EmbeddedEncoder)  # measured to raw outputs, like raw ORT
        calls["embedded (default)"] = lambda f: embedded.infer(f[None])
        triton_pid = None if triton is None else triton[0].pid
        if triton is not None:
            server, variants = triton
            for name in HEADLINE_TRITON:
                model = variants[name].model_name
                enc = stack.enter_context(closing(TritonEncoder(server.grpc_url, model, timeout_s=120.0)))
                calls[name] = lambda f, e=enc: e.infer(f[None])
            enc = stack.enter_context(closing(TritonEncoder(
                server.grpc_url, variants[SHM_OF].model_name, timeout_s=120.0, shared_memory_slots=SHM_SLOTS)))
            calls[SHM] = lambda f, e=enc: e.infer(f[None])
        per_round, shares = [], []
        for r in range(rounds):
            cells = [run_load(name, calls[name], films, 16, requests, triton_pid) for name in rotated(list(calls), r)]
            per_round.append({c.system: c.throughput for c in cells})
            shares.append({c.system: asdict(c.machine) for c in cells if c.machine is not None})
            print(f"round {r + 1}/{rounds}: " + ", ".join(
                f"{c.system} {c.throughput:.1f} ({format_share(c.machine)})" for c in cells), flush=True)
    return {"rounds": per_round, "machine_share": shares, "raw_threads": raw_threads,
            "ratios": headline_ratios(per_round), "idle_pct": median_share(shares, "idle")}


def median_share(shares: list[dict[str, dict[str, float]]], part: str) -> dict[str, float]:
    """Per system, the median over rounds of one part of :class:`MachineShare`."""
    return {name: round(float(np.median([r[name][part] for r in shares])), 1) for name in shares[0]}


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return {"cpu": model, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "loadavg_at_start": " ".join(f"{v:.2f}" for v in load)}


def format_cells(cells: list[Cell]) -> str:
    lines = ["| system | C | films/s | p50 ms | p99 ms | client CPU ms/film | server CPU ms/film "
             "| machine % ours / others / idle / steal |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {c.system} | {c.concurrency} | {c.throughput:.1f} | {c.p50_ms:.0f} | {c.p99_ms:.0f} | "
              f"{c.client_cpu_ms:.1f} | {c.server_cpu_ms:.1f} | {format_share(c.machine)} |" for c in cells]
    return "\n".join(lines)


def format_share(share: MachineShare | None) -> str:
    if share is None:
        return "-"
    return f"{share.ours:.0f} / {share.others:.0f} / {share.idle:.0f} / {share.steal:.0f}"


def server_side_ratios(cells: list[Cell]) -> dict[str, float]:
    """raw ORT CPU per film / Triton server CPU per film at C=16: Triton's ratio on cores of its own."""
    raw = next(c.client_cpu_ms for c in cells if c.system.endswith("[best]") and c.concurrency == 16)
    return {c.system: round(raw / c.server_cpu_ms, 3) for c in cells if c.concurrency == 16 and c.server_cpu_ms > 0}


def serving_ratios(cells: list[Cell]) -> dict[str, float]:
    raw16 = next(c.throughput for c in cells if c.system.endswith("[best]") and c.concurrency == 16)
    return {c.system: round(c.throughput / raw16, 3) for c in cells if c.concurrency == 16}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--films", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--onnx", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved headline rounds (0: skip)")
    parser.add_argument("--skip-triton", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    onnx = args.onnx or settings.onnx_path
    rng = np.random.default_rng(args.seed)
    films = [rng.random((512, 512), dtype=np.float32) for _ in range(args.films)]
    report: dict[str, Any] = {"machine": machine(), "scenario": {
        "films": args.films, "seed": args.seed, "requests_per_cell": args.requests, "concurrency": CONCURRENCY}}
    print(json.dumps(report["machine"]))
    report["model"] = model_section(onnx)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in report["model"].items()}, indent=1))
    report["batch_sweep"] = batch_sweep(onnx)
    print("\n| threads | batch | ms/batch | films/s |\n| --- | --- | --- | --- |")
    for r in report["batch_sweep"]:
        print(f"| {r['threads']} | {r['batch']} | {r['ms_per_batch']:.1f} | {r['films_per_s']:.1f} |")
    with ExitStack() as stack:
        raw_threads, cells = raw_ort_cells(onnx, films, args.requests)
        cells += embedded_cells(onnx, films, args.requests)
        triton = None if args.skip_triton else stack.enter_context(triton_server(onnx))
        if triton is not None:
            cells += triton_cells(*triton, films, args.requests)
        report.update(load_report(cells))
        if args.rounds > 0:
            print(f"\nheadline: throughput at C=16 relative to raw ORT ({raw_threads} thr), {args.rounds} interleaved rounds")
            report["headline"] = headline(settings.model_copy(update={"onnx_path": onnx}), films, args.requests,
                                          args.rounds, raw_threads, triton)
            idle = report["headline"]["idle_pct"]
            for name, r in report["headline"]["ratios"].items():
                print(f"  {name}: median {r['median']:.2f} (range {r['min']:.2f}-{r['max']:.2f}); "
                      f"cores idle {idle[name]:.0f}% (raw ORT {idle[RAW]:.0f}%)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def load_report(cells: list[Cell]) -> dict[str, Any]:
    """Section 3's table and ratios, printed; returned for the JSON report."""
    report: dict[str, Any] = {"cells": [asdict(c) for c in cells]}
    report["ratio_to_raw_best_at_c16"] = serving_ratios(cells)
    print()
    print(format_cells(cells))
    print("\nthroughput at C=16 relative to raw ORT best:")
    for name, ratio in report["ratio_to_raw_best_at_c16"].items():
        print(f"  {name}: {ratio:.2f}")
    report["server_side_ratio_at_c16"] = server_side_ratios(cells)
    if report["server_side_ratio_at_c16"]:
        print("\nserver-side ratio at C=16 (raw ORT CPU per film / Triton server CPU per film):")
        for name, ratio in report["server_side_ratio_at_c16"].items():
            print(f"  {name}: {ratio:.2f}")
    return report


if __name__ == "__main__":
    sys.exit(main())
