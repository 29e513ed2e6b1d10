"""ONNX -> TensorRT plan (optimisation profile min 1 / opt 8 / max 32, optional FP16), parity vs ONNX.

Written against TensorRT 10's Python API (``trt.Builder``, ``trt.OnnxParser``,
``build_serialized_network``, name-based I/O with ``set_input_shape`` / ``set_tensor_address`` /
``execute_async_v3``). Device buffers are torch CUDA tensors, so no pycuda is needed.
Needs the ``tensorrt`` package and a CUDA GPU; :func:`tensorrt_unavailable_reason` says why not.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from orchestrator.contracts.encoder import INPUT_NAME, INPUT_SIZE, OUTPUT_NAMES

FP32_TOLERANCE = 1e-3  # TensorRT reorders reductions and picks its own kernels (TF32 off)
FP16_TOLERANCE = 5e-2


class BatchProfile(Protocol):
    """An optimisation profile over the batch dimension (``Profile``, the lesion reader's ``ReaderProfile``)."""

    min_batch: int
    opt_batch: int
    max_batch: int

    def shape(self, batch: int) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class Profile:
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 32

    def shape(self, batch: int) -> tuple[int, int, int, int]:
        return (batch, 1, INPUT_SIZE, INPUT_SIZE)


def tensorrt_unavailable_reason() -> str | None:
    """None when TensorRT can build here; otherwise a sentence saying what is missing."""
    if importlib.util.find_spec("tensorrt") is None:
        return "the 'tensorrt' Python package is not installed (it needs an NVIDIA GPU machine)"
    try:
        import torch
    except ImportError:
        return "torch is not importable (used for CUDA buffers)"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible (torch.cuda.is_available() is False)"
    return None


def build_engine(onnx_path: Path, plan_path: Path, profile: BatchProfile, fp16: bool = False,
                 workspace_bytes: int = 2 << 30, input_name: str = INPUT_NAME) -> Path:
    """ONNX -> serialized TensorRT plan with one optimisation profile on ``input_name``."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape(
        input_name, profile.shape(profile.min_batch), profile.shape(profile.opt_batch), profile.shape(profile.max_batch)
    )
    config.add_optimization_profile(opt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT engine build failed (see the TensorRT log above)")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_bytes(bytes(serialized))
    return plan_path


class TensorRTRunner:
    """Runs a plan on float32 batches ``(N, *input_shape)`` -> its outputs as numpy, in
    ``output_names`` order; by default the anatomy encoder's films (N, 1, 512, 512). The lesion
    reader's runner is this one with its contract's names (``export/lesion_reader.py``)."""

    input_name: str = INPUT_NAME
    input_shape: tuple[int, ...] = (1, INPUT_SIZE, INPUT_SIZE)
    output_names: tuple[str, ...] = tuple(OUTPUT_NAMES)

    def __init__(self, plan_path: Path) -> None:
        import tensorrt as trt
        import torch

        self._torch = torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(self._logger).deserialize_cuda_engine(Path(plan_path).read_bytes())
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).cuda()
        self.context.set_input_shape(self.input_name, tuple(x.shape))
        self.context.set_tensor_address(self.input_name, x.data_ptr())
        outputs: list[Any] = []
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            out = torch.empty(shape, dtype=torch.float32, device="cuda")
            self.context.set_tensor_address(name, out.data_ptr())
            outputs.append(out)
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        self.stream.synchronize()
        return [o.cpu().numpy() for o in outputs]

    def time_batch(self, batch_size: int, repeats: int = 20) -> float:
        """Median milliseconds per batch, host->device->host copies included (synchronised)."""
        batch = np.random.default_rng(0).random((batch_size, *self.input_shape), dtype=np.float32)
        self.run(batch)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.run(batch)
            times.append(time.perf_counter() - start)
        return 1000.0 * float(np.median(times))


def parity_vs_onnx(plan_path: Path, onnx_path: Path, films: np.ndarray) -> float:
    from export.onnx import ort_session

    reference = ort_session(onnx_path, threads=2).run(list(OUTPUT_NAMES), {INPUT_NAME: films})
    got = TensorRTRunner(plan_path).run(films)
    return max(float(np.abs(r - g).max()) for r, g in zip(reference, got, strict=True))
