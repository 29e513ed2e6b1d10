"""Triton Python-backend model: the anatomy encoder on ONNX Runtime (CPU).

``hilum export repository --target cpu`` copies this file to
``model_repository/anatomy_encoder/<version>/model.py`` next to ``model.onnx``. It runs inside
Triton's Python stub, whose interpreter is the venv's ``python3`` (numpy, onnxruntime).

- ``initialize`` reads tensor names and dtypes from the model config (not hard-coded), the
  ONNX file name and ORT intra-op threads from the config's ``parameters``.
- ``execute`` gets the requests the dynamic batcher grouped; it validates each one, then runs
  the valid films through ORT in micro-batches of ``micro_batch`` films (config parameter) and
  splits the outputs back. On CPU ``micro_batch`` is 1: batch-1 runs are the fastest per film
  there (batch 4/8 cost ~25% more per film, measured by ``loadtests/bench_encoder.py``), so
  Triton's batching saves scheduling and round trips while ORT keeps its best shape. A bad request (wrong shape, wrong
  dtype, NaN/inf) gets an error in its own response slot; the rest of the batch is served.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


def _param(config: dict[str, Any], key: str, default: str) -> str:
    return str(config.get("parameters", {}).get(key, {}).get("string_value", default))


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        (inp,) = config["input"]
        self.input_name: str = inp["name"]
        self.input_dtype = np.dtype(pb_utils.triton_string_to_numpy(inp["data_type"]))
        self.input_dims: tuple[int, ...] = tuple(int(d) for d in inp["dims"])
        self.outputs: list[tuple[str, np.dtype[Any]]] = [
            (o["name"], np.dtype(pb_utils.triton_string_to_numpy(o["data_type"]))) for o in config["output"]
        ]
        version_dir = Path(args["model_repository"]) / args["model_version"]
        onnx_file = version_dir / _param(config, "onnx_file", "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(_param(config, "intra_op_threads", "1"))
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.micro_batch = max(1, int(_param(config, "micro_batch", "0")) or int(config.get("max_batch_size", 1)) or 1)

    def _check(self, array: np.ndarray) -> str | None:
        """Why this request cannot be served, or None."""
        if array.dtype != self.input_dtype:
            return f"input '{self.input_name}' must be {self.input_dtype}, got {array.dtype}"
        if array.ndim != len(self.input_dims) + 1 or tuple(array.shape[1:]) != self.input_dims:
            return f"input '{self.input_name}' must have shape [N, {', '.join(map(str, self.input_dims))}], got {list(array.shape)}"
        if not np.isfinite(array).all():
            return f"input '{self.input_name}' has NaN or infinite values"
        return None

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        arrays: list[np.ndarray] = []
        slots: list[int] = []
        for i, request in enumerate(requests):
            tensor = pb_utils.get_input_tensor_by_name(request, self.input_name)
            array = None if tensor is None else tensor.as_numpy()
            problem = f"missing input '{self.input_name}'" if array is None else self._check(array)
            if problem:
                responses[i] = pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(problem))
                continue
            arrays.append(array)
            slots.append(i)
        if arrays:
            self._run(arrays, slots, responses)
        return responses

    def _run(self, arrays: list[np.ndarray], slots: list[int], responses: list[Any]) -> None:
        names = [n for n, _ in self.outputs]
        films = np.concatenate(arrays)
        try:
            parts = [
                self.session.run(names, {self.input_name: films[i : i + self.micro_batch]})
                for i in range(0, films.shape[0], self.micro_batch)
            ]
            results = [np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k] for k in range(len(names))]
        except Exception as exc:  # noqa: BLE001 - every request of the failed batch gets the error
            for i in slots:
                responses[i] = pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(f"encoder failed: {exc}")
                )
            return
        start = 0
        for array, i in zip(arrays, slots, strict=True):
            stop = start + array.shape[0]
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(out[start:stop], dtype=dtype))
                for (name, dtype), out in zip(self.outputs, results, strict=True)
            ]
            responses[i] = pb_utils.InferenceResponse(output_tensors=tensors)
            start = stop

    def finalize(self) -> None:
        self.session = None
