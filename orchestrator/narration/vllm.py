"""The vLLM narrator: MedGemma (or any chat model) behind vLLM's OpenAI-compatible API.

One turn = one streamed ``POST /v1/chat/completions`` (``stream: true``; SSE ``data:`` lines
ending with ``data: [DONE]``) carrying the prefix-stable messages of ``prompt.py``, the
session's ``cache_salt`` (``salt.py``), ``temperature: 0`` and ``max_tokens``. The session's
replica is chosen by rendezvous hashing (``routing.py``); a replica that fails is retried on the
next one with exponential backoff, each replica behind its own circuit breaker. The whole turn
has one deadline: whatever happens (a hung replica included) ``narrate`` returns by then, with
the composer's text and a ``fallback_reason`` when the model did not deliver. The narration is
checked by the fact guard before it is used.

Tests inject an ``httpx`` transport or client (the seam); nothing is monkeypatched.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from orchestrator.errors import NarratorError
from orchestrator.narration.base import NarrationRequest, NarrationResult
from orchestrator.narration.breaker import CircuitBreaker
from orchestrator.narration.guard import check_narration
from orchestrator.narration.metrics import NarratorMetrics
from orchestrator.narration.prefix_cache import base_url, prefix_cache_stats
from orchestrator.narration.prompt import build_messages
from orchestrator.narration.routing import rendezvous_order
from orchestrator.narration.salt import cache_salt

CHAT_PATH = "/v1/chat/completions"
# request fields only the narrator sets; ``extra_body`` can never override them
RESERVED_FIELDS = frozenset({"model", "messages", "stream", "stream_options", "cache_salt", "temperature", "max_tokens"})
_CHUNK_SPLIT = re.compile(r"(?<=[。！？；\n])|(?<=[.!?;])(?=\s)")  # after a sentence, not inside 4.7


@dataclass(frozen=True)
class VLLMConfig:
    urls: tuple[str, ...]
    model: str
    salt_key: str
    deadline_s: float = 8.0
    max_tokens: int = 512
    connect_timeout_s: float = 1.0
    max_attempts: int = 3
    backoff_s: float = 0.1
    breaker_failures: int = 3
    breaker_reset_s: float = 15.0
    health_timeout_s: float = 1.0
    max_concurrency: int = 32
    extra_body: dict[str, Any] = field(default_factory=dict)  # e.g. {"top_p": 1.0}; reserved fields dropped


@dataclass(frozen=True)
class Generation:
    text: str
    replica: str
    attempts: int
    ttft_s: float
    total_s: float
    usage: dict[str, Any]


class AttemptError(NarratorError):
    """One request to one replica failed; ``outcome`` is its metrics label."""

    def __init__(self, message: str, outcome: str, retriable: bool) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retriable = retriable


class FallbackError(NarratorError):
    """No narration this turn; ``reason`` is the fallback's metrics label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def build_chat_body(request: NarrationRequest, config: VLLMConfig) -> dict[str, Any]:
    """The JSON body of one streamed chat completion; the salt comes from the key and session only."""
    body: dict[str, Any] = {k: v for k, v in config.extra_body.items() if k not in RESERVED_FIELDS}
    body.update(
        model=config.model,
        messages=build_messages(request),
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.0,
        max_tokens=config.max_tokens,
        cache_salt=cache_salt(config.salt_key, request.session_id),
    )
    return body


def iter_sse_data(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of an OpenAI-style SSE stream, up to ``data: [DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, event names
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise AttemptError(f"malformed SSE data: {data[:80]!r}", "bad_response", retriable=False) from exc
        if isinstance(payload, dict) and "error" in payload:
            raise AttemptError(f"vLLM error: {payload['error']}", "http_error", retriable=True)
        if isinstance(payload, dict):
            yield payload
    raise AttemptError("stream ended without [DONE]", "bad_response", retriable=True)


def _delta_text(payload: dict[str, Any]) -> str:
    parts = []
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)


class VLLMNarrator:
    name = "vllm"
    uses_history = True  # the conversation so far is the prompt's prefix (prefix-cached per session)

    def __init__(
        self,
        config: VLLMConfig,
        *,
        metrics: NarratorMetrics | None = None,
        transport: httpx.BaseTransport | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not config.urls:
            raise ValueError("VLLMNarrator needs at least one URL")
        self.config = config
        self.urls = tuple(base_url(u) for u in config.urls)
        self.metrics = metrics if metrics is not None else NarratorMetrics()
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client(transport=transport)
        self._clock = clock
        self._sleep = sleep
        self._breakers = {
            u: CircuitBreaker(config.breaker_failures, config.breaker_reset_s, clock=clock) for u in self.urls
        }
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.max_concurrency, thread_name_prefix="hilum-narrator"
        )

    # --- the Narrator protocol -----------------------------------------------------------

    def narrate(self, request: NarrationRequest) -> NarrationResult:
        started = self._clock()
        deadline = started + self.config.deadline_s
        cancelled = threading.Event()
        future = self._pool.submit(self._generate, request, deadline, cancelled)
        try:
            generation = future.result(timeout=max(0.0, deadline - self._clock()))
        except concurrent.futures.TimeoutError:
            cancelled.set()
            return self._fallback(request, started, "deadline", f"no narration within {self.config.deadline_s:g} s")
        except FallbackError as exc:
            return self._fallback(request, started, exc.reason, exc.message)
        except Exception as exc:  # a narrator fault must never cost the turn its answer
            return self._fallback(request, started, "error", f"{type(exc).__name__}: {exc}")
        verdict = check_narration(generation.text, request.turn_facts, request.composer_text, request.question)
        timings = {"ttft_s": generation.ttft_s, "llm_s": generation.total_s, "attempts": float(generation.attempts)}
        if not verdict.ok:
            self.metrics.guard_rejected(verdict.check)
            detail = "; ".join(verdict.violations[:3])
            return self._fallback(request, started, "guard", f"narration contradicted the facts ({detail})", timings)
        total = self._clock() - started
        self.metrics.observe_total("llm", total)
        return NarrationResult(text=generation.text, source="llm", timings={**timings, "total_s": total})

    def stream(self, request: NarrationRequest) -> Generator[str, None, NarrationResult]:
        """The guard needs the whole narration, so chunks (sentences) come once it has passed; the
        stream returns the narration's result (its source and, for the composer's text, why)."""
        result = self.narrate(request)
        yield from (chunk for chunk in _CHUNK_SPLIT.split(result.text) if chunk)
        return result

    def health(self) -> dict[str, Any]:
        replicas = []
        for url in self.urls:
            try:
                up = self._client.get(url + "/health", timeout=self.config.health_timeout_s).status_code == 200
            except httpx.HTTPError:
                up = False
            replicas.append({"url": url, "up": up, "breaker": self._breakers[url].state})
        stats = prefix_cache_stats(self.urls, client=self._client, timeout_s=self.config.health_timeout_s)
        return {
            "narrator": "vllm",
            "ok": any(r["up"] for r in replicas),
            "model": self.config.model,
            "replicas": replicas,
            "prefix_cache_hit_rate": stats.hit_rate,
        }

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_client:
            self._client.close()

    # --- internals -------------------------------------------------------------------------

    def _fallback(
        self,
        request: NarrationRequest,
        started: float,
        reason: str,
        message: str,
        timings: dict[str, float] | None = None,
    ) -> NarrationResult:
        self.metrics.fell_back(reason)
        total = self._clock() - started
        self.metrics.observe_total("composer", total)
        return NarrationResult(
            text=request.composer_text,
            source="composer",
            fallback_reason=f"{reason}: {message}",
            timings={**(timings or {}), "total_s": total},
        )

    def _generate(self, request: NarrationRequest, deadline: float, cancelled: threading.Event) -> Generation:
        body = build_chat_body(request, self.config)
        plan = rendezvous_order(request.session_id, self.urls) * self.config.max_attempts
        attempts = 0
        last: AttemptError | None = None
        for url in plan:
            if attempts >= self.config.max_attempts or cancelled.is_set():
                break
            if not self._breakers[url].allow():
                continue
            if attempts:
                self._sleep(min(self.config.backoff_s * 2 ** (attempts - 1), max(0.0, deadline - self._clock())))
            if self._clock() >= deadline:
                raise FallbackError("deadline", f"no narration within {self.config.deadline_s:g} s")
            attempts += 1
            try:
                generation = self._attempt(url, body, deadline, attempts)
            except AttemptError as exc:
                self._breakers[url].record_failure()
                self.metrics.replica_request(url, exc.outcome)
                last = exc
                if not exc.retriable:
                    break
                continue
            self._breakers[url].record_success()
            self.metrics.replica_request(url, "ok")
            return generation
        if last is None:
            raise FallbackError("circuit_open", "every vLLM replica's circuit breaker is open")
        reason = "deadline" if last.outcome == "timeout" else "unavailable"
        raise FallbackError(reason, f"{last.message} (after {attempts} attempt(s))")

    def _attempt(self, url: str, body: dict[str, Any], deadline: float, attempt: int) -> Generation:
        started = self._clock()
        remaining = max(0.001, deadline - started)
        timeout = httpx.Timeout(remaining, connect=min(self.config.connect_timeout_s, remaining))
        try:
            with self._client.stream("POST", url + CHAT_PATH, json=body, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    retriable = response.status_code >= 500 or response.status_code == 429
                    raise AttemptError(f"{url} answered HTTP {response.status_code}", "http_error", retriable)
                return self._read_stream(url, response, started, deadline, attempt)
        except httpx.TimeoutException as exc:
            raise AttemptError(f"{url} timed out ({type(exc).__name__})", "timeout", retriable=False) from exc
        except httpx.HTTPError as exc:
            raise AttemptError(f"{url} unreachable ({type(exc).__name__}: {exc})", "unavailable", True) from exc

    def _read_stream(
        self, url: str, response: httpx.Response, started: float, deadline: float, attempt: int
    ) -> Generation:
        parts: list[str] = []
        ttft: float | None = None
        usage: dict[str, Any] = {}
        for payload in iter_sse_data(response.iter_lines()):
            if self._clock() > deadline:
                raise AttemptError(f"{url} streamed past the deadline", "timeout", retriable=False)
            text = _delta_text(payload)
            if text and ttft is None:
                ttft = self._clock() - started
                self.metrics.observe_ttft(ttft)
            parts.append(text)
            if isinstance(payload.get("usage"), dict):
                usage = payload["usage"]
        self._count_tokens(usage)
        total = self._clock() - started
        return Generation("".join(parts).strip(), url, attempt, ttft if ttft is not None else total, total, usage)

    def _count_tokens(self, usage: dict[str, Any]) -> None:
        self.metrics.add_tokens("prompt", int(usage.get("prompt_tokens") or 0))
        self.metrics.add_tokens("completion", int(usage.get("completion_tokens") or 0))
        details = usage.get("prompt_tokens_details") or {}
        self.metrics.add_tokens("cached_prompt", int(details.get("cached_tokens") or 0))
