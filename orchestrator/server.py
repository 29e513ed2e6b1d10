"""``hilum serve``: REST (uvicorn) and gRPC in one process over one engine.

``build_services`` wires encoder → narrator → engine with one metrics registry; ``Service``
runs both servers (in threads for tests and in-process clients, or with uvicorn in the main
thread for ``serve``). Readiness waits for the encoder's first pass (a warm-up film); on
SIGTERM/SIGINT readiness flips to draining, both servers stop accepting work, in-flight turns
finish (up to ``drain_timeout_s``), then the encoder closes. Without ``HILUM_API_KEYS_FILE`` only
a loopback address is bound (``tenancy.check_bind``, before any socket or model is opened). With
``dicom_port`` (``hilum serve --dicom-port``) a C-STORE SCP (``orchestrator/dicom_scp.py``) listens on
the same host beside them, and stops first.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

import grpc
import uvicorn
from fastapi import FastAPI

from orchestrator import log_privacy, log_repeats
from orchestrator.api import http_protocol
from orchestrator.api.app import create_app
from orchestrator.api.readiness import Readiness
from orchestrator.film_analysis import warm_encoder
from orchestrator.grpc_service.server import build_grpc_server
from orchestrator.metrics import ServiceMetrics
from orchestrator.settings import Settings
from orchestrator.tenancy import ConfigError, Tenancy, check_bind

if TYPE_CHECKING:
    from orchestrator.dialogue.engine import DialogueEngine

log = logging.getLogger(__name__)

WARMUP_POLL_S = 0.5


@dataclass
class Services:
    settings: Settings
    metrics: ServiceMetrics
    encoder: Any
    narrator: Any
    engine: DialogueEngine
    readiness: Readiness
    tenancy: Tenancy

    def close(self) -> None:
        for part in (self.narrator, self.encoder, self.engine.reader, self.engine.second_reader,
                     self.engine.alone_reader, self.engine.analyser):
            close = getattr(part, "close", None)
            if close is not None:
                close()


def build_services(settings: Settings, *, encoder: Any | None = None) -> Services:
    """The engine over the configured encoder and narrator, reporting into one ``ServiceMetrics``."""
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.encoders.factory import build_encoder, build_lesion_reader, build_other_readers
    from orchestrator.narration.factory import build_narrator
    from orchestrator.session_stores import build_session_store

    metrics = ServiceMetrics()
    tenancy = Tenancy(settings, observe=metrics.error)  # reads the keys file first: a bad one fails fast
    encoder = encoder if encoder is not None else build_encoder(settings)
    narrator = build_narrator(settings, metrics.registry)
    analyser, reader, second_reader, alone_reader = None, None, None, None
    if settings.analysis_processes > 0:  # first turns in worker processes, each with its own encoders and reader
        from orchestrator.film_analysis import AnalysisPool

        analyser = AnalysisPool(settings, settings.analysis_processes)
    else:  # the readers are used by the analysis alone: none in this process when the workers read
        reader, (second_reader, alone_reader) = build_lesion_reader(settings), build_other_readers(settings)
    engine = DialogueEngine(
        encoder, settings, store=build_session_store(settings), narrator=narrator, observer=metrics,
        reader=reader, analyser=analyser, second_reader=second_reader, alone_reader=alone_reader,
    )
    metrics.watch_encoder(encoder)
    if second_reader is not None:
        metrics.watch_second_reader(second_reader)
    if alone_reader is not None:
        metrics.watch_alone_reader(alone_reader)
    add_listener = getattr(encoder, "add_batch_listener", None)
    if callable(add_listener):  # an encoder that reports each batch: (films, seconds the oldest waited)
        add_listener(metrics.encoder_batch)
    return Services(settings, metrics, encoder, narrator, engine,
                    Readiness(encoder, engine.store, second_reader, alone_reader), tenancy)


def warm_up(services: Services, stop: threading.Event, freeze_gc: bool = False) -> None:
    """Waits for the encoder to answer, runs one blank film through it, then marks ready.

    ``freeze_gc`` (``hilum serve``, ``settings.gc_freeze``): everything made so far (modules, models,
    the app) is moved out of the cyclic garbage collector's view (``gc.freeze``) before the service
    says it is ready. A full collection then walks only what the sessions hold: measured on this
    machine under ``poisson_mixed``, full collections of 160-210 ms (about 170 k objects, most of them
    the process's own code) stalled every turn in flight (``BENCHMARKS.md``)."""
    name = getattr(services.encoder, "name", "?")
    others = [r for r in (services.engine.second_reader, services.engine.alone_reader) if r is not None]
    waited = False
    while not stop.is_set():
        try:
            encoder_ok = services.encoder.ready()
            others_ok = all(other.ready() for other in others)
            if encoder_ok and others_ok:
                warm_encoder(services.encoder)
                for other in others:
                    warm_encoder(other)
                warm_workers = getattr(services.engine.analyser, "warm", None)
                if callable(warm_workers):  # the analysis worker processes, each with its own encoder
                    warm_workers()
                if freeze_gc:
                    gc.collect()
                    gc.freeze()
                services.readiness.warmed.set()
                if not stop.is_set():  # a service stopped meanwhile may have closed its log streams
                    log.info("encoder %s ready", name)
                return
            reason = "not ready" if not encoder_ok else "its second reader is not ready"
        except Exception as exc:  # noqa: BLE001 - keep waiting; /readyz says not ready meanwhile
            reason = str(exc)
        if not waited:  # say it once, not twice a second
            log.warning("waiting for encoder %s: %s", name, reason)
            waited = True
        stop.wait(WARMUP_POLL_S)


def bind_socket(host: str, port: int) -> socket.socket:
    """The REST listening socket. Created as IPPROTO_TCP so that asyncio sets TCP_NODELAY on every
    accepted connection (it checks ``sock.proto``): uvicorn writes an answer's head and body
    separately, and with Nagle on, the body waited for the client's delayed ACK (~40 ms a turn)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class DrainingServer(uvicorn.Server):
    """uvicorn whose exit signal first flips readiness and starts the gRPC drain."""

    def __init__(self, config: uvicorn.Config, on_exit: Any) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_exit()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGTERM / SIGINT start the drain; unlike uvicorn's own, the signal is not re-raised
        afterwards, so the process finishes its shutdown (gRPC drain, encoder close) and exits 0."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@dataclass
class Service:
    """REST + gRPC over ``services`` on ``host``; port 0 picks a free port (tests)."""

    services: Services
    host: str
    port: int
    grpc_port: int
    dicom_port: int | None = None  # the C-STORE SCP (orchestrator/dicom_scp.py); None: none
    app: FastAPI = field(init=False)
    grpc_server: grpc.Server = field(init=False)
    _sock: socket.socket = field(init=False)
    _uvicorn: DrainingServer = field(init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _grpc_stopped: threading.Event | None = field(default=None, init=False)
    dicom_node: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        s = self.services
        check_bind(s.settings, self.host)
        self.app = create_app(s.settings, s.engine, metrics=s.metrics, readiness=s.readiness, tenancy=s.tenancy)
        self.grpc_server, self.grpc_port = build_grpc_server(
            s.settings, s.engine, s.metrics, host=self.host, port=self.grpc_port, tenancy=s.tenancy
        )
        self._sock = bind_socket(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level=s.settings.log_level.lower(), access_log=False,
            timeout_keep_alive=s.settings.http_keep_alive_s,
            timeout_graceful_shutdown=int(max(1, s.settings.drain_timeout_s)),
            http=http_protocol.configured(s.settings.http_head_timeout_s),  # 408 for a head that never ends
            h11_max_incomplete_event_size=s.settings.http_max_header_bytes,  # 431
        )
        self._uvicorn = DrainingServer(config, on_exit=self.begin_drain)
        if self.dicom_port is not None:
            from orchestrator.dicom_scp import DicomNode

            try:
                self.dicom_node = DicomNode(s, self.host, self.dicom_port).start()  # binds now: a busy port fails here
            except BaseException:
                self._sock.close()
                raise
            self.dicom_port = self.dicom_node.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def begin_drain(self) -> None:
        """Not ready from now on; gRPC refuses new RPCs and lets running ones finish."""
        if self._grpc_stopped is None:
            self.services.readiness.draining.set()
            self._grpc_stopped = self.grpc_server.stop(grace=self.services.settings.drain_timeout_s)

    def _start_background(self, freeze_gc: bool = False) -> None:
        self.grpc_server.start()
        # a daemon nobody joins: an encoder that never answers must not hold up shutdown
        threading.Thread(target=warm_up, args=(self.services, self._stop, freeze_gc), name="hilum-warmup",
                         daemon=True).start()

    def _finish(self) -> None:
        if self.dicom_node is not None:
            self.dicom_node.stop()
        self.begin_drain()
        if self._grpc_stopped is not None:
            self._grpc_stopped.wait(self.services.settings.drain_timeout_s + 1)
        self._stop.set()
        self._sock.close()
        self.services.close()

    # --- in the foreground (hilum serve) -----------------------------------------------------------
    def run(self) -> None:
        log_privacy.install()  # the process's handlers, uvicorn's included (set up by its Config): no PHI
        log_repeats.install()  # the event loop's own errors (accept failures past the fd limit) at most every 10 s
        self._start_background(freeze_gc=self.services.settings.gc_freeze)
        log.info("serving REST on %s and gRPC on %s%s", self.url, self.grpc_target,
                 f" and DICOM (C-STORE) on port {self.dicom_port}" if self.dicom_node is not None else "")
        try:
            self._uvicorn.run(sockets=[self._sock])
        finally:
            self._finish()

    # --- in threads (tests, in-process clients) -------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> Service:
        self._start_background()
        thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._sock]}, name="hilum-uvicorn", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        deadline = time.monotonic() + timeout_s
        while not self._uvicorn.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        if not self.services.readiness.warmed.wait(timeout_s):
            raise RuntimeError("encoder did not become ready")

    def stop(self) -> None:
        self.begin_drain()
        self._uvicorn.should_exit = True
        for thread in self._threads:
            thread.join(timeout=self.services.settings.drain_timeout_s + 5)
        self._finish()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(settings: Settings) -> int:
    """The blocking ``hilum serve``: returns after a signal once everything has drained; 2 at
    once when the settings forbid starting (non-loopback without keys, an unreadable keys file)."""
    try:
        check_bind(settings, settings.host)
        services = build_services(settings)
    except ConfigError as exc:
        log.error("hilum serve: %s", exc)
        return 2
    try:
        service = Service(services, settings.host, settings.port, settings.grpc_port, settings.dicom_port)
    except OSError as exc:
        log.error("cannot listen on %s (REST %d, gRPC %d, DICOM %s): %s", settings.host, settings.port,
                  settings.grpc_port, settings.dicom_port, exc)
        services.close()
        return 1
    service.run()
    return 0
