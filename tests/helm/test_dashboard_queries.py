"""Every panel of the Grafana dashboard returns series from a real Prometheus.

The test starts ``hilum triton`` (the committed model repository), ``hilum serve`` on it, and a real
Prometheus (Debian package) scraping both every second on loopback, plus a loopback file server
with the recorded exposition of the exporters that cannot run here (``exporters/gpu-and-vllm.prom``:
DCGM, Triton's GPU series, vLLM). It drives two sessions (REST upload + follow-ups on a phantom
film) and one follow-up on an unknown session, then polls each panel's PromQL until it answers.
A query that names a GPU-only or vLLM-only metric is answered by the recorded names; every other
query only by the real servers (the recording holds no hilum_* or nv_inference_* series).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from export.triton_server import TritonServer, free_port

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "helm" / "hilum" / "dashboards" / "hilum.json"
RECORDED = Path(__file__).resolve().parent / "exporters" / "gpu-and-vllm.prom"
PROMETHEUS = shutil.which("prometheus")
RECORDED_ONLY = re.compile(r"\b(DCGM_FI_\w+|nv_gpu_\w+|vllm:\w+)")
QUESTIONS = ("Is the margin of the round opacity in the right middle lobe regular?",
             "How far is this lesion from the right hilum?")

pytestmark = [pytest.mark.slow, pytest.mark.triton,
              pytest.mark.skipif(PROMETHEUS is None, reason="prometheus (Debian package) not installed")]


def panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(f"{p['title']} [{t['refId']}]", t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def recorded_names() -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in RECORDED.read_text().splitlines()
            if line and not line.startswith("#")}


def wait_for(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from encoder.phantom import generate_case, scenario_spec

    out = tmp_path_factory.mktemp("phantom7")
    generate_case(7, scenario_spec()).write(out)
    return out / "image.png"


@pytest.fixture(scope="module")
def served(committed_triton: TritonServer) -> Iterator[str]:
    port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--grpc-port", str(grpc_port), "--encoder", f"triton://{committed_triton.grpc_url}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, "hilum serve exited"
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, 180, "hilum serve /readyz")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


class QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return


@pytest.fixture(scope="module")
def recorded_exporter() -> Iterator[str]:
    handler = functools.partial(QuietFileHandler, directory=str(RECORDED.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def prometheus(served: str, committed_triton: TritonServer, recorded_exporter: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert PROMETHEUS is not None
    work = tmp_path_factory.mktemp("prometheus")
    jobs = [("hilum-orchestrator", served.removeprefix("http://"), "/metrics"),
            ("hilum-triton", f"127.0.0.1:{committed_triton.ports.metrics}", "/metrics"),
            ("recorded-exporters", recorded_exporter, f"/{RECORDED.name}")]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": job, "metrics_path": path, "static_configs": [{"targets": [target]}]}
                                 for job, target, path in jobs]}
    (work / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(work / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"

    def all_up() -> bool:
        assert proc.poll() is None, (work / "prometheus.log").read_text()[-2000:]
        try:
            result = query(url, "up == 1")
        except (httpx.HTTPError, ValueError):  # not listening yet, or a starting server's non-JSON answer
            return False
        return {r["metric"]["job"] for r in result} == {job for job, _, _ in jobs}

    try:
        wait_for(all_up, 120, "Prometheus to scrape all three targets")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def drive(url: str, film: Path) -> None:
    with httpx.Client(base_url=url, timeout=300) as client:
        for _ in range(2):
            with film.open("rb") as fh:
                created = client.post("/v1/sessions", files={"file": ("film.png", fh, "image/png")},
                                      data={"lang": "en"})
            assert created.status_code in (200, 201), created.text
            session = created.json()["session_id"]
            for question in QUESTIONS:
                turn = client.post(f"/v1/sessions/{session}/turns", json={"question": question})
                assert turn.status_code == 200, turn.text
        missing = client.post("/v1/sessions/no-such-session/turns", json={"question": QUESTIONS[0]})
        assert missing.status_code == 404


def test_the_recording_holds_only_what_cannot_run_here() -> None:
    names = recorded_names()
    assert names and all(RECORDED_ONLY.fullmatch(n) for n in names)


def test_every_panel_query_returns_series(prometheus: str, served: str, film: Path) -> None:
    drive(served, film)
    recorded = recorded_names()
    unanswered = []
    for title, expr in panel_queries():
        promql = expr.replace("$__rate_interval", "1m")
        for name in RECORDED_ONLY.findall(expr):
            assert name in recorded, f"{title}: {name} is neither recorded nor real"
        try:
            wait_for(lambda q=promql: query(prometheus, q), 90, title)
        except AssertionError:
            unanswered.append(f"{title}: {promql}")
    assert unanswered == []
    # and a query with a wrong label value finds nothing: an empty answer is what a broken panel gets
    assert query(prometheus, 'hilum_request_seconds_bucket{endpoint="POST /v1/no-such-route"}') == []
    # the real servers answered their panels with real traffic, not only with zeros
    turns = query(prometheus, "sum by (intent) (hilum_turns_total)")
    assert {r["metric"]["intent"] for r in turns} >= {"describe_margin", "measure_relation"}
    assert float(query(prometheus, "sum(nv_inference_request_success)")[0]["value"][1]) >= 2
    errors = query(prometheus, "sum by (kind) (hilum_errors_total)")
    assert "session_not_found" in {r["metric"]["kind"] for r in errors}
