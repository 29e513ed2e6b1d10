"""``hilum status`` for the on-call engineer, against a real ``hilum serve`` on a real ``hilum triton``
(both on free loopback ports): Triton's models with versions, readiness and per-model statistics,
sessions by tenant, the session store, the encoder queue, the narrator; then Triton stopped:
reported unreachable, exit status 1, no traceback. The GPU line's NVML path runs on a fake NVML
module handed in through ``probe_gpu``'s ``nvml`` argument (no NVML on these machines)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from orchestrator.fleet_status import NO_NVML, Probe, load_nvml, probe_gpu, render

HILUM = [sys.executable, "-m", "orchestrator.cli"]
REPO = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("HILUM_")}  # no vLLM, no keys from outside


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[str], what: str, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited: {proc.stdout.read() if proc.stdout else ''}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} not ready within {timeout_s:.0f} s")


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (``hilum triton`` stops its tritonserver on it), then a kill if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@dataclass
class Fleet:
    triton: subprocess.Popen[str]
    serve: subprocess.Popen[str]
    url: str
    encoder: str
    triton_metrics: str


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    from export.triton_server import find_tritonserver

    try:
        find_tritonserver()
    except FileNotFoundError as exc:
        pytest.skip(f"tritonserver not available: {exc}")
    grpc, http, metrics, port, grpc_port = (free_port() for _ in range(5))
    triton = subprocess.Popen([*HILUM, "triton", "--grpc-port", str(grpc), "--http-port", str(http),
                               "--metrics-port", str(metrics)],
                              cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    serve: subprocess.Popen[str] | None = None
    try:
        wait_for(f"http://127.0.0.1:{http}/v2/health/ready", triton, "hilum triton")
        encoder = f"triton://127.0.0.1:{grpc}"
        serve = subprocess.Popen([*HILUM, "serve", "--host", "127.0.0.1", "--port", str(port), "--grpc-port",
                                  str(grpc_port), "--encoder", encoder],
                                 cwd=REPO, env={**ENV, "HILUM_SECOND_READER": encoder}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/readyz", serve, "hilum serve")
        yield Fleet(triton, serve, url, encoder, f"http://127.0.0.1:{metrics}/metrics")
    finally:
        if serve is not None:
            stop(serve)
        stop(triton)


def status(fleet: Fleet, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HILUM, "status", "--server", fleet.url, "--encoder", fleet.encoder, "--triton-metrics",
                           fleet.triton_metrics, *extra],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)


def no_gpu_here() -> bool:
    return load_nvml() is None and shutil.which("nvidia-smi") is None


@pytest.mark.triton
def test_status_after_one_session_then_with_triton_stopped(fleet: Fleet, phantom_dir: Path) -> None:
    with (phantom_dir / "image.png").open("rb") as fh:
        made = httpx.post(f"{fleet.url}/v1/sessions", files={"file": ("image.png", fh, "image/png")}, timeout=300)
    assert made.status_code == 201, made.text

    done = status(fleet, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["orchestrator"]["ok"] is True
    assert report["orchestrator"]["detail"]["reasons"] == []

    triton = report["triton"]
    assert triton["ok"] is True and triton["detail"]["reachable"] is True
    models = {m["name"]: m for m in triton["detail"]["models"]}
    assert set(models) == {"anatomy_encoder", "second_reader", "alone_reader", "lesion_reader"}
    assert models["second_reader"]["inference_count"] >= 1  # the film read by the second reader on Triton too
    assert models["alone_reader"]["inference_count"] >= 1  # its warm-up film: the service reaches it too
    assert all(m["version"] == "1" and m["ready"] and m["state"] == "READY" for m in models.values())
    encoder = models["anatomy_encoder"]
    # the server's warm-up pass and the session's film: inferences counted, batches executed
    assert encoder["inference_count"] >= 1 and encoder["execution_count"] >= 1
    assert encoder["avg_batch"] == pytest.approx(encoder["inference_count"] / encoder["execution_count"])
    assert encoder["avg_queue_ms"] is not None and encoder["avg_queue_ms"] >= 0
    assert f"inferences {sum(m['inference_count'] for m in models.values())}" in triton["summary"]

    assert report["sessions"]["ok"] is True and report["sessions"]["detail"]["total"] == 1
    assert sum(report["sessions"]["detail"]["by_tenant"].values()) == 1
    assert report["store"]["ok"] is True and report["store"]["detail"]["up"] == {"memory": True}
    assert report["queues"]["detail"]["encoder_pending"] == 0
    narrator = report["narrator"]
    assert narrator["ok"] is True and narrator["detail"]["narrator"] == "composer"
    assert narrator["detail"]["served"] == "composer" and "deterministic" in narrator["summary"]
    if no_gpu_here():
        assert report["gpu"]["ok"] is None and NO_NVML in report["gpu"]["summary"]

    table = status(fleet)
    assert table.returncode == 0, table.stdout + table.stderr
    assert re.search(r"OK\s+triton\s+ready at 127\.0\.0\.1:\d+ · models alone_reader:1, anatomy_encoder:1, lesion_reader:1",
                     table.stdout)
    assert re.search(r"model\s+version\s+state\s+inferences\s+executions\s+avg batch\s+avg queue", table.stdout)
    assert re.search(rf"anatomy_encoder\s+1\s+READY\s+{encoder['inference_count']}\s", table.stdout)
    assert re.search(r"OK\s+sessions\s+1 active · \S+ 1", table.stdout)
    assert re.search(r"OK\s+store\s+memory up", table.stdout)
    assert re.search(r"OK\s+narrator\s+composer", table.stdout)
    if no_gpu_here():
        assert re.search(rf"--\s+gpu\s+{re.escape(NO_NVML)}", table.stdout)

    # a vLLM that does not answer: the narrator fails (and says the server itself narrates with the composer)
    no_vllm = status(fleet, "--json", "--llm-url", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert no_vllm.returncode == 1, no_vllm.stdout + no_vllm.stderr
    said = json.loads(no_vllm.stdout)["narrator"]
    assert said["ok"] is False and "0/1 replica(s) reachable" in said["summary"]
    assert "the server narrates with composer" in said["summary"]

    stop(fleet.triton)
    down = status(fleet, "--json")
    assert down.returncode == 1, down.stdout + down.stderr
    assert "Traceback" not in down.stdout + down.stderr
    report = json.loads(down.stdout)
    assert report["ok"] is False
    assert report["triton"]["ok"] is False and report["triton"]["detail"]["reachable"] is False
    assert report["triton"]["summary"].startswith("unreachable at 127.0.0.1:")
    # the orchestrator answers and says why it is not ready; its sessions are still counted
    assert report["orchestrator"]["ok"] is False
    assert "the encoder does not answer" in report["orchestrator"]["detail"]["reasons"]
    assert report["sessions"]["detail"]["total"] == 1

    table = status(fleet)
    assert table.returncode == 1 and "Traceback" not in table.stdout + table.stderr
    assert re.search(r"FAIL\s+triton\s+unreachable at", table.stdout)
    assert re.search(r"FAIL\s+orchestrator\s+not_ready", table.stdout)
    assert "not ready: the encoder does not answer" in table.stdout


# --- the GPU line through the NVML seam ------------------------------------------------------------------
class NVMLError(Exception):
    pass


class NVMLError_DriverNotLoaded(NVMLError):  # noqa: N801 - pynvml's own naming
    pass


def fake_nvml(gpus: list[dict[str, Any]], *, driver_loaded: bool = True) -> SimpleNamespace:
    """An object with the pynvml calls ``gpus_from_nvml`` makes; it records init/shutdown."""
    calls: list[str] = []

    def init() -> None:
        if not driver_loaded:
            raise NVMLError_DriverNotLoaded()
        calls.append("init")

    def utilization(handle: int) -> SimpleNamespace:
        if gpus[handle].get("util") is None:
            raise NVMLError("not supported")
        return SimpleNamespace(gpu=gpus[handle]["util"], memory=gpus[handle]["util"] // 2)

    return SimpleNamespace(
        calls=calls, NVMLError=NVMLError, nvmlInit=init, nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlSystemGetDriverVersion=lambda: b"550.54.15", nvmlDeviceGetCount=lambda: len(gpus),
        nvmlDeviceGetHandleByIndex=lambda i: i, nvmlDeviceGetName=lambda h: gpus[h]["name"],
        nvmlDeviceGetUtilizationRates=utilization,
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(used=gpus[h]["used_mib"] * 2**20,
                                                          total=gpus[h]["total_mib"] * 2**20, free=0),
    )


def test_gpu_line_from_nvml_one_gpu() -> None:
    nvml = fake_nvml([{"name": b"NVIDIA H200", "util": 37, "used_mib": 20480, "total_mib": 143771}])
    probe = probe_gpu({}, nvml)
    assert probe.ok is True and probe.detail["source"] == "nvml"
    assert probe.summary == "NVML: GPU 0 NVIDIA H200: util 37% · memory 20480/143771 MiB (14%)"
    assert probe.detail["gpus"][0]["driver"] == "550.54.15" and probe.detail["gpus"][0]["memory_util_pct"] == 18
    assert nvml.calls == ["init", "shutdown"]
    assert "OK    gpu           NVML: GPU 0 NVIDIA H200: util 37%" in render([probe], "http://x")


def test_gpu_lines_from_nvml_several_gpus_one_without_utilisation() -> None:
    nvml = fake_nvml([{"name": "NVIDIA A100-SXM4-80GB", "util": 90, "used_mib": 70000, "total_mib": 81920},
                      {"name": "NVIDIA A100-SXM4-80GB", "util": None, "used_mib": 0, "total_mib": 81920}])
    probe = probe_gpu({"nv_gpu_utilization{gpu_uuid=\"GPU-1\"}": 0.5}, nvml)  # NVML wins over Triton's series
    assert probe.summary == "NVML: 2 GPUs · driver 550.54.15"
    assert probe.lines == ["GPU 0 NVIDIA A100-SXM4-80GB: util 90% · memory 70000/81920 MiB (85%)",
                           "GPU 1 NVIDIA A100-SXM4-80GB: util ? · memory 0/81920 MiB (0%)"]
    shown = render([probe], "http://x").splitlines()
    assert shown[2].endswith("GPU 0 NVIDIA A100-SXM4-80GB: util 90% · memory 70000/81920 MiB (85%)")
    assert shown[3].endswith("GPU 1 NVIDIA A100-SXM4-80GB: util ? · memory 0/81920 MiB (0%)")


def test_gpu_line_when_nvml_has_no_driver_or_is_absent() -> None:
    broken = probe_gpu({"nv_gpu_utilization{gpu_uuid=\"GPU-1\"}": 0.25}, fake_nvml([], driver_loaded=False))
    assert broken.ok is True and broken.summary.startswith("Triton nv_gpu_*: util 25%")
    assert broken.detail["nvml"] == f"{NO_NVML} (NVML: NVMLError_DriverNotLoaded)"
    if shutil.which("nvidia-smi") is None:
        absent = probe_gpu({}, None)
        assert absent.ok is None and absent.summary.startswith(NO_NVML)
        assert isinstance(absent, Probe) and absent.detail["source"] is None
