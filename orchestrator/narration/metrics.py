"""The narrator's Prometheus metrics, registered on a registry the service hands in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class NarratorMetrics:
    """TTFT, total time, tokens, guard rejections, fallbacks and per-replica outcomes.

    ``NarratorMetrics(registry)`` registers its collectors on ``registry`` (a fresh private
    registry when None, so tests and embedded use never touch the global one).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.ttft = Histogram(
            "hilum_narrator_ttft_seconds",
            "Time from the narration request to the language model's first token.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.total = Histogram(
            "hilum_narrator_seconds",
            "Total narration time per turn, fallbacks included.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "hilum_narrator_tokens",
            "Tokens reported by the language model (prompt, cached_prompt, completion).",
            ["kind"],
            registry=self.registry,
        )
        self.guard_rejections = Counter(
            "hilum_narrator_guard_rejections",
            "Narrations dropped by the fact guard, by the first failed check.",
            ["check"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "hilum_narrator_fallbacks",
            "Turns answered with the composer's text although a language model is configured.",
            ["reason"],
            registry=self.registry,
        )
        self.replica_requests = Counter(
            "hilum_narrator_replica_requests",
            "Requests to each vLLM replica by outcome (ok, timeout, unavailable, http_error, bad_response).",
            ["replica", "outcome"],
            registry=self.registry,
        )

    def observe_ttft(self, seconds: float) -> None:
        self.ttft.observe(seconds)

    def observe_total(self, source: str, seconds: float) -> None:
        self.total.labels(source=source).observe(seconds)

    def add_tokens(self, kind: str, count: int) -> None:
        if count > 0:
            self.tokens.labels(kind=kind).inc(count)

    def guard_rejected(self, check: str) -> None:
        self.guard_rejections.labels(check=check).inc()

    def fell_back(self, reason: str) -> None:
        self.fallbacks.labels(reason=reason).inc()

    def replica_request(self, replica: str, outcome: str) -> None:
        self.replica_requests.labels(replica=replica, outcome=outcome).inc()
