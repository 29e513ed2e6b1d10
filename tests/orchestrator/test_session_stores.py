"""Sessions in a real Redis (and in process): a turn asked on one replica's engine continues on another's;
turns of one session are serial (bounded wait, then 409) and stored only on the version they were drafted on;
Redis unreachable is a 503, never a crash."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from encoder.phantom import generate_case, scenario_spec
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.session import InMemorySessionStore, SessionState, SessionStore, prior_turn
from orchestrator.encoders.factory import build_encoder
from orchestrator.errors import SessionBusyError, SessionNotFoundError, StoreUnavailableError
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



@pytest.fixture(scope="module")
def state(film: bytes) -> SessionState:
    """A real session's state (the film through the embedded encoder), to store under other ids."""
    settings = Settings()
    encoder = build_encoder(settings)
    try:
        engine = DialogueEngine(encoder, settings)
        sid = engine.create_session(film, lang="en", tenant="t").session_id
        engine.ask(sid, "How far is the right hilum from the lung apex?", tenant="t")
        found = engine.store.get(sid)
        assert found is not None and len(found.turns) == 2
        return found
    finally:
        encoder.close()


def _stores(redis_url: str, wait_s: float = 0.3, lease_s: float = 30.0) -> list[SessionStore]:
    return [InMemorySessionStore(lock_wait_s=wait_s),
            RedisSessionStore.from_url(redis_url, lock_wait_s=wait_s, lock_lease_s=lease_s)]


def _hold(store: SessionStore, sid: str, holding: threading.Event, release: threading.Event) -> None:
    with store.turn_lock(sid):
        holding.set()
        release.wait(30)


def test_a_turn_waits_a_bounded_time_for_the_session_then_409(redis_url: str, state: SessionState) -> None:
    for store in _stores(redis_url):
        sid = uuid.uuid4().hex
        holding, release, outcome = threading.Event(), threading.Event(), []

        holder = threading.Thread(target=_hold, args=(store, sid, holding, release))
        holder.start()
        assert holding.wait(30)
        try:
            with pytest.raises(SessionBusyError) as busy, store.turn_lock(sid):
                outcome.append("entered")  # must not happen while the other turn holds it
            assert busy.value.http_status == 409 and busy.value.retry_after_s and busy.value.grpc_code == "ABORTED"
        finally:
            release.set()
            holder.join(30)
        with store.turn_lock(sid):  # free again once the holder is done
            outcome.append("after")
        assert outcome == ["after"], type(store).__name__


def test_a_lapsed_lease_frees_the_session(redis_url: str) -> None:
    store = RedisSessionStore.from_url(redis_url, lock_wait_s=10.0, lock_lease_s=0.2)
    sid = uuid.uuid4().hex
    redis.Redis.from_url(redis_url).set("hilum:lock:" + sid, b"a replica that died", px=200)
    with store.turn_lock(sid):  # waits for the dead replica's lease, not for ever
        pass


def test_append_stores_a_turn_only_on_the_version_it_was_drafted_on(redis_url: str, state: SessionState) -> None:
    assert len(state.turns) >= 2
    for store in _stores(redis_url):
        sid = uuid.uuid4().hex
        first = replace(state, session_id=sid, turns=state.turns[:1], questions=state.questions[:1],
                        queries=state.queries[:1], history=state.history[:1])
        store.put(first)
        assert store.last_query(sid) == state.queries[0]
        second = state.records()[1]
        store.append(sid, 1, second, state.registry)
        assert store.last_query(sid) == second.query and second.query  # the new turn's, read alone
        with pytest.raises(SessionBusyError):  # a second turn drafted on the same version: refused
            store.append(sid, 1, second, state.registry)
        got = store.get(sid)
        assert got is not None and [t.turn for t in got.turns] == [1, 2]
        assert got.records() == state.records()[:2] and got.registry == state.registry
        head = store.get_head(sid)
        assert head is not None and head.turn_count == 2 and head.registry == state.registry
        store.delete(sid, tenant=state.tenant)
        with pytest.raises(SessionNotFoundError):  # a deleted session is not brought back by a late turn
            store.append(sid, 2, second, state.registry)
        assert store.get(sid) is None and store.get_head(sid) is None and store.last_query(sid) == {}


def test_a_redis_turn_touches_only_the_new_turn_and_the_registry(redis_url: str, state: SessionState) -> None:
    """The film record is written once: a turn appends one log record and replaces the head; the
    head a turn reads carries no log and no images unless asked, and the film's facts are parsed
    once per replica (cached), not on every turn."""
    store = RedisSessionStore.from_url(redis_url)
    client = redis.Redis.from_url(redis_url)
    sid = uuid.uuid4().hex
    first = replace(state, session_id=sid, turns=state.turns[:1], questions=state.questions[:1],
                    queries=state.queries[:1], history=state.history[:1], display_png=b"png", heatmap_png=b"hm")
    store.put(first)
    film_before = client.hgetall("hilum:film:" + sid)
    store.append(sid, 1, state.records()[1], state.registry)
    assert client.hgetall("hilum:film:" + sid) == film_before  # not rewritten
    assert client.llen("hilum:log:" + sid) == 2
    head = store.get_head(sid)
    assert head is not None and head.turns == () and head.history == () and head.display_png == b""
    with_history = store.get_head(sid, history=True, images=True)
    assert with_history is not None and with_history.history == tuple(r.narrator_view for r in state.records()[:2])
    assert with_history.display_png == b"png" and with_history.heatmap_png == b"hm"
    other_replica = RedisSessionStore.from_url(redis_url)

    def hgets() -> int:
        return int(client.info("commandstats").get("cmdstat_hget", {}).get("calls", 0))

    before = hgets()
    for _ in range(3):
        assert other_replica.get_head(sid) is not None
    assert hgets() - before == 1  # the film record read once by this replica, then from its cache
    store.delete(sid, tenant=state.tenant)
    assert other_replica.get_head(sid) is None  # gone for the replica that cached it too


def test_a_session_stored_whole_by_an_earlier_version_is_read_and_split(redis_url: str, state: SessionState) -> None:
    store = RedisSessionStore.from_url(redis_url)
    client = redis.Redis.from_url(redis_url)
    sid = uuid.uuid4().hex
    legacy = replace(state, session_id=sid)
    client.set("hilum:session:" + sid, legacy.to_json().encode("utf-8"), ex=60)
    got = store.get(sid)
    assert got is not None and got.to_jsonable() == legacy.to_jsonable()
    assert client.get("hilum:session:" + sid) is None and client.exists("hilum:film:" + sid)
    store.append(sid, len(state.turns), state.records()[-1], state.registry)
    assert store.get_head(sid).turn_count == len(state.turns) + 1  # type: ignore[union-attr]
    store.delete(sid, tenant=state.tenant)


def test_redis_unreachable_is_store_unavailable_not_a_crash() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]
    store = RedisSessionStore.from_url(f"redis://127.0.0.1:{nobody}/0")
    assert store.ping() is False
    for call in (lambda: store.get("x"), lambda: store.count_tenant("t"), lambda: store.count(),
                 lambda: store.delete("x", tenant="t")):
        with pytest.raises(StoreUnavailableError) as down:
            call()
        assert down.value.http_status == 503 and down.value.retry_after_s
        assert str(nobody) not in down.value.message
    with pytest.raises(StoreUnavailableError), store.turn_lock("x"):
        pass


def test_the_narrators_view_is_made_when_a_narrator_asks_for_it(redis_url: str, state: SessionState) -> None:
    """The composer reads no earlier turns, so its engine stores none of their narrator views (the
    facts' canonical JSON, a third of a turn's engine time); a state built without them (or stored by
    an earlier version) gets them made from the turns when a narrator that reads them asks."""
    expected = tuple(prior_turn(t, q) for t, q in zip(state.turns, state.questions, strict=True))
    assert state.history == (None,) * len(state.turns)  # the composer's engine made none
    for bare in (state, replace(state, history=())):
        for store in _stores(redis_url):
            sid = uuid.uuid4().hex
            store.put(replace(bare, session_id=sid))
            got = store.get(sid)
            assert got is not None and got.narrator_history() == expected and got.turns == state.turns
            head = store.get_head(sid, history=True)
            assert head is not None and head.history == expected and head.narrator_history() == expected
            assert store.get_head(sid, history=True).history == expected  # type: ignore[union-attr]
            store.delete(sid, tenant=state.tenant)


def test_a_redis_turn_takes_the_lock_with_its_read_and_releases_it_with_its_append(redis_url: str,
                                                                                  film: bytes) -> None:
    """Two round trips a turn: SET NX with the head's reads in one pipeline, and the append script,
    which releases the lock (no release script of its own); the lock is free after every turn."""
    settings = Settings(redis_url=redis_url)
    encoder = build_encoder(settings)
    client = redis.Redis.from_url(redis_url)

    def calls(command: str) -> int:
        return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))

    try:
        engine = DialogueEngine(encoder, settings, store=build_session_store(settings))
        sid = engine.create_session(film, lang="en", tenant="t").session_id
        engine.ask(sid, "How far is the right hilum from the lung apex?", tenant="t")  # the film record cached
        before = {c: calls(c) for c in ("evalsha", "set", "hget")}
        for question in ("Is there anything abnormal in the lungs?", "Where is the left hilum?", "How big is A1?"):
            engine.ask(sid, question, tenant="t")
            assert client.get("hilum:lock:" + sid) is None  # released by the append
        assert calls("evalsha") - before["evalsha"] == 3  # one script per turn: the append
        assert calls("set") - before["set"] == 3 * 3  # a turn: its lock; in the script, the head and the count
        assert calls("hget") - before["hget"] == 0  # the film record read from this replica's cache
        assert [t.turn for t in engine.get_session(sid, tenant="t").turns] == [1, 2, 3, 4, 5]
    finally:
        encoder.close()


def test_plain_and_streamed_turns_from_many_threads_of_one_replica_keep_the_lock_honest(redis_url: str,
                                                                                       film: bytes) -> None:
    """A stream's steps run where its consumer runs, and the next turn may take the lock the moment
    an append released it: neither may drop the other's hold (a dropped hold left the lock to its
    lease, and the turns behind it 409)."""
    from concurrent.futures import ThreadPoolExecutor

    settings = Settings(redis_url=redis_url, session_lock_wait_s=20.0)
    encoder = build_encoder(settings)
    client = redis.Redis.from_url(redis_url)
    questions = ("How big is A1?", "Where is the left hilum?", "Is there anything abnormal in the lungs?")
    try:
        engine = DialogueEngine(encoder, settings, store=build_session_store(settings))
        sid = engine.create_session(film, lang="en", tenant="t").session_id

        def work(i: int) -> list[int]:
            numbers = []
            for k in range(8):
                if (i + k) % 2:
                    numbers.append(engine.ask(sid, questions[k % 3], tenant="t").turn)
                else:
                    last = list(engine.ask_stream(sid, questions[k % 3], tenant="t"))[-1].turn
                    assert last is not None
                    numbers.append(last.turn)
            return numbers

        with ThreadPoolExecutor(max_workers=6) as pool:
            numbers = sorted(n for got in pool.map(work, range(6)) for n in got)
        assert numbers == list(range(2, 50))  # each number once, none lost
        assert client.get("hilum:lock:" + sid) is None
        assert [t.turn for t in engine.get_session(sid, tenant="t").turns] == list(range(1, 50))
    finally:
        encoder.close()


def test_an_earlier_films_comparison_is_stored_with_the_session(redis_url: str, tmp_path: Path) -> None:
    """A session made with an earlier film keeps the comparison in its film record and the earlier film's image beside
    its own: another replica answers "has it grown?" from it and serves the image, and a fork carries it."""
    from encoder.phantom import earlier_film

    case = generate_case(7, scenario_spec())
    case.write(tmp_path)
    earlier_film(case, days=180, scale=0.75).write(tmp_path / "earlier")
    settings = Settings(redis_url=redis_url)
    encoder = build_encoder(settings)
    try:
        replica_a = DialogueEngine(encoder, settings, store=build_session_store(settings))
        replica_b = DialogueEngine(encoder, settings, store=build_session_store(settings))
        view = replica_a.create_session((tmp_path / "image.dcm").read_bytes(), "image.dcm", lang="en",
                                        earlier=(tmp_path / "earlier" / "image.dcm").read_bytes())
        stored = replica_b.store.get(view.session_id)
        assert stored is not None and stored.interval is not None and stored.interval.interval_days == 180
        assert replica_b.earlier_png(view.session_id).startswith(b"\x89PNG")  # the earlier film's image too
        turn = replica_b.ask(view.session_id, "has the nodule grown?")
        assert turn.intent == "interval_change" and "180 days" in turn.answer.text
        forked = replica_a.fork(view.session_id, 2, "is it new?")
        assert forked.turns[-1].intent == "interval_change"
    finally:
        encoder.close()
