"""Prometheus metrics on a per-app ``CollectorRegistry``; implements the engine's ``EngineObserver``.

One ``ServiceMetrics`` is built by the app factory and kept on ``app.state``; REST, gRPC and
the engine all report into it, and ``/metrics`` renders its registry (plus the narrator's
collectors, registered on the same registry). The session store's series (sessions by tenant,
store health and errors, first-turn latency) come from the engine's ``ObservedStore``
(``orchestrator/observer.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from orchestrator.observer import FILM_OUTCOMES, STORE_OPS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
STAGES = ("decode", "encode", "findings", "compose", "narrate")
RESOLUTIONS = ("resolved", "ambiguous", "none")
MAX_TENANT_LABELS = 200  # tenants come from the API keys file (else "default"); a guard past that: not exported


class EncoderCountersCollector(Collector):
    """Reads an encoder's own counters at scrape time: ``calls`` (films), ``batches`` (model runs)
    and ``pending`` (films accepted, not yet answered) where the encoder has them."""

    def __init__(self, encoder: Any, prefix: str = "hilum_encoder", what: str = "the encoder") -> None:
        self.encoder, self.prefix, self.what = encoder, prefix, what

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        films = CounterMetricFamily(f"{self.prefix}_films", f"Films {self.what} has encoded.")
        films.add_metric([], float(getattr(self.encoder, "calls", 0)))
        yield films
        batches = getattr(self.encoder, "batches", None)
        if batches is not None:
            runs = CounterMetricFamily(f"{self.prefix}_batches", "Model runs (films / batches = mean batch size).")
            runs.add_metric([], float(batches))
            yield runs
        pending = getattr(self.encoder, "pending", None)
        if pending is not None:
            waiting = GaugeMetricFamily(
                f"{self.prefix}_pending", f"Films handed to {self.what} and not yet answered (queued or running)."
            )
            waiting.add_metric([], float(pending))
            yield waiting
        ready = GaugeMetricFamily(f"{self.prefix}_ready", f"1 when {self.what} answers, else 0.")
        try:
            ready.add_metric([], 1.0 if self.encoder.ready() else 0.0)
        except Exception:  # noqa: BLE001 - a failing health probe reads as not ready
            ready.add_metric([], 0.0)
        yield ready


class ServiceMetrics:
    """Requests, turns, stages, encoder, sessions, anchors and errors (the ``EngineObserver``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "hilum_requests", "Requests by transport, endpoint and status.", ["transport", "endpoint", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "hilum_request_seconds", "Request latency by transport and endpoint.", ["transport", "endpoint"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.turns = Counter("hilum_turns", "Answered turns by intent.", ["intent"], registry=r)
        self.turn_seconds = Histogram(
            "hilum_turn_seconds", "Turn latency by intent.", ["intent"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.stage_seconds = Histogram(
            "hilum_stage_seconds", "Turn latency by stage (decode, encode, findings, compose, narrate).",
            ["stage"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.encoder_batch_size = Histogram(
            "hilum_encoder_batch_size", "Films per encoder batch.", buckets=BATCH_BUCKETS, registry=r
        )
        self.encoder_queue_seconds = Histogram(
            "hilum_encoder_queue_seconds", "Time a film waits for the encoder before its batch runs.",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.encoder_request_seconds = Histogram(
            "hilum_encoder_request_seconds", "Encoder call latency as the engine sees it (queue + inference).",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.first_turn_seconds = Histogram(
            "hilum_first_turn_seconds", "First-turn latency: a new session's screening turn, decode to narrated "
            "answer (follow-up turns are hilum_turn_seconds).", buckets=LATENCY_BUCKETS, registry=r,
        )
        self.sessions = Gauge(
            "hilum_sessions_active", "Sessions held by tenant (the session store's count; with Redis every "
            "replica reports the shared count: take max by tenant).", ["tenant"], registry=r,
        )
        self.store_up_gauge = Gauge(
            "hilum_session_store_up", "1 when the session store answered its last operation or readiness probe, else 0.",
            ["store"], registry=r,
        )
        self.store_errors = Counter(
            "hilum_session_store_errors", "Session store operations that failed (store unreachable), by operation.",
            ["op"], registry=r,
        )
        self.anchor_resolutions = Counter(
            "hilum_anchor_resolutions", "Anchor resolutions by outcome (resolved, ambiguous, none).", ["outcome"],
            registry=r,
        )
        self.errors = Counter("hilum_errors", "Errors by kind.", ["kind"], registry=r)
        self.films = Counter(
            "hilum_films", "Uploaded films by outcome: read (the encoder's maps), read_alone (the second reader "
            "alone: the encoder could not establish the anatomy), withheld (no findings), refused (no upright "
            "frontal chest film).", ["outcome"], registry=r,
        )
        self.inflight = Gauge("hilum_inflight_requests", "Requests being served now.", ["transport"], registry=r)
        for stage in STAGES:
            self.stage_seconds.labels(stage)
        for outcome in RESOLUTIONS:
            self.anchor_resolutions.labels(outcome)
        for outcome in FILM_OUTCOMES:
            self.films.labels(outcome)
        for op in STORE_OPS:
            self.store_errors.labels(op)
        self._tenant_labels: set[str] = set()

    # --- EngineObserver ----------------------------------------------------------------------
    def stage(self, stage: str, seconds: float) -> None:
        self.stage_seconds.labels(stage).observe(seconds)
        if stage == "encode":
            self.encoder_request_seconds.observe(seconds)

    def film(self, outcome: str) -> None:
        self.films.labels(outcome).inc()

    def turn(self, intent: str, seconds: float) -> None:
        self.turns.labels(intent).inc()
        self.turn_seconds.labels(intent).observe(seconds)

    def anchor_resolution(self, outcome: str) -> None:
        self.anchor_resolutions.labels(outcome).inc()

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def sessions_active(self, count: int) -> None:
        """The engine's total: exported as the sum of ``hilum_sessions_active{tenant}``, which the
        session store's observer sets per tenant (``tenant_sessions``), so not a series of its own."""
        return None

    # --- the session store (orchestrator/observer.py ObservedStore) -----------------------------
    def tenant_sessions(self, tenant: str, count: int) -> None:
        if tenant not in self._tenant_labels:
            if len(self._tenant_labels) >= MAX_TENANT_LABELS:
                return  # the label's cardinality stays bounded whatever a caller names as its tenant
            self._tenant_labels.add(tenant)
        self.sessions.labels(tenant).set(count)

    def store_up(self, store: str, up: bool) -> None:
        self.store_up_gauge.labels(store).set(1.0 if up else 0.0)

    def store_error(self, op: str) -> None:
        self.store_errors.labels(op).inc()

    def first_turn(self, seconds: float) -> None:
        self.first_turn_seconds.observe(seconds)

    # --- encoder hook (an encoder that reports its batches calls this) ------------------------
    def encoder_batch(self, size: int, queue_seconds: float) -> None:
        self.encoder_batch_size.observe(size)
        self.encoder_queue_seconds.observe(queue_seconds)

    # --- transports ------------------------------------------------------------------------------
    def request(self, transport: str, endpoint: str, status: str | int, seconds: float) -> None:
        self.requests.labels(transport, endpoint, str(status)).inc()
        self.request_seconds.labels(transport, endpoint).observe(seconds)

    def watch_encoder(self, encoder: Any) -> None:
        self.registry.register(EncoderCountersCollector(encoder))

    def watch_second_reader(self, second_reader: Any) -> None:
        """The second reader's films, runs, queue and health (``hilum_second_reader_*``), as the encoder's."""
        self.registry.register(EncoderCountersCollector(second_reader, "hilum_second_reader", "the second reader"))

    def watch_alone_reader(self, alone_reader: Any) -> None:
        """The films-read-alone reader's films, runs, queue and health (``hilum_alone_reader_*``), as the encoder's."""
        self.registry.register(EncoderCountersCollector(alone_reader, "hilum_alone_reader",
                                                        "the reader of films read alone"))

    def render(self) -> bytes:
        return generate_latest(self.registry)
