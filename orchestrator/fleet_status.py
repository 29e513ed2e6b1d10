"""``hilum status``: one fleet member at a glance — orchestrator, Triton, narrator, sessions, GPU."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

from orchestrator.settings import Settings

TRITON_METRICS_PORT = 8002
PROBE_TIMEOUT_S = 3.0
GPU_SERIES = ("nv_gpu_utilization", "nv_gpu_memory_used_bytes", "nv_gpu_memory_total_bytes", "nv_gpu_power_usage")


@dataclass
class Probe:
    name: str
    ok: bool | None  # None: not configured / not applicable
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format -> {"name{labels}": value} (comments skipped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def metric_sum(metrics: dict[str, float], name: str) -> float | None:
    values = [v for k, v in metrics.items() if k == name or k.startswith(name + "{")]
    return sum(values) if values else None


def probe_orchestrator(server: str) -> Probe:
    try:
        ready = httpx.get(f"{server}/readyz", timeout=PROBE_TIMEOUT_S)
        metrics = parse_metrics(httpx.get(f"{server}/metrics", timeout=PROBE_TIMEOUT_S).text)
    except httpx.HTTPError as exc:
        return Probe("orchestrator", False, f"unreachable at {server} ({type(exc).__name__})")
    body = ready.json() if ready.headers.get("content-type", "").startswith("application/json") else {}
    detail = dict(body.get("detail") or {})
    detail["sessions_active"] = int(metric_sum(metrics, "hilum_sessions_active") or 0)
    # in flight besides this probe's own /metrics request
    detail["inflight_requests"] = max(0, int(metric_sum(metrics, "hilum_inflight_requests") or 0) - 1)
    detail["turns_total"] = int(metric_sum(metrics, "hilum_turns_total") or 0)
    state = "ready" if ready.status_code == 200 else body.get("status", f"HTTP {ready.status_code}")
    summary = (f"{state} · encoder {detail.get('encoder', '?')} · sessions {detail['sessions_active']}"
               f" · in flight {detail['inflight_requests']} · turns {detail['turns_total']}")
    return Probe("orchestrator", ready.status_code == 200, summary, detail)


def triton_endpoints(encoder: str, metrics_url: str | None) -> tuple[str, str] | None:
    """``triton://HOST:PORT`` -> (gRPC HOST:PORT, metrics URL); None for the embedded encoder."""
    parsed = urlparse(encoder)
    if parsed.scheme != "triton" or not parsed.hostname:
        return None
    return f"{parsed.hostname}:{parsed.port}", metrics_url or f"http://{parsed.hostname}:{TRITON_METRICS_PORT}/metrics"


def probe_triton(encoder: str, metrics_url: str | None) -> tuple[Probe, dict[str, float]]:
    endpoints = triton_endpoints(encoder, metrics_url)
    if endpoints is None:
        return Probe("triton", None, "not configured (embedded ONNX Runtime encoder)"), {}
    grpc_url, metrics_at = endpoints
    try:
        import tritonclient.grpc as tgrpc

        client = tgrpc.InferenceServerClient(url=grpc_url)
        live, ready = client.is_server_live(), client.is_server_ready()
        index = client.get_model_repository_index(as_json=True).get("models", [])
        client.close()
    except Exception as exc:  # noqa: BLE001 - any client failure reads as unreachable
        return Probe("triton", False, f"unreachable at {grpc_url} ({type(exc).__name__})"), {}
    loaded = [f"{m['name']}:{m.get('version', '?')}" for m in index if m.get("state") == "READY"]
    try:
        metrics = parse_metrics(httpx.get(metrics_at, timeout=PROBE_TIMEOUT_S).text)
    except httpx.HTTPError:
        metrics = {}
    inferences = metric_sum(metrics, "nv_inference_count")
    summary = f"{'ready' if ready else 'live' if live else 'down'} at {grpc_url} · models {', '.join(loaded) or 'none'}"
    if inferences is not None:
        summary += f" · inferences {int(inferences)}"
    return Probe("triton", bool(live and ready), summary, {"models": loaded, "metrics_url": metrics_at}), metrics


def probe_narrator(settings: Settings) -> Probe:
    from orchestrator.narration.factory import narrator_status

    try:
        health = narrator_status(settings)
    except Exception as exc:  # noqa: BLE001 - report, do not crash the status screen
        return Probe("narrator", False, f"health check failed: {exc}")
    ok = bool(health.get("ok", True))
    name = health.get("narrator", "?")
    replicas = health.get("replicas")
    summary = f"{name}" + (f" · {len(replicas)} replica(s)" if isinstance(replicas, list | dict) else "")
    return Probe("narrator", ok, summary, health)


def gpu_from_triton(metrics: dict[str, float]) -> dict[str, float] | None:
    found = {name: metric_sum(metrics, name) for name in GPU_SERIES}
    present = {k: v for k, v in found.items() if v is not None}
    return present or None


def gpu_from_nvidia_smi() -> list[dict[str, str]] | None:
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return None
    query = "name,utilization.gpu,memory.used,memory.total"
    try:
        out = subprocess.run(  # noqa: S603 - fixed arguments
            [binary, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    keys = ("name", "util_pct", "mem_used_mib", "mem_total_mib")
    return [dict(zip(keys, (c.strip() for c in line.split(",")), strict=False)) for line in out.splitlines() if line]


def probe_gpu(triton_metrics: dict[str, float]) -> Probe:
    triton_gpu = gpu_from_triton(triton_metrics)
    if triton_gpu is not None:
        util = triton_gpu.get("nv_gpu_utilization")
        used = triton_gpu.get("nv_gpu_memory_used_bytes")
        summary = "Triton nv_gpu_*: " + (f"util {util * 100:.0f}%" if util is not None else "util ?")
        if used is not None:
            summary += f" · memory {used / 2**30:.1f} GiB"
        return Probe("gpu", True, summary, triton_gpu)
    smi = gpu_from_nvidia_smi()
    if smi:
        summary = "; ".join(f"{g.get('name')}: {g.get('util_pct')}% · {g.get('mem_used_mib')}/{g.get('mem_total_mib')} MiB"
                            for g in smi)
        return Probe("gpu", True, f"nvidia-smi: {summary}", {"gpus": smi})
    return Probe("gpu", None, "none (no Triton GPU metrics, no nvidia-smi)")


def collect(settings: Settings, server: str, triton_metrics_url: str | None = None) -> list[Probe]:
    orchestrator = probe_orchestrator(server)
    triton, metrics = probe_triton(settings.encoder, triton_metrics_url)
    return [orchestrator, triton, probe_narrator(settings), probe_gpu(metrics)]


def render(probes: list[Probe], server: str) -> str:
    marks = {True: "OK  ", False: "FAIL", None: "--  "}
    lines = [f"Hilum status · {server}"]
    lines += [f"  {marks[p.ok]}  {p.name:<13} {p.summary}" for p in probes]
    return "\n".join(lines)
