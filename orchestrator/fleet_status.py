"""``hilum status``: one fleet member at a glance — orchestrator, sessions, store, queues, Triton,
narrator, GPU.

Each source is probed with a short timeout and reported as unreachable when it does not answer
(never a traceback, never a hang); the probes run side by side, so the whole screen takes about
one timeout at worst. ``collect`` returns one ``Probe`` per line; ``render`` is the human table
and ``as_json`` the machine-readable form.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

from orchestrator.settings import Settings

TRITON_METRICS_PORT = 8002
PROBE_TIMEOUT_S = 3.0
GPU_SERIES = ("nv_gpu_utilization", "nv_gpu_memory_used_bytes", "nv_gpu_memory_total_bytes", "nv_gpu_power_usage")
NO_NVML = "no NVIDIA driver/NVML here"
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Probe:
    name: str
    ok: bool | None  # None: not configured / not applicable / unknown
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)  # extra rows of the human table (not in --json)


# --- Prometheus text ----------------------------------------------------------------------------------
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


def series(metrics: dict[str, float], name: str) -> list[tuple[dict[str, str], float]]:
    """Each series of ``name`` as (labels, value)."""
    out = []
    for key, value in metrics.items():
        if key == name:
            out.append(({}, value))
        elif key.startswith(name + "{"):
            out.append((dict(LABEL.findall(key[len(name):])), value))
    return out


# --- the orchestrator ------------------------------------------------------------------------------
def probe_orchestrator(server: str, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[Probe, dict[str, float] | None]:
    """/readyz and /metrics of one orchestrator; metrics None when it did not answer."""
    try:
        ready = httpx.get(f"{server}/readyz", timeout=timeout_s)
        metrics = parse_metrics(httpx.get(f"{server}/metrics", timeout=timeout_s).text)
    except httpx.HTTPError as exc:
        return Probe("orchestrator", False, f"unreachable at {server} ({type(exc).__name__})"), None
    try:
        body = ready.json() if ready.headers.get("content-type", "").startswith("application/json") else {}
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    detail = dict(body.get("detail") or {})
    detail.setdefault("reasons", [])
    detail["sessions_active"] = int(metric_sum(metrics, "hilum_sessions_active") or 0)
    # in flight besides this probe's own /metrics request
    detail["inflight_requests"] = max(0, int(metric_sum(metrics, "hilum_inflight_requests") or 0) - 1)
    detail["turns_total"] = int(metric_sum(metrics, "hilum_turns_total") or 0)
    detail["narrator_served"] = served_narrator(metrics)
    state = "ready" if ready.status_code == 200 else str(body.get("status", f"HTTP {ready.status_code}"))
    summary = f"{state} · encoder {detail.get('encoder', '?')} · turns {detail['turns_total']}"
    lines = [f"not ready: {reason}" for reason in detail["reasons"]]
    return Probe("orchestrator", ready.status_code == 200, summary, detail, lines), metrics


def served_narrator(metrics: dict[str, float]) -> str:
    """What the server narrates with: its ``hilum_narrator_*`` series exist only with vLLM configured."""
    return "vllm" if any(k.startswith("hilum_narrator_") for k in metrics) else "composer"


def unknown(name: str) -> Probe:
    return Probe(name, None, "unknown (the orchestrator did not answer)")


def probe_sessions(metrics: dict[str, float] | None) -> Probe:
    """``hilum_sessions_active{tenant}``: the total and each tenant's count."""
    if metrics is None:
        return unknown("sessions")
    by_tenant = {labels.get("tenant", "?"): int(v) for labels, v in series(metrics, "hilum_sessions_active")}
    total = sum(by_tenant.values())
    tenants = " · ".join(f"{t} {n}" for t, n in sorted(by_tenant.items(), key=lambda kv: (-kv[1], kv[0])))
    return Probe("sessions", True, f"{total} active" + (f" · {tenants}" if tenants else ""),
                 {"total": total, "by_tenant": by_tenant})


def probe_store(metrics: dict[str, float] | None) -> Probe:
    """``hilum_session_store_up{store}`` (current: the status probe's /readyz pings the store first)."""
    if metrics is None:
        return unknown("store")
    found = {labels.get("store", "?"): v == 1.0 for labels, v in series(metrics, "hilum_session_store_up")}
    if not found:
        return Probe("store", None, "no hilum_session_store_up series yet")
    errors = int(metric_sum(metrics, "hilum_session_store_errors_total") or 0)
    summary = " · ".join(f"{store} {'up' if up else 'DOWN'}" for store, up in sorted(found.items()))
    return Probe("store", all(found.values()), f"{summary} · errors {errors}", {"up": found, "errors_total": errors})


def probe_queues(metrics: dict[str, float] | None) -> Probe:
    """The encoder's pending films (``hilum_encoder_pending``) and requests in flight."""
    if metrics is None:
        return unknown("queues")
    pending = metric_sum(metrics, "hilum_encoder_pending")
    inflight = max(0, int(metric_sum(metrics, "hilum_inflight_requests") or 0) - 1)
    detail: dict[str, Any] = {"encoder_pending": None if pending is None else int(pending),
                              "inflight_requests": inflight}
    said = "?" if pending is None else str(int(pending))
    return Probe("queues", True, f"encoder pending {said} · requests in flight {inflight}", detail)


# --- Triton ------------------------------------------------------------------------------------------
def triton_endpoints(encoder: str, metrics_url: str | None) -> tuple[str, str] | None:
    """``triton://HOST:PORT`` -> (gRPC HOST:PORT, metrics URL); None for the embedded encoder."""
    parsed = urlparse(encoder)
    if parsed.scheme != "triton" or not parsed.hostname:
        return None
    return f"{parsed.hostname}:{parsed.port}", metrics_url or f"http://{parsed.hostname}:{TRITON_METRICS_PORT}/metrics"


def model_rows(index: list[dict[str, Any]], stats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Triton's repository index joined with its per-model statistics (proto3 JSON: zeros omitted,
    64-bit counts as strings)."""
    by_key = {(s.get("name"), str(s.get("version", ""))): s for s in stats}
    rows = []
    for entry in index:
        name, version = str(entry.get("name", "?")), str(entry.get("version", ""))
        stat = by_key.get((name, version), {})
        inferences, executions = int(stat.get("inference_count", 0)), int(stat.get("execution_count", 0))
        queue = (stat.get("inference_stats") or {}).get("queue") or {}
        queued, queue_ns = int(queue.get("count", 0)), int(queue.get("ns", 0))
        rows.append({
            "name": name, "version": version or None, "state": str(entry.get("state", "UNKNOWN")),
            "ready": entry.get("state") == "READY", "reason": entry.get("reason") or None,
            "inference_count": inferences, "execution_count": executions,
            "avg_batch": inferences / executions if executions else None,
            "avg_queue_ms": queue_ns / queued / 1e6 if queued else None,
        })
    return rows


def model_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    width = max(len("model"), *(len(r["name"]) for r in rows))
    out = [f"{'model':<{width}}  version  state        inferences  executions  avg batch  avg queue"]
    for r in rows:
        batch = "-" if r["avg_batch"] is None else f"{r['avg_batch']:.2f}"
        queue = "-" if r["avg_queue_ms"] is None else f"{r['avg_queue_ms']:.2f} ms"
        out.append(f"{r['name']:<{width}}  {r['version'] or '-':<7}  {r['state']:<11}  {r['inference_count']:>10}"
                   f"  {r['execution_count']:>10}  {batch:>9}  {queue:>9}")
    return out


def probe_triton(encoder: str, metrics_url: str | None,
                 timeout_s: float = PROBE_TIMEOUT_S) -> tuple[Probe, dict[str, float]]:
    """Health, the model repository index and per-model statistics over gRPC; Triton's metrics
    (``nv_*``, for the GPU line) over HTTP."""
    endpoints = triton_endpoints(encoder, metrics_url)
    if endpoints is None:
        return Probe("triton", None, "not configured (embedded ONNX Runtime encoder)"), {}
    grpc_url, metrics_at = endpoints
    try:
        import tritonclient.grpc as tgrpc

        client = tgrpc.InferenceServerClient(url=grpc_url)
        try:
            live = client.is_server_live(client_timeout=timeout_s)
            ready = client.is_server_ready(client_timeout=timeout_s)
            index = client.get_model_repository_index(as_json=True, client_timeout=timeout_s).get("models", [])
            stats = client.get_inference_statistics(as_json=True, client_timeout=timeout_s).get("model_stats", [])
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any client failure reads as unreachable
        return Probe("triton", False, f"unreachable at {grpc_url} ({type(exc).__name__})",
                     {"grpc_url": grpc_url, "reachable": False}), {}
    rows = model_rows(index, stats)
    try:
        metrics = parse_metrics(httpx.get(metrics_at, timeout=timeout_s).text)
        metrics_state = "ok"
    except httpx.HTTPError as exc:
        metrics, metrics_state = {}, f"unreachable ({type(exc).__name__})"
    loaded = [f"{r['name']}:{r['version']}" for r in rows if r["ready"]]
    not_ready = [r["name"] for r in rows if not r["ready"]]
    inferences = sum(r["inference_count"] for r in rows)
    summary = (f"{'ready' if ready else 'live' if live else 'down'} at {grpc_url} · models {', '.join(loaded) or 'none'}"
               f" · inferences {inferences}")
    if not_ready:
        summary += f" · not ready: {', '.join(not_ready)}"
    detail = {"grpc_url": grpc_url, "reachable": True, "live": bool(live), "ready": bool(ready), "models": rows,
              "metrics_url": metrics_at, "metrics": metrics_state}
    lines = model_table(rows)
    if metrics_state != "ok":
        lines.append(f"metrics {metrics_state}")
    return Probe("triton", bool(live and ready), summary, detail, lines), metrics


# --- the narrator ------------------------------------------------------------------------------------
def probe_narrator(settings: Settings) -> Probe:
    """The configured narrator's health: the composer, or vLLM's replicas answering /health (each
    within the narrator's own 1 s health timeout)."""
    from orchestrator.narration.factory import narrator_status

    try:
        health = narrator_status(settings)
    except Exception as exc:  # noqa: BLE001 - report, do not crash the status screen
        return Probe("narrator", False, f"health check failed ({type(exc).__name__})")
    ok = bool(health.get("ok", True))
    name = str(health.get("narrator", "?"))
    replicas = health.get("replicas")
    if name == "composer":
        summary = "composer (deterministic; no vLLM configured)"
    else:
        summary = f"{name} {health.get('model', '')}".rstrip()
        if isinstance(replicas, list):
            up = sum(1 for r in replicas if r.get("up"))
            summary += f" · {up}/{len(replicas)} replica(s) reachable"
            summary += "" if up else " (turns fall back to the composer)"
        rate = health.get("prefix_cache_hit_rate")
        if isinstance(rate, float):
            summary += f" · prefix-cache hit rate {rate:.0%}"
    lines = [f"{r.get('url')}: {'up' if r.get('up') else 'unreachable'} · breaker {r.get('breaker')}"
             for r in replicas] if isinstance(replicas, list) else []
    return Probe("narrator", ok, summary, health, lines)


# --- the GPU -----------------------------------------------------------------------------------------
def load_nvml() -> Any | None:
    """``pynvml`` (the ``nvidia-ml-py`` package) when importable, else None; never installed here."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    return pynvml


def text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def gpus_from_nvml(nvml: Any) -> list[dict[str, Any]]:
    """Name, utilisation and memory of each GPU through an NVML module (``pynvml`` or a double);
    raises what NVML raises when no driver answers."""
    nvml.nvmlInit()
    try:
        driver = text(nvml.nvmlSystemGetDriverVersion())
        gpus = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                rates = nvml.nvmlDeviceGetUtilizationRates(handle)
                util, mem_util = int(rates.gpu), int(rates.memory)
            except Exception:  # noqa: BLE001 - not supported (e.g. a MIG instance): memory still counts
                util = mem_util = None
            gpus.append({"index": index, "name": text(nvml.nvmlDeviceGetName(handle)), "driver": driver,
                         "util_pct": util, "memory_util_pct": mem_util,
                         "mem_used_mib": int(memory.used) // 2**20, "mem_total_mib": int(memory.total) // 2**20})
        return gpus
    finally:
        nvml.nvmlShutdown()


def nvml_line(gpu: dict[str, Any]) -> str:
    util = "util ?" if gpu["util_pct"] is None else f"util {gpu['util_pct']}%"
    return (f"GPU {gpu['index']} {gpu['name']}: {util} · memory {gpu['mem_used_mib']}/{gpu['mem_total_mib']} MiB"
            f" ({gpu['mem_used_mib'] / max(gpu['mem_total_mib'], 1):.0%})")


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


def probe_gpu(triton_metrics: dict[str, float], nvml: Any | None = None) -> Probe:
    """NVML first (``nvml``: the module, or None when absent), then Triton's ``nv_gpu_*`` series,
    then ``nvidia-smi``; else says that this machine has no NVIDIA driver/NVML."""
    nvml_state = NO_NVML
    if nvml is not None:
        try:
            gpus = gpus_from_nvml(nvml)
        except Exception as exc:  # noqa: BLE001 - NVMLError_* (no driver, no library): reported, not raised
            nvml_state = f"{NO_NVML} (NVML: {type(exc).__name__})"
        else:
            if gpus:
                lines = [nvml_line(g) for g in gpus]
                summary = lines[0] if len(gpus) == 1 else f"{len(gpus)} GPUs · driver {gpus[0]['driver']}"
                return Probe("gpu", True, f"NVML: {summary}", {"source": "nvml", "gpus": gpus},
                             lines if len(gpus) > 1 else [])
            nvml_state = "NVML: no GPUs"
    triton_gpu = gpu_from_triton(triton_metrics)
    if triton_gpu is not None:
        util = triton_gpu.get("nv_gpu_utilization")
        used = triton_gpu.get("nv_gpu_memory_used_bytes")
        summary = "Triton nv_gpu_*: " + (f"util {util * 100:.0f}%" if util is not None else "util ?")
        if used is not None:
            summary += f" · memory {used / 2**30:.1f} GiB"
        return Probe("gpu", True, summary, {"source": "triton", "nvml": nvml_state, **triton_gpu})
    smi = gpu_from_nvidia_smi()
    if smi:
        summary = "; ".join(f"{g.get('name')}: {g.get('util_pct')}% · {g.get('mem_used_mib')}/{g.get('mem_total_mib')} MiB"
                            for g in smi)
        return Probe("gpu", True, f"nvidia-smi: {summary}", {"source": "nvidia-smi", "nvml": nvml_state, "gpus": smi})
    return Probe("gpu", None, f"{nvml_state} (and no Triton GPU metrics, no nvidia-smi)",
                 {"source": None, "nvml": nvml_state})


# --- the whole screen ----------------------------------------------------------------------------------
def collect(settings: Settings, server: str, triton_metrics_url: str | None = None, *,
            nvml: Any | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> list[Probe]:
    """Every probe, side by side; ``nvml`` None: ``load_nvml()``."""
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="hilum-status") as pool:
        orchestrator_job = pool.submit(probe_orchestrator, server, timeout_s)
        triton_job = pool.submit(probe_triton, settings.encoder, triton_metrics_url, timeout_s)
        narrator_job = pool.submit(probe_narrator, settings)
        orchestrator, metrics = orchestrator_job.result()
        triton, triton_metrics = triton_job.result()
        narrator = narrator_job.result()
    if metrics is not None:
        narrator = probe_narrator_served(narrator, orchestrator.detail.get("narrator_served"))
    gpu = probe_gpu(triton_metrics, nvml if nvml is not None else load_nvml())
    return [orchestrator, probe_sessions(metrics), probe_store(metrics), probe_queues(metrics), triton, narrator, gpu]


def probe_narrator_served(narrator: Probe, served: str | None) -> Probe:
    """The narrator probe, checked against what the server narrates with."""
    name = narrator.detail.get("narrator")
    detail = {**narrator.detail, "served": served}
    summary = narrator.summary
    if served is not None and name is not None and served != name:
        summary += f" · but the server narrates with {served} (its settings differ from these)"
    return Probe(narrator.name, narrator.ok, summary, detail, narrator.lines)


def healthy(probes: list[Probe]) -> bool:
    """No probe failed (not configured / unknown does not count as failed)."""
    return all(p.ok is not False for p in probes)


def as_json(probes: list[Probe], server: str) -> dict[str, Any]:
    return {"server": server, "ok": healthy(probes),
            **{p.name: {"ok": p.ok, "summary": p.summary, "detail": p.detail} for p in probes}}


def render(probes: list[Probe], server: str) -> str:
    marks = {True: "OK  ", False: "FAIL", None: "--  "}
    lines = [f"Hilum status · {server}"]
    for p in probes:
        lines.append(f"  {marks[p.ok]}  {p.name:<13} {p.summary}")
        lines += [f"  {'':4}  {'':<13}   {extra}" for extra in p.lines]
    return "\n".join(lines)
