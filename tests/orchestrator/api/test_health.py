"""Health that answers under load, on a real service (uvicorn + gRPC on loopback, the real embedded
encoder whose model runs are held at a gate the test opens).

While every REST worker and every gRPC worker is held by a first turn waiting on the encoder,
``/healthz`` and ``/readyz`` answer (before any of that work can finish: the gate is closed), the
next REST request is 429 ``server_busy`` with Retry-After and the next RPC RESOURCE_EXHAUSTED; with
more workers than the encoder's queue holds, the queue's own 429 + Retry-After reaches REST."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from orchestrator.encoders.factory import build_encoder
from orchestrator.grpc_service.proto import dialog_pb2 as pb
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.server import Service, build_services
from orchestrator.settings import Settings

WAIT_S = 120.0
PROBE_S = 30.0  # a probe that waited behind the held work would wait for ever (the gate stays closed)


class GatedModel:
    """Stands in front of the encoder's ONNX Runtime session: each run waits until the gate opens
    (the model itself, the encoder's queue and its workers are the real ones)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Semaphore(0)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.release()
        assert self.gate.wait(WAIT_S), "the test never opened the gate"
        return self.session.run(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def gated_service(**overrides: Any) -> tuple[Service, GatedModel]:
    settings = Settings(host="127.0.0.1", encoder_workers=1, tenant_rate_per_s=0, tenant_max_uploads=0,
                        **overrides)
    encoder = build_encoder(settings)
    model = GatedModel(encoder._session)  # noqa: SLF001 - the gate sits where the model runs
    encoder._session = model  # noqa: SLF001
    service = Service(build_services(settings, encoder=encoder), "127.0.0.1", 0, 0).start()
    service.wait_ready(WAIT_S)  # the warm-up film passes the open gate
    while model.entered.acquire(blocking=False):  # forget the warm-up's run
        pass
    model.gate.clear()
    return service, model


@pytest.fixture()
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


def upload(url: str, film: bytes) -> httpx.Response:
    return httpx.post(f"{url}/v1/sessions", files={"file": ("image.png", film, "image/png")}, timeout=WAIT_S)


def grpc_upload(target: str, film: bytes) -> Any:
    with grpc.insecure_channel(target) as channel:
        return pb_grpc.DialogStub(channel).CreateSession(pb.CreateSessionRequest(image=film, lang="en"),
                                                         timeout=WAIT_S)


def test_probes_answer_and_excess_is_refused_while_every_worker_is_busy(
        phantom_dir: Path, pool: ThreadPoolExecutor) -> None:
    film = (phantom_dir / "image.png").read_bytes()
    service, model = gated_service(http_workers=3, grpc_workers=2, encoder_queue_size=8)
    held: list[Future[Any]] = []
    try:
        held += [pool.submit(upload, service.url, film) for _ in range(3)]
        held += [pool.submit(grpc_upload, service.grpc_target, film) for _ in range(2)]
        encoder = service.services.encoder
        wait_for(lambda: encoder.pending == 5, "five first turns waiting on the encoder")

        with httpx.Client(base_url=service.url, timeout=WAIT_S) as http:
            assert http.get("/healthz", timeout=PROBE_S).status_code == 200
            ready = http.get("/readyz", timeout=PROBE_S)
            assert ready.status_code == 200, ready.text
            assert not any(f.done() for f in held), "the probes answered only after the work"

            for extra in (lambda: upload(service.url, film), lambda: http.get("/v1/sessions/nothing-here")):
                r = extra()
                assert r.status_code == 429, r.text
                assert r.json()["error"]["kind"] == "server_busy" and int(r.headers["retry-after"]) >= 1
        with grpc.insecure_channel(service.grpc_target) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.DialogStub(channel).GetReport(pb.SessionRef(session_id="nothing-here"), timeout=WAIT_S)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            trailers = dict(refused.value.trailing_metadata() or ())
            assert trailers.get("hilum-error-kind") == "server_busy"  # as REST's 429 says, with its pushback
            assert int(trailers["grpc-retry-pushback-ms"]) >= 1000 and "nothing-here" not in refused.value.details()
        assert not any(f.done() for f in held)
        assert encoder.pending == 5  # the refusals never reached the encoder
    finally:
        model.gate.set()
        results = [f.result(timeout=WAIT_S) for f in held]
        service.stop()
    assert [r.status_code for r in results[:3]] == [201, 201, 201]
    assert all(r.session_id for r in results[3:])


def test_a_full_encoder_queue_is_429_with_retry_after_over_rest(phantom_dir: Path, pool: ThreadPoolExecutor) -> None:
    film = (phantom_dir / "image.png").read_bytes()
    service, model = gated_service(http_workers=8, encoder_queue_size=2)
    held: list[Future[httpx.Response]] = []
    try:
        held.append(pool.submit(upload, service.url, film))
        assert model.entered.acquire(timeout=WAIT_S), "the first film never reached the model"
        encoder = service.services.encoder
        for n in (2, 3):  # two more wait in the encoder's queue (its size)
            held.append(pool.submit(upload, service.url, film))
            wait_for(lambda n=n: encoder.pending == n, f"{n} films at the encoder")
        r = upload(service.url, film)
        assert r.status_code == 429, r.text
        assert r.json()["error"]["kind"] == "encoder_overloaded" and int(r.headers["retry-after"]) >= 1
        assert httpx.get(f"{service.url}/healthz", timeout=WAIT_S).status_code == 200
        assert not any(f.done() for f in held)
    finally:
        model.gate.set()
        codes = [f.result(timeout=WAIT_S).status_code for f in held]
        service.stop()
    assert codes == [201, 201, 201]
