"""A real tritonserver on the committed model_repository/: gRPC answers, batching, bad requests, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from export.triton_server import TritonPorts, TritonServer, metrics_once_counted, model_metric, read_metrics
from orchestrator.encoders.embedded import EmbeddedEncoder
from orchestrator.encoders.triton import TritonEncoder
from orchestrator.errors import EncoderError
from orchestrator.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.triton
SETTINGS = Settings()
MODEL = SETTINGS.triton_model_name


@pytest.fixture(scope="module")
def client(committed_triton: TritonServer) -> Iterator[TritonEncoder]:
    enc = TritonEncoder(committed_triton.grpc_url, MODEL, timeout_s=60.0)
    yield enc
    enc.close()


def film(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((512, 512), dtype=np.float32)


def raw_client(server: TritonServer):  # noqa: ANN201 - tritonclient has no public types
    import tritonclient.grpc as grpcclient

    return grpcclient.InferenceServerClient(server.grpc_url)


def test_triton_answers_like_the_embedded_path(client: TritonEncoder) -> None:
    embedded = EmbeddedEncoder(SETTINGS.onnx_path, intra_op_threads=1)
    try:
        image = film(0)
        for got, want in zip(client.infer(image[None]), embedded.infer(image[None]), strict=True):
            assert float(np.abs(got - want).max()) <= 1e-5
        a, b = client.encode(image), embedded.encode(image)
        assert float(np.abs(a.anatomy - b.anatomy).max()) <= 1e-5
        assert float(np.abs(a.lesion - b.lesion).max()) <= 1e-5
        assert a.hilum_px is not None and b.hilum_px is not None
        assert np.allclose(a.hilum_px["right"], b.hilum_px["right"], atol=1e-3)
    finally:
        embedded.close()
    assert client.ready()


def test_the_second_reader_on_triton_answers_like_its_embedded_path(committed_triton: TritonServer) -> None:
    """``HILUM_SECOND_READER=triton://…`` reads the repository's ``second_reader`` model: the second reader's own
    weights, not the encoder's (orchestrator/encoders/second_reader.py)."""
    from orchestrator.encoders.factory import build_second_reader

    remote = build_second_reader(Settings(second_reader=f"triton://{committed_triton.grpc_url}", encoder_timeout_s=60.0))
    embedded = EmbeddedEncoder(SETTINGS.second_reader_onnx_path, intra_op_threads=1)
    main = EmbeddedEncoder(SETTINGS.onnx_path, intra_op_threads=1)
    assert remote is not None
    try:
        image = film(1)
        a, b, c = remote.encode(image), embedded.encode(image), main.encode(image)
        assert float(np.abs(a.anatomy - b.anatomy).max()) <= 1e-5
        assert float(np.abs(a.lesion - b.lesion).max()) <= 1e-5
        assert float(np.abs(a.anatomy - c.anatomy).max()) > 0.1  # other weights than the encoder's
    finally:
        remote.close()
        embedded.close()
        main.close()


def test_the_reader_of_films_read_alone_on_triton_answers_like_its_embedded_path(committed_triton: TritonServer) -> None:
    """On Triton the weights that read a film alone are the repository's ``alone_reader`` model, beside
    ``second_reader``: their own weights, not the second reader's (orchestrator/encoders/factory.py)."""
    from orchestrator.encoders.factory import ALONE_READER_MODEL, build_alone_reader, build_second_reader

    served = Settings(second_reader=f"triton://{committed_triton.grpc_url}", encoder_timeout_s=60.0)
    remote, second = build_alone_reader(served), build_second_reader(served)
    assert SETTINGS.alone_reader_onnx_path is not None
    embedded = EmbeddedEncoder(SETTINGS.alone_reader_onnx_path, intra_op_threads=1)
    assert remote is not None and second is not None
    assert remote.model_name == ALONE_READER_MODEL  # type: ignore[attr-defined]
    try:
        image = film(2)
        a, b, c = remote.encode(image), embedded.encode(image), second.encode(image)
        assert float(np.abs(a.anatomy - b.anatomy).max()) <= 1e-5
        assert float(np.abs(a.lesion - b.lesion).max()) <= 1e-5
        assert float(np.abs(a.lesion - c.lesion).max()) > 0.01  # other weights than the second reader's
    finally:
        remote.close()
        second.close()
        embedded.close()


def test_sixteen_concurrent_requests_are_batched(committed_triton: TritonServer, client: TritonEncoder) -> None:
    before = read_metrics(committed_triton.metrics_url)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: client.infer(film(i)[None]), range(32)))
    after = metrics_once_counted(committed_triton.metrics_url, MODEL, before, 32)
    count = model_metric(after, "nv_inference_count", MODEL) - model_metric(before, "nv_inference_count", MODEL)
    execs = model_metric(after, "nv_inference_exec_count", MODEL) - model_metric(
        before, "nv_inference_exec_count", MODEL
    )
    assert count == 32
    assert count / execs > 1.0, f"average batch {count / execs:.2f}: Triton did not batch"


def test_wrong_shape_and_dtype_get_clear_errors_and_the_server_keeps_serving(
    committed_triton: TritonServer, client: TritonEncoder
) -> None:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    raw = raw_client(committed_triton)
    wrong_shape = grpcclient.InferInput("image", [1, 1, 256, 256], "FP32")
    wrong_shape.set_data_from_numpy(np.zeros((1, 1, 256, 256), np.float32))
    with pytest.raises(InferenceServerException, match="unexpected shape"):
        raw.infer(MODEL, [wrong_shape])
    wrong_dtype = grpcclient.InferInput("image", [1, 1, 512, 512], "FP64")
    wrong_dtype.set_data_from_numpy(np.zeros((1, 1, 512, 512), np.float64))
    with pytest.raises(InferenceServerException, match="(?i)data-type|datatype|FP64"):
        raw.infer(MODEL, [wrong_dtype])
    with pytest.raises(EncoderError, match="NaN"):
        client.infer(np.full((1, 512, 512), np.nan, np.float32))
    assert client.infer(film(1)[None])[0].shape == (1, 17, 128, 128)
    assert committed_triton.alive()


def test_a_bad_request_inside_a_batch_fails_alone(client: TritonEncoder) -> None:
    bad = np.full((1, 512, 512), np.nan, np.float32)

    def call(i: int) -> str:
        try:
            client.infer(bad if i == 3 else film(i)[None])
            return "ok"
        except EncoderError as exc:
            return str(exc)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8)))
    assert "NaN" in results[3]
    assert results[:3] + results[4:] == ["ok"] * 7


def test_hilum_triton_command_starts_and_stops_on_sigint() -> None:
    ports = TritonPorts.free()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "triton", f"--grpc-port={ports.grpc}",
         f"--http-port={ports.http}", f"--metrics-port={ports.metrics}"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Triton ready" in line or not line:
                break
        assert "Triton ready" in lines[-1], "".join(lines)
        assert f"127.0.0.1:{ports.metrics}/metrics" in lines[-1]
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "Triton stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
