"""The service on Triton: ``--encoder triton://HOST:PORT`` serves the same API, readiness waits for
Triton, and ``hilum status`` shows Triton's health and loaded models (real tritonserver on loopback);
Triton killed mid-load and restarted: 503 + Retry-After meanwhile, served again after."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import numpy as np
import pytest

from orchestrator.server import Service, build_services
from orchestrator.settings import Settings

pytestmark = pytest.mark.triton

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def triton() -> Iterator[object]:
    from export.triton_server import TritonPorts, TritonServer, find_tritonserver

    try:
        find_tritonserver()
    except Exception as exc:  # noqa: BLE001 - no binary: nothing to test here
        pytest.skip(f"tritonserver not available: {exc}")
    with TritonServer(Settings().model_repository, TritonPorts.free()) as server:
        yield server


def test_serve_on_triton_and_status(triton: object, phantom_dir: Path) -> None:
    encoder = f"triton://{triton.grpc_url}"  # type: ignore[attr-defined]
    settings = Settings(encoder=encoder)
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc, \
            httpx.Client(base_url=svc.url, timeout=120) as http:
        svc.wait_ready()
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready" and ready["detail"]["encoder"] == "triton"
        with (phantom_dir / "image.png").open("rb") as fh:
            session = http.post("/v1/sessions", files={"file": ("image.png", fh, "image/png")}).json()
        turn = http.post(f"/v1/sessions/{session['session_id']}/turns",
                         json={"question": "Is the margin of the round opacity in the right middle lobe regular?"})
        assert turn.status_code == 200 and turn.json()["intent"] == "describe_margin"

        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "status", "--server", svc.url, "--encoder", encoder,
             "--triton-metrics", triton.metrics_url, "--json"],  # type: ignore[attr-defined]
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["orchestrator"]["ok"] is True
    assert report["triton"]["ok"] is True and report["triton"]["detail"]["models"]
    assert "inferences" in report["triton"]["summary"]


def test_a_full_encoder_refuses_at_once_with_a_retry_hint(triton: object, phantom_dir: Path) -> None:
    """``encoder_queue_size`` 1: while the service's encoder has a film on Triton, an upload gets
    429 with Retry-After over REST and RESOURCE_EXHAUSTED with gRPC's retry pushback; after, it
    is served."""
    import grpc

    from orchestrator.encoders.triton import TritonEncoder
    from orchestrator.grpc_service.proto import dialog_pb2 as pb
    from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
    from orchestrator.grpc_service.servicer import PUSHBACK_KEY

    url = triton.grpc_url  # type: ignore[attr-defined]
    settings = Settings(encoder=f"triton://{url}", encoder_queue_size=1)
    films = np.random.default_rng(0).random((32, 512, 512), dtype=np.float32)
    image = (phantom_dir / "image.png").read_bytes()
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc, \
            httpx.Client(base_url=svc.url, timeout=120) as http, grpc.insecure_channel(svc.grpc_target) as channel, \
            closing(TritonEncoder(url, settings.triton_model_name, timeout_s=120.0)) as other, \
            ThreadPoolExecutor(3) as pool:
        svc.wait_ready()
        encoder = svc.services.encoder
        # another client fills both of Triton's instances, so the service's own 32 films wait behind them
        ahead = [pool.submit(other.infer, films) for _ in range(2)]
        wait_for(lambda: other.pending == 64)
        held = pool.submit(encoder.infer, films)
        wait_for(lambda: encoder.pending == 32)
        rest = http.post("/v1/sessions", files={"file": ("image.png", image, "image/png")})
        with pytest.raises(grpc.RpcError) as refused:
            pb_grpc.DialogStub(channel).CreateSession(pb.CreateSessionRequest(image=image, lang="en"))
        assert not held.done(), "the service's films were answered before both refusals: nothing was full"
        for future in (*ahead, held):
            future.result()
        served = http.post("/v1/sessions", files={"file": ("image.png", image, "image/png")})
    assert rest.status_code == 429 and rest.headers["retry-after"] == "1"
    assert rest.json()["error"]["kind"] == "encoder_overloaded" and "limit 1" in rest.json()["error"]["message"]
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit 1" in refused.value.details()
    assert dict(refused.value.trailing_metadata() or ())[PUSHBACK_KEY] == "1000"
    assert served.status_code == 201, served.text


def test_triton_killed_mid_load_then_restarted(phantom_dir: Path) -> None:
    """tritonserver killed (SIGKILL) while uploads are in flight: every upload is answered, 201 or 503
    ``encoder`` with Retry-After (never a 500 or a hang, never Triton's address), ``/readyz`` says not
    ready while it is down; restarted on the same ports, the same service serves again."""
    import os
    import signal

    from export.triton_server import TritonPorts, TritonServer

    image = (phantom_dir / "image.png").read_bytes()
    ports = TritonPorts.free()
    repo = Settings().model_repository

    def upload(http: httpx.Client) -> httpx.Response:
        return http.post("/v1/sessions", files={"file": ("image.png", image, "image/png")})

    with TritonServer(repo, ports) as first:
        settings = Settings(encoder=f"triton://{first.grpc_url}", encoder_queue_size=16)
        with Service(build_services(settings), "127.0.0.1", 0, 0) as svc, \
                httpx.Client(base_url=svc.url, timeout=120) as http, ThreadPoolExecutor(6) as pool:
            svc.wait_ready()
            encoder = svc.services.encoder
            inflight = [pool.submit(upload, http) for _ in range(6)]
            wait_for(lambda: encoder.pending >= 1, 60.0)
            os.killpg(first.pid, signal.SIGKILL)  # the server and its Python-backend stubs
            answered = [f.result(timeout=180) for f in inflight]
            assert {r.status_code for r in answered} <= {201, 503}, [r.text for r in answered]
            down = [r for r in answered if r.status_code == 503]
            after = upload(http)
            down.append(after)
            for r in down:
                assert r.status_code == 503 and r.json()["error"]["kind"] == "encoder", r.text
                assert int(r.headers["retry-after"]) >= 1 and str(ports.grpc) not in r.text
            wait_for(lambda: http.get("/readyz").status_code == 503, 60.0)

            with TritonServer(repo, ports):  # the same ports: the service's own client reconnects
                wait_for(lambda: http.get("/readyz").status_code == 200, 180.0)
                again = upload(http)
                assert again.status_code == 201, again.text
                turn = http.post(f"/v1/sessions/{again.json()['session_id']}/turns", json={"question": "Any nodules?"})
                assert turn.status_code == 200


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)
