"""Write a Triton model repository for the anatomy encoder: ``<repo>/<model>/config.pbtxt`` + version dir.

Targets:
- ``cpu``: ``backend: "python"`` running ONNX Runtime (``model.py`` + ``model.onnx``), KIND_CPU —
  the only backend in the Triton build available here.
- ``tensorrt``: ``platform: "tensorrt_plan"`` (``model.plan``), KIND_GPU, for the NGC Triton image.

Both carry the same tensor names and shapes, ``dynamic_batching`` with preferred sizes and a max
queue delay, a queue policy that rejects (instead of waiting forever) when the queue is full or a
request has waited too long, and model warmup (batch 1 and the largest preferred size).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.contracts.encoder import (
    ANATOMY_CLASSES,
    ANATOMY_STRIDE,
    HILUM_SIDES,
    HILUM_STRIDE,
    INPUT_NAME,
    INPUT_SIZE,
    LESION_STRIDE,
)

PYTHON_MODEL_SOURCE = Path(__file__).with_name("triton_python_model.py")
TARGETS = ("cpu", "tensorrt")


@dataclass(frozen=True)
class RepositoryConfig:
    """What goes into config.pbtxt. CPU defaults come from ``loadtests/bench_encoder.py``."""

    target: str = "cpu"
    model_name: str = "anatomy_encoder"
    version: int = 1
    max_batch_size: int = 32
    dynamic_batching: bool = True
    preferred_batch_sizes: tuple[int, ...] = (4, 8)
    max_queue_delay_us: int = 2000
    max_queue_size: int = 64
    queue_timeout_us: int = 10_000_000
    # the REJECT queue policy (a bounded queue, a timeout). None: the target's default, off on CPU
    # and on for TensorRT. Any queue policy turns off Triton's payload prefetching (core r24.10,
    # PriorityQueue in scheduler_utils.cc), so the batcher forms a batch only after an instance
    # goes idle and wakes to it late: 2-48% of the cores idle at C=16 on the 2-vCPU CI machine
    # against 0% without one, 0.65 of raw ONNX Runtime's throughput against 0.91
    # (loadtests/triton_exec_gaps.py, README "Serving the encoder"). Without it the orchestrator's
    # own limits bound the queue: at most encoder_queue_size films per process wait on Triton
    # (TritonEncoder.max_in_flight), behind the REST admission limit (http_workers)
    queue_policy: bool | None = None
    # requests may ask for a shorter queue timeout than queue_timeout_us (the schedule-policy
    # "timeout" parameter). Hilum's client never does; False with no timeout and no queue bound
    # is the policy block that keeps prefetching on (the diagnostic's control case)
    allow_timeout_override: bool = True
    instances: int = 2  # CPU: 2 stub processes x 1 ORT thread beat 1 x 2 (bench_encoder)
    intra_op_threads: int = 1
    micro_batch: int = 1  # cpu: films per ORT run inside one Triton batch (1 = fastest per film on CPU)
    warmup_batch_sizes: tuple[int, ...] = field(default=(1, 8))


# --- the pieces of a config.pbtxt every Hilum model shares (this encoder, the lesion reader) ------


def dims(values: tuple[int, ...]) -> str:
    return "[ " + ", ".join(str(v) for v in values) + " ]"


def tensor(name: str, shape: tuple[int, ...]) -> str:
    return f'  {{ name: "{name}" data_type: TYPE_FP32 dims: {dims(shape)} }}'


def warmup(sizes: tuple[int, ...], input_name: str, input_shape: tuple[int, ...]) -> str:
    """Zero-filled warm-up requests, one per batch size."""
    entries = [
        f'  {{ name: "zeros_batch{b}" batch_size: {b}\n'
        f'    inputs {{ key: "{input_name}" value: {{ data_type: TYPE_FP32 dims: {dims(input_shape)} zero_data: true }} }} }}'
        for b in sizes
    ]
    return "model_warmup [\n" + ",\n".join(entries) + "\n]\n"


def target_parts(target: str, model_name: str, intra_op_threads: int, micro_batch: int) -> tuple[str, str, str]:
    """(head, instance kind, parameters) of a model for ``target``: the CPU Python backend over
    ONNX Runtime (``model_repository/*/1/model.py``) or a TensorRT plan."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if target == "cpu":
        return (f'name: "{model_name}"\nbackend: "python"\n', "KIND_CPU",
                'parameters { key: "onnx_file" value: { string_value: "model.onnx" } }\n'
                f'parameters {{ key: "intra_op_threads" value: {{ string_value: "{intra_op_threads}" }} }}\n'
                f'parameters {{ key: "micro_batch" value: {{ string_value: "{micro_batch}" }} }}\n')
    return (f'name: "{model_name}"\nplatform: "tensorrt_plan"\ndefault_model_filename: "model.plan"\n',
            "KIND_GPU", "")


def queue_policy(cfg: RepositoryConfig) -> bool:
    """Whether the config carries the REJECT queue policy: as set, else only for TensorRT."""
    return cfg.queue_policy if cfg.queue_policy is not None else cfg.target != "cpu"


def _batching(cfg: RepositoryConfig) -> str:
    if not cfg.dynamic_batching:
        return ""
    preferred = [b for b in cfg.preferred_batch_sizes if b <= cfg.max_batch_size]
    policy = (
        "  default_queue_policy {\n"
        "    timeout_action: REJECT\n"
        f"    default_timeout_microseconds: {cfg.queue_timeout_us}\n"
        f"    allow_timeout_override: {str(cfg.allow_timeout_override).lower()}\n"
        f"    max_queue_size: {cfg.max_queue_size}\n"
        "  }\n"
    )
    return (
        "dynamic_batching {\n"
        f"  preferred_batch_size: {dims(tuple(preferred))}\n"
        f"  max_queue_delay_microseconds: {cfg.max_queue_delay_us}\n"
        f"{policy if queue_policy(cfg) else ''}"
        "}\n"
    )


def render_config(cfg: RepositoryConfig) -> str:
    head, kind, params = target_parts(cfg.target, cfg.model_name, cfg.intra_op_threads, cfg.micro_batch)
    a, le, h = INPUT_SIZE // ANATOMY_STRIDE, INPUT_SIZE // LESION_STRIDE, INPUT_SIZE // HILUM_STRIDE
    outputs = ",\n".join(
        [
            tensor("anatomy", (len(ANATOMY_CLASSES), a, a)),
            tensor("lesion", (1, le, le)),
            tensor("hilum", (len(HILUM_SIDES), h, h)),
        ]
    )
    return (
        "# written by `hilum export repository`; tensor names/shapes match orchestrator/contracts/encoder.py\n"
        + head
        + f"max_batch_size: {cfg.max_batch_size}\n"
        + f"input [\n{tensor(INPUT_NAME, (1, INPUT_SIZE, INPUT_SIZE))}\n]\n"
        + f"output [\n{outputs}\n]\n"
        + f"instance_group [ {{ count: {cfg.instances} kind: {kind} }} ]\n"
        + _batching(cfg)
        + warmup(cfg.warmup_batch_sizes, INPUT_NAME, (1, INPUT_SIZE, INPUT_SIZE))
        + params
    )


def write_repository(repository: Path, cfg: RepositoryConfig, model_file: Path) -> Path:
    """Write ``repository/<model>/`` for ``cfg.target``; ``model_file`` is the ONNX (cpu) or plan (tensorrt)."""
    if not model_file.is_file():
        raise FileNotFoundError(f"model file not found: {model_file}")
    model_dir = repository / cfg.model_name
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
