"""torch -> ONNX with a dynamic batch axis, checked for parity against torch.

Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)``. The network is a plain
static graph (fixed 512x512 input, only the batch varies), which that exporter traces exactly and
marks dynamic through ``dynamic_axes``; the dynamo exporter needs ``onnxscript`` (not installed
here) and buys nothing for a graph without data-dependent control flow. Opset 17.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from encoder.network import AnatomyEncoderNet, MeanOfNets, NetworkConfig
from orchestrator.contracts.encoder import INPUT_NAME, INPUT_SIZE, OUTPUT_NAMES
from orchestrator.encoders.onnxrt import ort_session  # re-exported: export, training and tests call it here

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOLERANCE = 1e-4


def load_checkpoint(path: Path) -> AnatomyEncoderNet:
    """A checkpoint written by ``encoder.train`` (``{"model": state_dict, "config": {...}}``)."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = AnatomyEncoderNet(NetworkConfig.from_dict(blob["config"]))
    model.load_state_dict(blob["model"])
    return model.eval()


def load_members(paths: Sequence[Path]) -> nn.Module:
    """One checkpoint's network, or several read as one (``MeanOfNets``: each output the members' mean)."""
    if len(paths) == 1:
        return load_checkpoint(paths[0])
    return MeanOfNets([load_checkpoint(p) for p in paths]).eval()


def save_weights(model: AnatomyEncoderNet, path: Path, meta: dict[str, object] | None = None) -> None:
    """The small, shippable checkpoint: weights + config (+ metadata), no optimizer state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": asdict(model.config), "meta": meta or {}}, path)


def export_onnx(model: nn.Module, out_path: Path) -> Path:
    model = model.eval()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 1, INPUT_SIZE, INPUT_SIZE)
    dynamic = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter is chosen on purpose
        torch.onnx.export(
            model, (dummy,), str(out_path), input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(out_path)))
    return out_path


def parity(model: nn.Module, onnx_path: Path, films: Sequence[np.ndarray]) -> float:
    """Max abs difference between torch and ONNX Runtime outputs over ``films`` (batched together)."""
    batch = np.stack([np.asarray(f, dtype=np.float32) for f in films])[:, None]
    with torch.no_grad():
        reference = [t.numpy() for t in model.eval()(torch.from_numpy(batch))]
    outputs = ort_session(onnx_path, threads=2).run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
    return max(float(np.abs(r - o).max()) for r, o in zip(reference, outputs, strict=True))


def parity_films(count: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Phantom films (seeds from the evaluation range) when the phantom engine is present."""
    from orchestrator.contracts.preprocess import prepare_film

    try:
        from encoder.phantom import generate_case
    except ImportError:  # phantom engine absent: smooth random films stand in
        rng = np.random.default_rng(seed)
        return [rng.random((INPUT_SIZE, INPUT_SIZE), dtype=np.float32) for _ in range(count)]
    return [prepare_film(generate_case(seed + i).image)[0] for i in range(count)]
