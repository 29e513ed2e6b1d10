from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.session import InMemorySessionStore, SessionState
from orchestrator.dialogue.turn import TURN_KEYS, Turn
from orchestrator.settings import Settings

DESIGN_KEYS = {"turn", "intent", "lang", "query", "answer", "anchors", "referenced_anchor_ids", "findings",
               "measurements", "checklist", "overlays", "clarification"}


class NoEncoderDouble:
    name = "none"
    calls = 0

    def encode(self, image: Any) -> Any:
        raise AssertionError("not used")


def _engine(**kw: Any) -> DialogueEngine:
    return DialogueEngine(NoEncoderDouble(), Settings(), **kw)  # type: ignore[arg-type]


def test_turn_json_has_exactly_the_design_keys(facts: Any) -> None:
    eng = _engine()
    sid = eng.start_session(facts, lang="zh").session_id
    turn = eng.ask(sid, "这个病灶距离右肺门有多远?")
    d = turn.to_dict()
    assert set(d) == DESIGN_KEYS | {"narration", "timings"} == set(TURN_KEYS) - {"film_check"}
    screen = eng.get_session(sid).turns[0].to_dict()  # only a screening turn says what the gate found
    assert set(screen) == set(TURN_KEYS) and set(screen["film_check"]) == {
        "is_chest", "view", "orientation", "anatomy_plausible", "warnings"}
    assert set(d["answer"]) == {"text", "sections"}
    assert set(d["query"]) == {"side", "lobe", "zone", "band", "anatomy", "descriptors", "references"}
    assert d["narration"] == {"source": "composer", "fallback_reason": None}
    json.dumps(d)  # plain JSON
    assert Turn.from_dict(json.loads(json.dumps(d))) == turn


def test_session_state_round_trips_through_json(facts: Any) -> None:
    eng = _engine()
    sid = eng.start_session(facts, b"\x89PNG fake", lang="en").session_id
    eng.ask(sid, "How far is the right middle lobe nodule from the right hilum?")
    state = eng.store.get(sid)
    assert state is not None
    again = SessionState.from_json(state.to_json())
    assert again == state
    assert again.facts == facts


def test_store_ttl_and_max_size(make_facts: Callable[..., Any]) -> None:
    now = [0.0]
    store = InMemorySessionStore(ttl_s=10, max_sessions=2, clock=lambda: now[0])
    states = [SessionState(session_id=f"s{i}", tenant="t", lang="en", facts=make_facts()) for i in range(3)]
    store.put(states[0])
    store.put(states[1])
    assert store.get("s0") is not None  # s0 now most recent
    store.put(states[2])  # evicts s1 (least recently used)
    assert store.get("s1") is None and store.count() == 2
    now[0] = 11.0
    assert store.get("s0") is None and store.count() == 0
    store.put(states[0])
    assert store.delete("s0") and not store.delete("s0")


def test_store_evicts_only_within_the_creating_tenant(make_facts: Callable[..., Any]) -> None:
    store = InMemorySessionStore(ttl_s=100, max_sessions=2)
    facts = make_facts()
    store.put(SessionState(session_id="a0", tenant="a", lang="en", facts=facts))
    for i in range(4):  # b fills the store and keeps creating: only b's own oldest make room
        store.put(SessionState(session_id=f"b{i}", tenant="b", lang="en", facts=facts))
    assert store.get("a0") is not None
    assert [sid for sid in ("b0", "b1", "b2", "b3") if store.get(sid)] == ["b3"]
    assert store.count_tenant("a") == 1 and store.count_tenant("b") == 1 and store.count() == 2
    store.put(SessionState(session_id="a1", tenant="a", lang="en", facts=facts))  # a's own oldest goes
    assert store.get("a0") is None and store.get("b3") is not None
