"""Sessions in a real Redis: a turn asked on one replica's engine continues on another's."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from encoder.phantom import generate_case, scenario_spec
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.encoders.factory import build_encoder
from orchestrator.errors import SessionNotFoundError
from orchestrator.session_stores import RedisSessionStore, build_session_store
from orchestrator.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (make install puts it there)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out: Path = tmp_path_factory.mktemp("film")
    generate_case(7, scenario_spec()).write(out)
    return (out / "image.png").read_bytes()


def test_settings_choose_redis_when_a_url_is_set(redis_url: str) -> None:
    assert isinstance(build_session_store(Settings(redis_url=redis_url)), RedisSessionStore)
    assert not isinstance(build_session_store(Settings()), RedisSessionStore)


def test_two_replicas_share_one_session_through_redis(redis_url: str, film: bytes) -> None:
    settings = Settings(redis_url=redis_url)
    encoder = build_encoder(settings)
    try:
        replica_a = DialogueEngine(encoder, settings, store=build_session_store(settings))
        replica_b = DialogueEngine(encoder, settings, store=build_session_store(settings))
        view = replica_a.create_session(film, "image.png", lang="en", tenant="clinic-a")
        calls_after_screening = encoder.calls
        assert replica_b.store.count_tenant("clinic-a") == 1 and replica_b.store.count_tenant("clinic-b") == 0

        turn = replica_b.ask(view.session_id, "How far is the right hilum from the lung apex?", tenant="clinic-a")
        assert turn.to_dict()["turn"] == 2
        again = replica_a.get_session(view.session_id, tenant="clinic-a")
        assert [t.to_dict()["turn"] for t in again.turns] == [1, 2]
        assert encoder.calls == calls_after_screening, "a follow-up turn re-ran the encoder"

        with pytest.raises(SessionNotFoundError):  # another tenant's: not found, on any replica
            replica_a.get_session(view.session_id, tenant="clinic-b")
        replica_b.close_session(view.session_id, tenant="clinic-a")
        assert replica_a.store.count_tenant("clinic-a") == 0
        with pytest.raises(SessionNotFoundError):
            replica_a.ask(view.session_id, "is it calcified?", tenant="clinic-a")
    finally:
        encoder.close()


def test_a_session_expires_with_its_ttl(redis_url: str) -> None:
    store = RedisSessionStore.from_url(redis_url, ttl_s=1)
    client = redis.Redis.from_url(redis_url)
    client.set("hilum:session:probe", b"{}", ex=1)
    assert store.count() >= 1
    time.sleep(1.5)
    assert store.get("probe") is None
