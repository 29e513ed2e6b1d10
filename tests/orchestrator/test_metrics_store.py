"""The series the SRE dashboard and alerts need (issue 27): sessions by tenant (bounded to the keys
file's tenants, else ``default``), the session store's health (``hilum_session_store_up`` from the
readiness check and every operation, ``hilum_session_store_errors_total{op}``), 409 / 503 refusals
in ``hilum_errors_total`` by kind, and a first-turn latency histogram apart from follow-ups.

Real parts: the engine, the in-process store and a real ``redis-server`` on loopback (stopped
mid-test for the outage), the real app on uvicorn for ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from orchestrator.api.app import create_app
from orchestrator.api.readiness import Readiness
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.session import InMemorySessionStore
from orchestrator.errors import SessionBusyError, StoreUnavailableError
from orchestrator.facts import AnatomyFacts, AnatomyRegion, CostophrenicAngle, ImageFacts, PixelSpacing
from orchestrator.metrics import MAX_TENANT_LABELS, ServiceMetrics
from orchestrator.session_stores import RedisSessionStore
from orchestrator.settings import Settings
from orchestrator.tenancy import key_hash


class NoEncoder:
    name = "none"

    def encode(self, image: Any) -> Any:
        raise AssertionError("these sessions start from hand-built facts")

    def ready(self) -> bool:
        return True


def film_facts() -> ImageFacts:
    hila = {"right": (205.0, 230.0), "left": (305.0, 232.0)}
    anatomy = AnatomyFacts(
        regions=(AnatomyRegion("hilum_right", hila["right"], (190.0, 210.0, 220.0, 250.0)),
                 AnatomyRegion("hilum_left", hila["left"], (290.0, 212.0, 320.0, 252.0))),
        hilum_px=hila,
        costophrenic=(CostophrenicAngle("right", (80.0, 420.0), 35.0, "sharp"),
                      CostophrenicAngle("left", (430.0, 425.0), 38.0, "sharp")),
        cardiothoracic_ratio=0.46, heart_width_mm=140.0, thorax_width_mm=300.0,
    )
    return ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.7, 0.7, "dicom"), anatomy=anatomy,
                      findings=(), checked=("effusion", "heart"))


def keyed_settings(tmp_path: Path, tenants: tuple[str, ...], **extra: Any) -> Settings:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"tenants": {t: [key_hash(f"key-of-{t}")] for t in tenants}}))
    return Settings(api_keys_file=keys, **extra)


def sample(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- sessions by tenant ------------------------------------------------------------------------------


def test_sessions_by_tenant_follow_creates_and_closes(tmp_path: Path) -> None:
    metrics = ServiceMetrics()
    eng = DialogueEngine(NoEncoder(), keyed_settings(tmp_path, ("clinic-a", "clinic-b")), observer=metrics)  # type: ignore[arg-type]
    a1 = eng.start_session(film_facts(), tenant="clinic-a").session_id
    eng.start_session(film_facts(), tenant="clinic-a")
    eng.start_session(film_facts(), tenant="clinic-b")
    assert sample(metrics, "hilum_sessions_active", tenant="clinic-a") == 2
    assert sample(metrics, "hilum_sessions_active", tenant="clinic-b") == 1
    eng.close_session(a1, tenant="clinic-a")
    assert sample(metrics, "hilum_sessions_active", tenant="clinic-a") == 1
    assert sample(metrics, "hilum_sessions_active", tenant="default") is None  # keyed: no catch-all


def test_without_a_keys_file_every_session_counts_as_default() -> None:
    metrics = ServiceMetrics()
    eng = DialogueEngine(NoEncoder(), Settings(), observer=metrics)  # type: ignore[arg-type]
    for tenant in ("from-a-header", "another-header", "default"):  # X-Hilum-Tenant names are not labels
        eng.start_session(film_facts(), tenant=tenant)
    text = metrics.render().decode()
    assert sample(metrics, "hilum_sessions_active", tenant="default") == 3
    assert "from-a-header" not in text and "another-header" not in text


def test_the_tenant_label_stays_bounded_whatever_a_caller_names() -> None:
    metrics = ServiceMetrics()
    for i in range(MAX_TENANT_LABELS + 50):
        metrics.tenant_sessions(f"t{i}", 1)
    exposed = [line for line in metrics.render().decode().splitlines() if line.startswith("hilum_sessions_active{")]
    assert len(exposed) == MAX_TENANT_LABELS
    metrics.tenant_sessions("t0", 7)  # a tenant already exported keeps being updated
    assert sample(metrics, "hilum_sessions_active", tenant="t0") == 7


# --- first turn apart from follow-ups ------------------------------------------------------------


def test_first_turns_have_their_own_histogram() -> None:
    metrics = ServiceMetrics()
    eng = DialogueEngine(NoEncoder(), Settings(), observer=metrics)  # type: ignore[arg-type]
    timings = {"decode": 0.5, "gate": 0.25, "encode": 2.0, "findings": 1.0}  # what the upload's stages took
    sid = eng.start_session(film_facts(), timings=timings).session_id
    eng.ask(sid, "Is there a pleural effusion?")
    eng.ask(sid, "Is there cardiomegaly?")
    assert sample(metrics, "hilum_first_turn_seconds_count") == 1
    first = sample(metrics, "hilum_first_turn_seconds_sum") or 0.0
    assert 3.75 <= first < 3.75 + 5.0  # the upload's stages plus composing and narrating the screening turn
    assert sample(metrics, "hilum_first_turn_seconds_bucket", le="2.5") == 0
    assert sample(metrics, "hilum_first_turn_seconds_bucket", le="5.0") == 1
    follow_ups = sum(sample(metrics, "hilum_turn_seconds_count", intent=i) or 0.0
                     for i in ("assess_anatomy", "sign_checklist", "screen"))
    assert follow_ups == 2


# --- 409 and 503 refusals, and the store's health -------------------------------------------------


def test_a_busy_session_is_counted_as_session_busy() -> None:
    metrics = ServiceMetrics()
    store = InMemorySessionStore(lock_wait_s=0.05)
    eng = DialogueEngine(NoEncoder(), Settings(), store=store, observer=metrics)  # type: ignore[arg-type]
    sid = eng.start_session(film_facts()).session_id
    with store.turn_lock(sid), pytest.raises(SessionBusyError):  # another turn holds it
        eng.ask(sid, "Is there a pleural effusion?")
    assert sample(metrics, "hilum_errors_total", kind="session_busy") == 1
    assert sample(metrics, "hilum_errors_total", kind="store_unavailable") is None
    assert sample(metrics, "hilum_session_store_errors_total", op="turn_lock") == 0  # busy is not a store fault


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (make install puts it there)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield proc, f"redis://127.0.0.1:{port}/0"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def test_a_redis_outage_is_seen_by_readiness_and_counted_per_operation(
        tmp_path: Path, redis_server: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = redis_server
    metrics = ServiceMetrics()
    settings = keyed_settings(tmp_path, ("clinic-a",))
    eng = DialogueEngine(NoEncoder(), settings, store=RedisSessionStore.from_url(url, lock_wait_s=1.0),  # type: ignore[arg-type]
                         observer=metrics)
    readiness = Readiness(None, eng.store)
    sid = eng.start_session(film_facts(), tenant="clinic-a").session_id
    assert readiness.check()[0] is True
    assert sample(metrics, "hilum_session_store_up", store="redis") == 1
    assert sample(metrics, "hilum_sessions_active", tenant="clinic-a") == 1

    proc.terminate()  # Redis goes away
    proc.wait(timeout=10)
    ready, detail = readiness.check()
    assert ready is False and "the session store is not reachable" in detail["reasons"]
    assert sample(metrics, "hilum_session_store_up", store="redis") == 0
    assert sample(metrics, "hilum_session_store_errors_total", op="ping") == 1
    with pytest.raises(StoreUnavailableError):
        eng.ask(sid, "Is there a pleural effusion?", tenant="clinic-a")
    with pytest.raises(StoreUnavailableError):
        eng.start_session(film_facts(), tenant="clinic-a")
    assert sample(metrics, "hilum_session_store_errors_total", op="turn_lock") == 1  # the first thing a turn does
    assert sample(metrics, "hilum_session_store_errors_total", op="put") == 1
    assert sample(metrics, "hilum_errors_total", kind="store_unavailable") == 2  # one per refused request
    assert sample(metrics, "hilum_sessions_active", tenant="clinic-a") == 1  # the last count it could read


# --- over HTTP: /readyz sets the store's gauge, /metrics shows every new series ----------------------


def test_readyz_and_metrics_over_http() -> None:
    metrics = ServiceMetrics()
    eng = DialogueEngine(NoEncoder(), Settings(), observer=metrics)  # type: ignore[arg-type]
    app = create_app(Settings(), eng, metrics=metrics)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        before = httpx.get(f"{url}/metrics", timeout=30).text
        assert "hilum_session_store_up{" not in before  # nothing has asked the store yet
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200
        eng.start_session(film_facts())
        text = httpx.get(f"{url}/metrics", timeout=30).text
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert 'hilum_session_store_up{store="memory"} 1.0' in text
    assert 'hilum_sessions_active{tenant="default"} 1.0' in text
    assert "hilum_first_turn_seconds_count 1.0" in text
    assert 'hilum_session_store_errors_total{op="get"} 0.0' in text
