"""Rendezvous routing: even spread, minimal movement, failover to the next replica."""

from __future__ import annotations

import random
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from orchestrator.narration.base import NarrationRequest
from orchestrator.narration.routing import rendezvous_order, route
from orchestrator.narration.vllm import VLLMConfig, VLLMNarrator

REPLICAS = [f"http://vllm-{i}.vllm:8000" for i in range(4)]


def _sessions(n: int) -> list[str]:
    rng = random.Random(8)
    return [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(n)]


def test_1000_sessions_over_4_replicas_land_within_15_percent_of_even() -> None:
    counts = Counter(route(s, REPLICAS) for s in _sessions(1000))
    assert set(counts) == set(REPLICAS)
    for replica in REPLICAS:
        assert abs(counts[replica] - 250) <= 0.15 * 250, counts


def test_removing_a_replica_moves_only_its_sessions() -> None:
    sessions = _sessions(1000)
    before = {s: route(s, REPLICAS) for s in sessions}
    gone = REPLICAS[2]
    remaining = [r for r in REPLICAS if r != gone]
    after = {s: route(s, remaining) for s in sessions}
    moved = {s for s in sessions if before[s] != after[s]}
    assert moved == {s for s in sessions if before[s] == gone}
    # and they move to their own second choice, spread over the others
    assert all(after[s] == rendezvous_order(s, REPLICAS)[1] for s in moved)
    assert len(Counter(after[s] for s in moved)) == 3


def test_route_skips_unavailable_replicas_in_order() -> None:
    order = rendezvous_order("session-x", REPLICAS)
    assert route("session-x", REPLICAS, available=lambda r: r != order[0]) == order[1]
    assert route("session-x", REPLICAS, available=lambda r: False) is None
    assert rendezvous_order("session-x", list(reversed(REPLICAS))) == order


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_session_whose_replica_is_down_fails_over_to_the_next(
    openai_double: Callable[..., Any], make_request: Callable[..., NarrationRequest]
) -> None:
    live = openai_double(texts=["The margin is lobulated."])
    dead = _closed_port_url()
    urls = [dead, live.url]
    session = next(s for s in _sessions(50) if rendezvous_order(s, urls)[0] == dead)
    narrator = VLLMNarrator(VLLMConfig(urls=tuple(urls), model="m", salt_key="k", deadline_s=5.0, backoff_s=0.01))
    try:
        result = narrator.narrate(make_request(1, ["earlier"], session_id=session))
    finally:
        narrator.close()
    assert result.source == "llm" and result.text == "The margin is lobulated."
    assert result.timings["attempts"] == 2
    assert len(live.requests) == 1
    registry = narrator.metrics.registry
    assert registry.get_sample_value("hilum_narrator_replica_requests_total", {"replica": dead, "outcome": "unavailable"}) == 1
    assert registry.get_sample_value("hilum_narrator_replica_requests_total", {"replica": live.url, "outcome": "ok"}) == 1
