"""The lesion reader's export: torch -> ONNX (parity <= 1e-4, relative beyond +-1), the Triton model folder, and a
TensorRT plan with the profile min 1 / opt 32 / max 128 crops.

- ONNX: the TorchScript exporter (``dynamo=False``), opset 17, a dynamic batch axis on the one
  input and every output, as ``export/onnx.py`` does for the encoder.
- Triton (``model_repository/lesion_reader``): ``cpu`` = the Python backend running ONNX Runtime
  (``export/triton_python_model.py``, which reads its one input and the outputs from the config);
  ``tensorrt`` = ``platform: "tensorrt_plan"`` on a GPU. Both with dynamic batching: a film sends
  all its candidates in one request and requests from concurrent films and sessions batch
  together, up to 128 crops.
- TensorRT: TensorRT 10's Python API (``trt.Builder``, ``OnnxParser``, one optimisation profile,
  ``build_serialized_network``; name-based I/O with ``set_input_shape`` / ``set_tensor_address`` /
  ``execute_async_v3``), like ``export/tensorrt.py``; needs ``tensorrt`` and a CUDA GPU
  (``export.tensorrt.tensorrt_unavailable_reason`` says why not).
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from encoder.lesion_reader.network import LesionReaderNet
from export import tensorrt
from export.repository import TARGETS, dims, target_parts, tensor, warmup
from orchestrator.contracts.lesion_reader import INPUT_NAME, INPUT_SHAPE, OUTPUT_NAMES, OUTPUTS

OPSET = 17
# float32 torch vs ONNX Runtime (which folds BatchNorm into the convolutions and resizes the mask its
# own way), measured as ``parity`` does (relative beyond +-1): ~1e-6 on the trained reader; 1e-4 still
# catches a wrong graph, which is off by whole units
PARITY_TOLERANCE = 1e-4
MODEL_NAME = "lesion_reader"
PYTHON_MODEL_SOURCE = Path(__file__).with_name("triton_python_model.py")


# --- ONNX ------------------------------------------------------------------------------------------


def export_onnx(model: LesionReaderNet, out_path: Path) -> Path:
    model = model.eval()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, *INPUT_SHAPE)
    dynamic = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (dummy,), str(out_path), input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(out_path)))
    return out_path


def parity(model: LesionReaderNet, onnx_path: Path, crops: np.ndarray) -> float:
    """Max difference between torch and ONNX Runtime over every output for ``crops``: absolute for
    values within +-1, relative beyond (``|a - b| / max(1, |a|)``), since a trained reader's mask
    logits reach +-80 where float32 kernels differ in the 6th digit."""
    from orchestrator.encoders.lesion_reader import EmbeddedLesionReader

    batch = np.ascontiguousarray(crops, dtype=np.float32)
    with torch.no_grad():
        reference = model.eval().named_outputs(torch.from_numpy(batch))
    got = EmbeddedLesionReader(onnx_path, intra_op_threads=2).infer(batch)
    return max(float((np.abs(reference[k].numpy() - got[k]) / np.maximum(1.0, np.abs(reference[k].numpy()))).max())
               for k in OUTPUT_NAMES)


# --- Triton ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderRepositoryConfig:
    target: str = "cpu"
    model_name: str = MODEL_NAME
    version: int = 1
    max_batch_size: int = 128
    preferred_batch_sizes: tuple[int, ...] = (8, 32)
    max_queue_delay_us: int = 2000
    instances: int = 2
    intra_op_threads: int = 1
    micro_batch: int = 8  # cpu: crops per ORT run inside one Triton batch
    warmup_batch_sizes: tuple[int, ...] = (1, 8)


def render_config(cfg: ReaderRepositoryConfig) -> str:
    """The reader's config.pbtxt, from the pieces every Hilum model's config shares
    (``export/repository.py``)."""
    head, kind, params = target_parts(cfg.target, cfg.model_name, cfg.intra_op_threads, cfg.micro_batch)
    outputs = ",\n".join(tensor(n, s) for n, s in OUTPUTS.items())
    preferred = tuple(b for b in cfg.preferred_batch_sizes if b <= cfg.max_batch_size)
    return (
        "# written by export/lesion_reader.py; names/shapes: orchestrator/contracts/lesion_reader.py\n"
        + head
        + f"max_batch_size: {cfg.max_batch_size}\n"
        + f"input [\n{tensor(INPUT_NAME, INPUT_SHAPE)}\n]\n"
        + f"output [\n{outputs}\n]\n"
        + f"instance_group [ {{ count: {cfg.instances} kind: {kind} }} ]\n"
        + "dynamic_batching {\n"
        + f"  preferred_batch_size: {dims(preferred)}\n"
        + f"  max_queue_delay_microseconds: {cfg.max_queue_delay_us}\n"
        + "}\n"
        + warmup(cfg.warmup_batch_sizes, INPUT_NAME, INPUT_SHAPE)
        + params
    )


def write_repository(repository: Path, cfg: ReaderRepositoryConfig, model_file: Path) -> Path:
    """``repository/lesion_reader/`` for ``cfg.target``; ``model_file``: the ONNX (cpu) or plan (tensorrt)."""
    if not Path(model_file).is_file():
        raise FileNotFoundError(f"model file not found: {model_file}")
    model_dir = Path(repository) / cfg.model_name
    version_dir = model_dir / str(cfg.version)
    version_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(render_config(cfg))
    if cfg.target == "cpu":
        shutil.copyfile(PYTHON_MODEL_SOURCE, version_dir / "model.py")
        shutil.copyfile(model_file, version_dir / "model.onnx")
        (version_dir / "model.plan").unlink(missing_ok=True)
    else:
        shutil.copyfile(model_file, version_dir / "model.plan")
        for stale in ("model.py", "model.onnx"):
            (version_dir / stale).unlink(missing_ok=True)
    return model_dir


# --- TensorRT --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderProfile:
    """The optimisation profile: a film's candidates (1) up to crops of many films batched (128)."""

    min_batch: int = 1
    opt_batch: int = 32
    max_batch: int = 128

    def shape(self, batch: int) -> tuple[int, ...]:
        return (batch, *INPUT_SHAPE)


def build_engine(onnx_path: Path, plan_path: Path, profile: ReaderProfile | None = None, fp16: bool = False,
                 workspace_bytes: int = 2 << 30) -> Path:
    """ONNX -> serialized TensorRT plan with one optimisation profile on the ``crops`` input."""
    return tensorrt.build_engine(onnx_path, plan_path, profile or ReaderProfile(), fp16=fp16,
                                 workspace_bytes=workspace_bytes, input_name=INPUT_NAME)


class ReaderTensorRTRunner(tensorrt.TensorRTRunner):
    """Runs a lesion-reader plan on ``[N, 2, 256, 256]`` float32 crops -> the contract's outputs by name."""

    input_name = INPUT_NAME
    input_shape = INPUT_SHAPE
    output_names = tuple(OUTPUT_NAMES)

    def run(self, crops: np.ndarray) -> dict[str, np.ndarray]:  # type: ignore[override]
        return dict(zip(self.output_names, super().run(crops), strict=True))


def tensorrt_parity(plan_path: Path, onnx_path: Path, crops: np.ndarray) -> float:
    from orchestrator.encoders.lesion_reader import EmbeddedLesionReader

    reference = EmbeddedLesionReader(onnx_path, intra_op_threads=2).infer(crops)
    got = ReaderTensorRTRunner(plan_path).run(crops)
    return max(float(np.abs(reference[k] - got[k]).max()) for k in OUTPUT_NAMES)


# --- command line: python -m export.lesion_reader ----------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Checkpoint -> ONNX (parity-checked) -> ``model_repository/lesion_reader`` (cpu), or a plan (tensorrt)."""
    import argparse

    from encoder.lesion_reader.network import load_reader
    from orchestrator.settings import REPO_ROOT

    weights_dir = REPO_ROOT / "encoder" / "weights" / "lesion-reader"
    parser = argparse.ArgumentParser(prog="python -m export.lesion_reader", description=main.__doc__)
    parser.add_argument("--weights", type=Path, default=weights_dir / "lesion_reader.pt")
    parser.add_argument("--onnx", type=Path, default=weights_dir / "lesion_reader.onnx")
    parser.add_argument("--repository", type=Path, default=REPO_ROOT / "model_repository")
    parser.add_argument("--target", choices=TARGETS, default="cpu")
    parser.add_argument("--fp16", action="store_true", help="tensorrt: build an FP16 plan")
    args = parser.parse_args(argv)
    model = load_reader(args.weights)
    export_onnx(model, args.onnx)
    probe = np.random.default_rng(0).random((4, *INPUT_SHAPE), dtype=np.float32)
    diff = parity(model, args.onnx, probe)
    if diff > PARITY_TOLERANCE:
        print(f"error: ONNX differs from torch by {diff:.2e} (> {PARITY_TOLERANCE:g})")
        return 1
    model_file = args.onnx
    if args.target == "tensorrt":
        from export.tensorrt import tensorrt_unavailable_reason

        reason = tensorrt_unavailable_reason()
        if reason is not None:
            print(f"error: cannot build a TensorRT plan here: {reason}")
            return 2
        model_file = build_engine(args.onnx, args.onnx.with_suffix(".plan"), fp16=args.fp16)
    out = write_repository(args.repository, ReaderRepositoryConfig(target=args.target), model_file)
    print(f"ONNX parity {diff:.2e}; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
