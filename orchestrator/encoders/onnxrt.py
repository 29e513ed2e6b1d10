"""The ONNX Runtime session every in-process encoder path uses (serving, export parity checks,
training's evaluation, benchmarks): CPU provider, all graph optimisations, ``threads`` intra-op
threads and one inter-op thread. Lives on the serving side so that serving needs nothing from
``export/`` (``export.onnx`` re-exports it)."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def ort_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
