"""The session keeps its source record and frame (through JSON and a real Redis; older sessions
without them still load), and edit-and-re-run (``DialogueEngine.fork``) at the engine level:
turns before n identical, the registry as it stood then, no encoder call, the original unchanged."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator.dialogue.engine import DialogueEngine, InvalidTurnError
from orchestrator.dialogue.session import DicomReference, Frame, SessionState, SourceRecord
from orchestrator.errors import InvalidQuestionError, SessionNotFoundError, TenantQuotaError
from orchestrator.session_stores import RedisSessionStore
from orchestrator.settings import Settings

PATIENT_ID = "PID-4471-SOURCE-TEST"
QUESTIONS = (
    "How far is the right middle lobe nodule from the right hilum?",
    "Is its margin regular?",
    "What about the other one?",
)


class CountingEncoder:
    """Stands in for the anatomy encoder where the facts are given: it only counts calls."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, image: Any) -> Any:
        self.calls += 1
        raise AssertionError("a session over given facts never encodes")

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _engine(**settings: Any) -> tuple[DialogueEngine, CountingEncoder]:
    enc = CountingEncoder()
    return DialogueEngine(enc, Settings(**settings)), enc  # type: ignore[arg-type]


SOURCE = SourceRecord("dicom", DicomReference(
    "1.2.840.10008.5.1.4.1.1.1.1", "1.2.3.4.5.6", "1.2.3.4", "1.2.3.4.5", 1024, 944, modality="DX",
    patient_orientation=("L", "F"), header=(("PatientID", PATIENT_ID), ("StudyID", "S1"))))
FRAME = Frame((1024, 944), (512, 512), 2.0, (40.0, 0.0))


def _stable(turn: Any) -> dict[str, Any]:
    d = turn.to_dict() if hasattr(turn, "to_dict") else dict(turn)
    return {k: v for k, v in d.items() if k != "timings"}


# --- source and frame ------------------------------------------------------------------------


def test_source_and_frame_round_trip_and_stay_out_of_the_view_and_reprs(facts: Any) -> None:
    eng, _ = _engine()
    view = eng.start_session(facts, b"png", lang="en", source=SOURCE, frame=FRAME)
    eng.ask(view.session_id, QUESTIONS[0])
    state = eng.store.get(view.session_id)
    assert state is not None and state.source == SOURCE and state.frame == FRAME
    again = SessionState.from_json(state.to_json())
    assert again == state and again.source == SOURCE and again.frame == FRAME
    body = json.dumps(eng.get_session(view.session_id).to_dict())
    assert json.loads(body)["frame"] == {"original_size": [1024, 944], "working_size": [512, 512],
                                         "scale": 2.0, "pad_px": [40.0, 0.0]}
    assert PATIENT_ID not in body and "1.2.3.4.5.6" not in body  # the source record is never in an answer
    assert PATIENT_ID not in json.dumps(eng.report(view.session_id), default=str)
    assert PATIENT_ID not in repr(state) and PATIENT_ID not in repr(SOURCE)
    origin = eng.session_origin(view.session_id)
    assert origin.source == SOURCE and origin.frame == FRAME
    with pytest.raises(SessionNotFoundError):
        eng.session_origin(view.session_id, tenant="other")


def test_a_session_stored_before_source_and_frame_existed_still_loads(facts: Any) -> None:
    eng, _ = _engine()
    sid = eng.start_session(facts, b"png", lang="en", source=SOURCE, frame=FRAME).session_id
    old = json.loads(eng.store.get(sid).to_json())
    for key in ("source", "frame", "forked_from"):
        old.pop(key)
    state = SessionState.from_json(json.dumps(old))
    assert state.source is None and state.frame is None and state.forked_from is None
    assert len(state.turns) == 1 and state.facts == facts


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
    workdir: Path = tmp_path_factory.mktemp("redis-source")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
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


def test_source_and_frame_survive_redis_and_old_documents_load(facts: Any, redis_url: str) -> None:
    """Another replica (another engine over the same Redis) sees the source record and the frame;
    a document stored by an older version (no source, no frame) is read by this one."""
    writer = DialogueEngine(CountingEncoder(), Settings(), store=RedisSessionStore.from_url(redis_url))  # type: ignore[arg-type]
    reader = DialogueEngine(CountingEncoder(), Settings(), store=RedisSessionStore.from_url(redis_url))  # type: ignore[arg-type]
    sid = writer.start_session(facts, b"png", lang="en", source=SOURCE, frame=FRAME).session_id
    origin = reader.session_origin(sid)
    assert origin.source == SOURCE and origin.frame == FRAME
    assert reader.get_session(sid).to_dict()["frame"]["pad_px"] == [40.0, 0.0]

    old = json.loads(reader.store.get(sid).to_json())
    for key in ("source", "frame", "forked_from"):
        old.pop(key)
    old["session_id"] = "old-document-0001"
    redis.Redis.from_url(redis_url).set("hilum:session:old-document-0001", json.dumps(old).encode(), ex=60)
    view = reader.get_session("old-document-0001")
    assert view.to_dict()["frame"] is None and reader.session_origin("old-document-0001").source is None
    turn = reader.ask("old-document-0001", QUESTIONS[0])  # an old session still answers
    assert turn.turn == 2


# --- fork (edit and re-run) at the engine level ------------------------------------------------


def _four_turns(eng: DialogueEngine, facts: Any) -> tuple[str, list[SessionState]]:
    sid = eng.start_session(facts, b"png", lang="en", source=SOURCE, frame=FRAME).session_id
    snapshots = [eng.store.get(sid)]
    for q in QUESTIONS:
        eng.ask(sid, q)
        snapshots.append(eng.store.get(sid))
    return sid, snapshots


def test_before_turn_restores_the_registry_exactly(facts: Any) -> None:
    eng, _ = _engine()
    _, snaps = _four_turns(eng, facts)
    last = snaps[-1]
    for n in range(2, len(last.turns) + 1):
        then = snaps[n - 2]  # the state after turn n - 1
        rewound = last.before_turn(n)
        assert rewound.registry == then.registry, n
        assert rewound.turns == then.turns and rewound.questions == then.questions and rewound.queries == then.queries


@pytest.mark.parametrize("n", [2, 3, 4])
def test_fork_keeps_turns_before_n_and_answers_the_new_question(facts: Any, n: int) -> None:
    eng, enc = _engine()
    sid, snaps = _four_turns(eng, facts)
    original = eng.store.get(sid)
    new_q = "Is the left lower lobe strand calcified?"
    view = eng.fork(sid, n, new_q)
    assert enc.calls == 0, "a fork ran the encoder"
    assert view.session_id != sid and view.forked_from == {"session_id": sid, "turn": n}
    forked = eng.store.get(view.session_id)
    assert forked.turns[: n - 1] == original.turns[: n - 1]
    assert forked.questions[: n - 1] == original.questions[: n - 1]
    assert forked.facts == original.facts and forked.display_png == original.display_png
    assert forked.source == SOURCE and forked.frame == FRAME
    # the anchors as they stood before turn n, plus what turn n added
    before = snaps[n - 2].registry.anchors
    assert len(forked.registry.anchors) >= len(before)
    for a, b in zip(forked.registry.anchors, before, strict=False):
        assert replace(a, mentioned_turn=b.mentioned_turn) == b
        assert a.mentioned_turn == (n if a.id in forked.turns[-1].referenced_anchor_ids else b.mentioned_turn)
    assert len(forked.turns) == n and forked.turns[-1].turn == n and forked.questions[-1] == new_q
    fresh, _ = _engine()  # the same question asked at turn n of a fresh session over the same history
    replay = fresh.start_session(facts, lang="en").session_id
    for q in QUESTIONS[: n - 2]:
        fresh.ask(replay, q)
    assert _stable(fresh.ask(replay, new_q)) == _stable(forked.turns[-1])
    assert eng.store.get(sid) == original, "the original changed"


def test_forked_and_original_sessions_diverge_independently(facts: Any) -> None:
    eng, _ = _engine()
    sid, _ = _four_turns(eng, facts)
    fid = eng.fork(sid, 2, "Where is the strand?").session_id
    eng.ask(fid, QUESTIONS[1])
    eng.ask(sid, QUESTIONS[2])
    a, b = eng.store.get(sid), eng.store.get(fid)
    assert len(a.turns) == 5 and len(b.turns) == 3
    assert a.questions[1] == QUESTIONS[0] and b.questions[1] == "Where is the strand?"
    eng.close_session(sid)
    assert len(eng.get_session(fid).turns) == 3  # closing one leaves the other


def test_fork_refuses_bad_requests_without_echoing_them(facts: Any) -> None:
    eng, _ = _engine(max_sessions_per_tenant=3)
    sid, _ = _four_turns(eng, facts)
    for bad in (1, 0, -3, 5, 99, True):
        with pytest.raises(InvalidTurnError) as info:
            eng.fork(sid, bad, "Is it calcified?")
        assert info.value.http_status == 422 and "99" not in info.value.message
    with pytest.raises(InvalidQuestionError):
        eng.fork(sid, 2, "   ")
    with pytest.raises(SessionNotFoundError):
        eng.fork(sid, 2, "Is it calcified?", tenant="someone-else")
    with pytest.raises(SessionNotFoundError):
        eng.fork("no-such-session", 2, "Is it calcified?")
    eng.fork(sid, 2, "Is it calcified?")
    eng.fork(sid, 3, "Is it calcified?")
    with pytest.raises(TenantQuotaError):  # the tenant's open sessions: 3 with the original
        eng.fork(sid, 2, "Is it calcified?")
    assert len(eng.store.get(sid).turns) == 4
