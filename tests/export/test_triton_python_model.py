"""The CPU repository's Python-backend model (export/triton_python_model.py) in a real tritonserver,
configured with micro-batches that cut through requests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from export.onnx import ort_session
from export.repository import RepositoryConfig, write_repository
from export.triton_server import TritonPorts, TritonServer, metrics_once_counted, model_metric, read_metrics
from orchestrator.encoders.triton import TritonEncoder
from orchestrator.settings import Settings

pytestmark = pytest.mark.triton
ONNX = Settings().onnx_path
SIZES = (1, 3, 1, 2)  # films per request
# one instance, and a batch forms only once all SIZES films are queued (the delay is far longer
# than sending them)
MICRO2 = RepositoryConfig(model_name="micro2", micro_batch=2, instances=1, preferred_batch_sizes=(sum(SIZES),),
                          max_queue_delay_us=3_000_000)


@pytest.fixture(scope="module")
def server() -> Iterator[TritonServer]:
    with tempfile.TemporaryDirectory() as tmp:
        write_repository(Path(tmp), MICRO2, ONNX)
        with TritonServer(Path(tmp), TritonPorts.free()) as srv:
            yield srv


def film(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((512, 512), dtype=np.float32)


def test_requests_spanning_micro_batches_get_their_own_rows(server: TritonServer) -> None:
    """micro_batch 2 with requests of 1, 3, 1 and 2 films in one Triton batch: the ORT runs cut
    through requests, and every request still gets exactly its own films' outputs."""
    batches = [np.stack([film(10 * i + j) for j in range(n)]) for i, n in enumerate(SIZES)]
    session = ort_session(ONNX, threads=1)
    before = read_metrics(server.metrics_url)
    with closing(TritonEncoder(server.grpc_url, MICRO2.model_name, timeout_s=60.0)) as enc, \
            ThreadPoolExecutor(len(SIZES)) as pool:
        answers = list(pool.map(enc.infer, batches))
    after = metrics_once_counted(server.metrics_url, MICRO2.model_name, before, sum(SIZES))
    execs = (model_metric(after, "nv_inference_exec_count", MICRO2.model_name)
             - model_metric(before, "nv_inference_exec_count", MICRO2.model_name))
    assert execs == 1, f"{execs} Triton batches: the requests did not share one"
    for films, got in zip(batches, answers, strict=True):
        want = session.run(None, {"image": films[:, None]})
        assert [g.shape[0] for g in got] == [len(films)] * 3
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, atol=1e-5)
