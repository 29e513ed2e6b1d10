"""The service on Triton: ``--encoder triton://HOST:PORT`` serves the same API, readiness waits for
Triton, and ``hilum status`` shows Triton's health and loaded models (real tritonserver on loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
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
