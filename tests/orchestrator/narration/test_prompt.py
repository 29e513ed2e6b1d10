"""Prefix caching keyed by image session: a byte-stable prompt prefix and a server-side salt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.narration.base import NarrationRequest
from orchestrator.narration.prompt import SYSTEM_TEXT, build_messages, render_prompt
from orchestrator.narration.salt import cache_salt
from orchestrator.narration.vllm import VLLMConfig, VLLMNarrator

KEY = "test-salt-key"


def _narrator(urls: list[str], **overrides: Any) -> VLLMNarrator:
    config = VLLMConfig(urls=tuple(urls), model="google/medgemma-4b-it", salt_key=KEY, deadline_s=5.0,
                        backoff_s=0.01, **overrides)
    return VLLMNarrator(config)


def _run_session(narrator: VLLMNarrator, make_request: Callable[..., NarrationRequest], session_id: str) -> None:
    shown: list[str] = []
    for turn in range(4):
        result = narrator.narrate(make_request(turn, shown, session_id=session_id))
        shown.append(result.text)


def test_each_prompt_begins_with_the_previous_prompt_minus_its_final_question(
    openai_double: Callable[..., Any], make_request: Callable[..., NarrationRequest]
) -> None:
    double = openai_double(texts=["Narration one.", "Narration two.", "Narration three.", "Narration four."])
    narrator = _narrator([double.url])
    try:
        _run_session(narrator, make_request, "session-prefix")
    finally:
        narrator.close()
    bodies = double.requests
    assert len(bodies) == 4
    for previous, current in zip(bodies, bodies[1:], strict=False):
        prev_msgs, cur_msgs = previous["messages"], current["messages"]
        prefix = render_prompt(prev_msgs[:-1]).encode("utf-8")
        assert render_prompt(cur_msgs).encode("utf-8").startswith(prefix)
        assert cur_msgs[: len(prev_msgs) - 1] == prev_msgs[:-1]
        # the earlier turn's user message is the opening of the message that request ended with,
        # so the cached prefix runs on into it
        assert prev_msgs[-1]["content"].startswith(cur_msgs[len(prev_msgs) - 1]["content"])
        assert cur_msgs[len(prev_msgs)] == {"role": "assistant", "content": "Narration " + ["one.", "two.", "three."][len(prev_msgs) // 2 - 1]}
    assert [len(b["messages"]) for b in bodies] == [2, 4, 6, 8]
    assert bodies[0]["messages"][0]["content"].startswith(SYSTEM_TEXT)
    for body in bodies:
        assert body["stream"] is True and body["temperature"] == 0 and body["model"] == "google/medgemma-4b-it"
        assert body["max_tokens"] == 512


def test_prompt_leaves_out_pixel_geometry_and_images(make_request: Callable[..., NarrationRequest]) -> None:
    messages = build_messages(make_request(0, []))
    flat = render_prompt(messages)
    assert "polygon" not in flat and "_px" not in flat and "data:image" not in flat and "overlays" not in flat
    assert '"diameter_mm":12.3' in flat


def test_a_language_switch_keeps_the_prefix(make_request: Callable[..., NarrationRequest]) -> None:
    en = build_messages(make_request(2, ["a", "b"], lang="en"))
    zh = build_messages(make_request(2, ["a", "b"], lang="zh"))
    assert en[:-1] == zh[:-1] and en[-1] != zh[-1]


def test_turns_share_a_salt_and_sessions_on_the_same_film_do_not(
    openai_double: Callable[..., Any], make_request: Callable[..., NarrationRequest]
) -> None:
    double = openai_double()
    narrator = _narrator([double.url])
    try:
        _run_session(narrator, make_request, "session-a")
        _run_session(narrator, make_request, "session-b")
    finally:
        narrator.close()
    salts_a = {b["cache_salt"] for b in double.requests[:4]}
    salts_b = {b["cache_salt"] for b in double.requests[4:]}
    assert salts_a == {cache_salt(KEY, "session-a")} and salts_b == {cache_salt(KEY, "session-b")}
    assert salts_a != salts_b
    # same film: identical image facts in both sessions' system messages
    assert double.requests[0]["messages"][0] == double.requests[4]["messages"][0]
    assert len(cache_salt(KEY, "session-a")) == 64
    assert cache_salt("another-key", "session-a") != cache_salt(KEY, "session-a")


def test_a_client_supplied_salt_is_ignored(
    openai_double: Callable[..., Any], make_request: Callable[..., NarrationRequest]
) -> None:
    double = openai_double()
    narrator = _narrator([double.url], extra_body={"cache_salt": "client-salt", "top_p": 1.0})
    request = make_request(1, ["earlier answer"], session_id="session-c")
    forged = NarrationRequest(
        session_id=request.session_id, lang=request.lang, image_facts_json=request.image_facts_json,
        prior_turns=request.prior_turns, question=request.question + " cache_salt=client-salt",
        turn_facts={**request.turn_facts, "cache_salt": "client-salt"}, composer_text=request.composer_text,
    )
    try:
        narrator.narrate(forged)
    finally:
        narrator.close()
    (body,) = double.requests
    assert body["cache_salt"] == cache_salt(KEY, "session-c")
    assert body["top_p"] == 1.0
    assert '"cache_salt"' not in render_prompt(body["messages"])
