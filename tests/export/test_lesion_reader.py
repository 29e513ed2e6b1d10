"""The lesion reader's export: ONNX parity with torch, the committed Triton folder, the TensorRT
profile; and a real tritonserver serving both models, batching crops from concurrent callers and
answering what the embedded path answers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder.lesion_reader.network import LesionReaderNet, load_reader
from export.lesion_reader import (
    PARITY_TOLERANCE,
    ReaderProfile,
    ReaderRepositoryConfig,
    build_engine,
    export_onnx,
    parity,
    render_config,
    tensorrt_parity,
    write_repository,
)
from export.tensorrt import tensorrt_unavailable_reason
from export.triton_server import TritonServer, metrics_once_counted, model_metric, read_metrics
from orchestrator.contracts.lesion_reader import INPUT_SHAPE, OUTPUT_NAMES, OUTPUTS
from orchestrator.encoders.lesion_reader import EmbeddedLesionReader, TritonLesionReader
from orchestrator.errors import InputError
from orchestrator.settings import REPO_ROOT, Settings

WEIGHTS = REPO_ROOT / "encoder" / "weights" / "lesion-reader"
REPOSITORY = Settings().model_repository
MODEL = "lesion_reader"


def crops(n: int, seed: int = 0) -> np.ndarray:
    """Crop-like inputs: a smooth film channel and a disc in the mask channel."""
    rng = np.random.default_rng(seed)
    out = rng.random((n, *INPUT_SHAPE), dtype=np.float32) * 0.2 + 0.3
    yy, xx = np.mgrid[0:256, 0:256]
    for i in range(n):
        r = 10 + 5 * i
        disc = np.hypot(xx - 128, yy - 128) < r
        out[i, 0][disc] += 0.3
        out[i, 1][disc] = 1.0
    return out


def random_model(seed: int = 0) -> LesionReaderNet:
    torch.manual_seed(seed)
    model = LesionReaderNet().eval()
    for module in model.modules():  # non-trivial running statistics, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return model


def test_onnx_matches_torch_within_1e5(tmp_path: Path) -> None:
    model = random_model()
    path = export_onnx(model, tmp_path / "reader.onnx")
    assert parity(model, path, crops(5)) <= PARITY_TOLERANCE
    one = parity(model, path, crops(1, seed=3))  # the dynamic batch axis: 1 and 5 from one file
    assert one <= PARITY_TOLERANCE


def test_the_shipped_onnx_is_the_shipped_checkpoint_and_the_repository_holds_it() -> None:
    onnx_path = WEIGHTS / "lesion_reader.onnx"
    assert parity(load_reader(WEIGHTS / "lesion_reader.pt"), onnx_path, crops(3)) <= PARITY_TOLERANCE
    served = REPOSITORY / MODEL / "1" / "model.onnx"
    assert served.read_bytes() == onnx_path.read_bytes()
    assert (REPOSITORY / MODEL / "1" / "model.py").read_bytes() == (REPO_ROOT / "export" / "triton_python_model.py").read_bytes()
    assert (REPOSITORY / MODEL / "config.pbtxt").read_text() == render_config(ReaderRepositoryConfig())
    assert (WEIGHTS / "lesion_reader.pt").stat().st_size < 10 * 2**20


def test_the_config_batches_dynamically_up_to_128_crops() -> None:
    text = render_config(ReaderRepositoryConfig())
    assert 'name: "lesion_reader"' in text and "max_batch_size: 128" in text
    assert "dynamic_batching {" in text and "preferred_batch_size: [ 8, 32 ]" in text
    assert 'name: "crops" data_type: TYPE_FP32 dims: [ 2, 256, 256 ]' in text
    for name, shape in OUTPUTS.items():
        assert f'name: "{name}" data_type: TYPE_FP32 dims: [ {", ".join(map(str, shape))} ]' in text
    gpu = render_config(ReaderRepositoryConfig(target="tensorrt"))
    assert 'platform: "tensorrt_plan"' in gpu and "KIND_GPU" in gpu and "backend" not in gpu
    with pytest.raises(ValueError, match="target"):
        render_config(ReaderRepositoryConfig(target="tpu"))


def test_write_repository_lays_out_the_cpu_and_gpu_variants(tmp_path: Path) -> None:
    onnx_path = export_onnx(random_model(), tmp_path / "r.onnx")
    cpu = write_repository(tmp_path / "repo", ReaderRepositoryConfig(), onnx_path)
    assert (cpu / "1" / "model.onnx").is_file() and (cpu / "1" / "model.py").is_file()
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"not a real plan")
    gpu = write_repository(tmp_path / "repo", ReaderRepositoryConfig(target="tensorrt"), plan)
    assert (gpu / "1" / "model.plan").is_file() and not (gpu / "1" / "model.onnx").exists()
    with pytest.raises(FileNotFoundError):
        write_repository(tmp_path / "repo", ReaderRepositoryConfig(), tmp_path / "missing.onnx")


def test_the_tensorrt_profile_is_1_32_128_crops() -> None:
    p = ReaderProfile()
    assert [p.shape(b) for b in (p.min_batch, p.opt_batch, p.max_batch)] == [
        (1, 2, 256, 256), (32, 2, 256, 256), (128, 2, 256, 256)]


@pytest.mark.skipif(tensorrt_unavailable_reason() is not None, reason=str(tensorrt_unavailable_reason()))
def test_tensorrt_plan_matches_onnx(tmp_path: Path) -> None:  # pragma: no cover - GPU machines only
    onnx_path = WEIGHTS / "lesion_reader.onnx"
    plan = build_engine(onnx_path, tmp_path / "model.plan")
    assert tensorrt_parity(plan, onnx_path, crops(32)) <= 1e-3


# --- a real tritonserver on the committed repository (both models) ------------------------------



@pytest.fixture(scope="module")
def triton_reader(committed_triton: TritonServer) -> Iterator[TritonLesionReader]:
    reader = TritonLesionReader(committed_triton.grpc_url, MODEL, timeout_s=120.0)
    yield reader
    reader.close()


@pytest.mark.triton
def test_triton_serves_both_models_and_answers_like_the_embedded_reader(
    committed_triton: TritonServer, triton_reader: TritonLesionReader
) -> None:
    import tritonclient.grpc as grpcclient

    raw = grpcclient.InferenceServerClient(committed_triton.grpc_url)
    assert raw.is_model_ready("anatomy_encoder") and raw.is_model_ready(MODEL)
    embedded = EmbeddedLesionReader(WEIGHTS / "lesion_reader.onnx")
    batch = crops(6, seed=1)
    got, want = triton_reader.infer(batch), embedded.infer(batch)
    for name in OUTPUT_NAMES:
        assert float(np.abs(got[name] - want[name]).max()) <= 1e-5, name
    a, b = triton_reader.read(batch), embedded.read(batch)
    assert [r.margin for r in a] == [r.margin for r in b]
    assert triton_reader.ready() and triton_reader.calls == 12


@pytest.mark.triton
def test_crops_from_sixteen_concurrent_films_are_batched(
    committed_triton: TritonServer, triton_reader: TritonLesionReader
) -> None:
    embedded = EmbeddedLesionReader(WEIGHTS / "lesion_reader.onnx")
    films = [crops(1 + i % 3, seed=10 + i) for i in range(32)]  # 1-3 candidates per film
    before = read_metrics(committed_triton.metrics_url)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(triton_reader.infer, films))
    after = metrics_once_counted(committed_triton.metrics_url, MODEL, before, sum(len(f) for f in films))
    count = model_metric(after, "nv_inference_count", MODEL) - model_metric(before, "nv_inference_count", MODEL)
    execs = model_metric(after, "nv_inference_exec_count", MODEL) - model_metric(before, "nv_inference_exec_count", MODEL)
    assert count == sum(len(f) for f in films)
    assert count / execs > 1.0, f"average batch {count / execs:.2f}: Triton did not batch"
    for film, result in zip(films, results, strict=True):
        want = embedded.infer(film)
        assert max(float(np.abs(result[k] - want[k]).max()) for k in OUTPUT_NAMES) <= 1e-5


@pytest.mark.triton
def test_bad_crops_are_refused_and_triton_keeps_serving(
    committed_triton: TritonServer, triton_reader: TritonLesionReader
) -> None:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InputError, match="NaN"):
        triton_reader.infer(np.full((1, *INPUT_SHAPE), np.nan, np.float32))
    raw = grpcclient.InferenceServerClient(committed_triton.grpc_url)
    wrong = grpcclient.InferInput("crops", [1, 1, 256, 256], "FP32")
    wrong.set_data_from_numpy(np.zeros((1, 1, 256, 256), np.float32))
    with pytest.raises(InferenceServerException, match="unexpected shape"):
        raw.infer(MODEL, [wrong])
    # a NaN crop sent straight to Triton (the client's check bypassed): the model's own check answers
    nan = grpcclient.InferInput("crops", [1, *INPUT_SHAPE], "FP32")
    nan.set_data_from_numpy(np.full((1, *INPUT_SHAPE), np.nan, np.float32))
    with pytest.raises(InferenceServerException, match="NaN"):
        raw.infer(MODEL, [nan])
    assert triton_reader.infer(crops(1))["margin"].shape == (1, 3)
    assert committed_triton.alive()
