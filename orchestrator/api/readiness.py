"""Liveness and readiness: ready once the encoder (and the second reader, where one reads in this process) answers
and the session store is reachable,
not ready again while draining; ``reasons`` says why not.

``probe(timeout_s)`` is what ``/readyz`` awaits: the checks (the encoder's ``ready()``, the
store's ``ping()``, both network calls with a remote encoder or Redis) run on this object's own
two threads, never in the request thread pool, and one probe at a time (a second caller awaits
the one in flight), so a probe cannot wait behind work or pile up behind a hung dependency.

The engine's store is an ``ObservedStore`` (``orchestrator/observer.py``): its ``ping`` here is what
sets ``hilum_session_store_up`` (and counts ``hilum_session_store_errors_total{op="ping"}``), so the
readiness probe keeps the store's health series current even while no turn is asked.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

PROBE_TIMEOUT_S = 2.0


class Readiness:
    def __init__(self, encoder: Any | None, store: Any | None = None, second_reader: Any | None = None,
                 alone_reader: Any | None = None) -> None:
        self.encoder = encoder
        self.store = store
        self.second_reader = second_reader  # every first turn needs it too (orchestrator/encoders/second_reader.py)
        self.alone_reader = alone_reader  # a film the encoder cannot establish needs it; None: the second reader
        self.warmed = threading.Event()  # set after the encoder's first pass (server warm-up)
        self.draining = threading.Event()
        self._probes = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hilum-probe")
        self._inflight: Future[tuple[bool, dict[str, Any]]] | None = None
        self._guard = threading.Lock()

    @staticmethod
    def _answers(encoder: Any | None) -> bool:
        """An encoder's own ``ready()``; none configured is no obstacle, a failing probe means not ready."""
        if encoder is None:
            return True
        try:
            return bool(encoder.ready())
        except Exception:  # noqa: BLE001 - a failing probe means not ready
            return False

    def encoder_ready(self) -> bool:
        return self.encoder is None or (self.warmed.is_set() and self._answers(self.encoder))

    def second_reader_ready(self) -> bool:
        return self._answers(self.second_reader)

    def alone_reader_ready(self) -> bool:
        return self._answers(self.alone_reader)

    def store_ready(self) -> bool:
        ping = getattr(self.store, "ping", None)
        if ping is None:  # in process: always there
            return True
        try:
            return bool(ping())
        except Exception:  # noqa: BLE001 - a failing probe means not ready
            return False

    def check(self) -> tuple[bool, dict[str, Any]]:
        encoder_ok = self.encoder_ready()
        second_ok = self.second_reader_ready()
        alone_ok = self.alone_reader_ready()
        store_ok = self.store_ready()
        reasons = []
        if self.draining.is_set():
            reasons.append("draining: the server is shutting down")
        if not self.warmed.is_set() and self.encoder is not None:
            reasons.append("the encoder has not finished its first pass")
        elif not encoder_ok:
            reasons.append("the encoder does not answer")
        if not second_ok:
            reasons.append("the second reader does not answer")
        if not alone_ok:
            reasons.append("the reader of films read alone does not answer")
        if not store_ok:
            reasons.append("the session store is not reachable")
        detail = {
            "encoder": getattr(self.encoder, "name", "none"),
            "encoder_ready": encoder_ok,
            "second_reader": getattr(self.second_reader, "name", "off"),
            # where a film the encoder cannot establish is read: its own reader's kind, or "second_reader"
            "alone_reader": getattr(self.alone_reader, "name", "second_reader" if self.second_reader else "off"),
            "second_reader_ready": second_ok,
            "alone_reader_ready": alone_ok,
            "warmed": self.warmed.is_set(),
            "draining": self.draining.is_set(),
            "store": getattr(self.store, "name", "memory"),
            "store_ready": store_ok,
            "reasons": reasons,
        }
        return not reasons, detail

    async def probe(self, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[bool, dict[str, Any]]:
        """``check()`` off the event loop and off the request pool, within ``timeout_s``."""
        with self._guard:
            if self._inflight is None or self._inflight.done():
                self._inflight = self._probes.submit(self.check)
            inflight = self._inflight
        try:
            return await asyncio.wait_for(asyncio.wrap_future(inflight), timeout_s)
        except TimeoutError:
            return False, {"draining": self.draining.is_set(), "warmed": self.warmed.is_set(),
                           "reasons": [f"the readiness checks did not finish within {timeout_s:g} s"]}
