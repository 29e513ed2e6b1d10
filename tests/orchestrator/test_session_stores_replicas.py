"""Two real ``hilum serve`` processes on one real Redis (AOF, ``appendfsync always``), started and
stopped here on free loopback ports: concurrent turns on one session lose nothing and hand out
each turn number once; a Redis ``kill -9`` and restart keeps every acknowledged turn; while Redis
is down every request is a 503 with Retry-After (an upload before any decoding) and ``/readyz``
says not ready and why, and both replicas recover when it is back."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = (
    "Is there anything abnormal in the lungs?",
    "Is the margin of the round opacity in the right middle lobe regular?",
    "How far is this lesion from the right hilum?",
    "If this were early lung cancer, what are the typical X-ray signs, and how many does this image show?",
    "Where is the left hilum?",
)
RETRYABLE = {409, 429, 503}
START_TIMEOUT_S = 180.0
ASK_DEADLINE_S = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server with AOF fsynced on every write, restartable on the same port and files."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (make install puts it there)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:  # not listening yet, or still loading the AOF
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start_replica(redis_url: str, workdir: Path, name: str) -> Replica:
    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "HILUM_REDIS_URL": redis_url, "HILUM_TENANT_RATE_PER_S": "0",
           "HILUM_SESSION_LOCK_LEASE_S": "5", "HILUM_SESSION_LOCK_WAIT_S": "10"}
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--grpc-port", str(grpc_port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    return Replica(proc, f"http://127.0.0.1:{port}", log)


def wait_ready(replica: Replica, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert replica.proc.poll() is None, replica.output()
        try:
            if httpx.get(f"{replica.url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{replica.url} never became ready:\n{replica.output()}")


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from encoder.phantom import generate_case, scenario_spec

    out = tmp_path_factory.mktemp("film")
    generate_case(7, scenario_spec()).write(out)
    return (out / "image.png").read_bytes()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, list[Replica]]]:
    workdir = tmp_path_factory.mktemp("replicas")
    store = RedisServer(workdir)
    store.start()
    replicas = [start_replica(store.url, workdir, name) for name in ("a", "b")]
    try:
        for replica in replicas:
            wait_ready(replica)
        yield store, replicas
    finally:
        for replica in replicas:
            if replica.proc.poll() is None:
                replica.proc.terminate()
        for replica in replicas:
            try:
                replica.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait(timeout=30)
        store.stop()


def create_session(url: str, film: bytes) -> str:
    r = httpx.post(f"{url}/v1/sessions", files={"file": ("image.png", film, "image/png")}, data={"lang": "en"},
                   timeout=120)
    assert r.status_code == 201, r.text
    return str(r.json()["session_id"])


@dataclass
class Asker:
    """Asks ``turns`` questions on one session, alternating replicas; a refusal must be a
    409/429/503 with Retry-After, and the question is asked again until it is acknowledged."""

    urls: list[str]
    session_id: str
    index: int
    turns: int
    honour_retry_after: bool = False
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    failure: str | None = None

    def run(self, progress: threading.Semaphore) -> None:
        try:
            with httpx.Client(timeout=120) as client:
                for j in range(self.turns):
                    question = QUESTIONS[(self.index + j) % len(QUESTIONS)]
                    self.acknowledged.append(self._ask(client, self.urls[(self.index + j) % len(self.urls)], question))
                    progress.release()
        except Exception as exc:  # noqa: BLE001 - reported by the test thread
            self.failure = f"{type(exc).__name__}: {exc}"

    def _ask(self, client: httpx.Client, url: str, question: str) -> dict[str, Any]:
        deadline = time.monotonic() + ASK_DEADLINE_S
        while True:
            try:
                r = client.post(f"{url}/v1/sessions/{self.session_id}/turns", json={"question": question})
            except httpx.TransportError:
                r = None  # the connection broke: nothing was acknowledged, ask again
            if r is not None and r.status_code == 200:
                return dict(r.json())
            if r is not None:
                assert r.status_code in RETRYABLE, (r.status_code, r.text)
                assert "retry-after" in r.headers, r.headers
                self.refusals.append(r.status_code)
            assert time.monotonic() < deadline, "a turn was never acknowledged"
            wait = float(r.headers["retry-after"]) if (r is not None and self.honour_retry_after) else 0.05
            time.sleep(wait)


def run_askers(askers: list[Asker], progress: threading.Semaphore) -> list[threading.Thread]:
    threads = [threading.Thread(target=a.run, args=(progress,), daemon=True) for a in askers]
    for t in threads:
        t.start()
    return threads


def assert_all_acknowledged_stored(url: str, session_id: str, askers: list[Asker], expected_acks: int) -> None:
    for a in askers:
        assert a.failure is None, a.failure
    acks = [t for a in askers for t in a.acknowledged]
    assert len(acks) == expected_acks
    numbers = [t["turn"] for t in acks]
    assert len(set(numbers)) == len(numbers), "a turn number was handed out twice"
    stored = httpx.get(f"{url}/v1/sessions/{session_id}", timeout=60).json()["turns"]
    stored_numbers = [t["turn"] for t in stored]
    assert stored_numbers == list(range(1, len(stored) + 1)), "stored turn numbers are not contiguous"
    by_number = {t["turn"]: t for t in stored}
    for ack in acks:  # every acknowledged turn is stored as it was answered
        kept = by_number.get(ack["turn"])
        assert kept is not None, f"acknowledged turn {ack['turn']} was lost"
        assert (kept["intent"], kept["answer"]["text"]) == (ack["intent"], ack["answer"]["text"])


def test_two_replicas_serialise_concurrent_turns(cluster: tuple[RedisServer, list[Replica]], film: bytes) -> None:
    _, replicas = cluster
    urls = [r.url for r in replicas]
    sid = create_session(urls[0], film)
    askers = [Asker(urls, sid, i, turns=10) for i in range(8)]
    progress = threading.Semaphore(0)
    for t in run_askers(askers, progress):
        t.join(timeout=ASK_DEADLINE_S * 2)
        assert not t.is_alive(), "an asker hung"
    assert_all_acknowledged_stored(urls[1], sid, askers, expected_acks=80)
    stored = httpx.get(f"{urls[0]}/v1/sessions/{sid}", timeout=60).json()["turns"]
    assert len(stored) == 81  # the screening turn and the 80 acknowledged: nothing lost, nothing extra


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? ([0-9.eE+-]+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def wait_readyz(url: str, status: int, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        r = httpx.get(f"{url}/readyz", timeout=10)
        if r.status_code == status:
            return dict(r.json())
        assert time.monotonic() < deadline, f"/readyz stayed {r.status_code}: {r.text}"
        time.sleep(0.1)


def test_redis_kill9_keeps_every_acknowledged_turn_and_outage_is_503(
        cluster: tuple[RedisServer, list[Replica]], film: bytes) -> None:
    store, replicas = cluster
    urls = [r.url for r in replicas]
    sid = create_session(urls[1], film)
    askers = [Asker(urls, sid, i, turns=8, honour_retry_after=True) for i in range(4)]
    progress = threading.Semaphore(0)
    threads = run_askers(askers, progress)
    for _ in range(6):  # some turns acknowledged before Redis dies, the rest around and after it
        assert progress.acquire(timeout=ASK_DEADLINE_S), "no turn was acknowledged"
    store.kill9()
    try:
        for url in urls:
            down = wait_readyz(url, 503)
            assert down["status"] == "not_ready" and down["detail"]["store_ready"] is False
            assert "the session store is not reachable" in down["detail"]["reasons"]
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200  # alive, not ready

        before = httpx.get(f"{urls[0]}/metrics", timeout=10).text
        upload = httpx.post(f"{urls[0]}/v1/sessions", files={"file": ("image.png", film, "image/png")}, timeout=60)
        garbage = httpx.post(f"{urls[0]}/v1/sessions", files={"file": ("x.png", b"not a film", "image/png")},
                             timeout=60)
        read = httpx.get(f"{urls[1]}/v1/sessions/{sid}", timeout=60)
        turn = httpx.post(f"{urls[1]}/v1/sessions/{sid}/turns", json={"question": QUESTIONS[0]}, timeout=60)
        after = httpx.get(f"{urls[0]}/metrics", timeout=10).text
        for r in (upload, garbage, read, turn):
            assert r.status_code == 503, r.text
            assert r.json()["error"]["kind"] == "store_unavailable" and int(r.headers["retry-after"]) >= 1
            assert "127.0.0.1" not in r.text and "Error" not in r.json()["error"]["message"]
        # refused before any decoding or encoding: garbage is 503, not 415; no decode or encode ran
        for stage in ("decode", "encode"):
            assert (metric(after, "hilum_stage_seconds_count", stage=stage)
                    == metric(before, "hilum_stage_seconds_count", stage=stage)), stage
    finally:
        store.start()  # the same port, the same AOF
    for url in urls:
        assert wait_readyz(url, 200)["detail"]["store_ready"] is True
    for t in threads:
        t.join(timeout=ASK_DEADLINE_S * 2)
        assert not t.is_alive(), "an asker hung"
    assert_all_acknowledged_stored(urls[0], sid, askers, expected_acks=32)
