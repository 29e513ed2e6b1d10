"""The embedded default encoder: in-process ONNX Runtime behind a bounded queue with a batcher.

Callers block in :meth:`EmbeddedEncoder.encode`; their films wait in a bounded queue
(``encoder_queue_size``; full -> :class:`EncoderOverloadedError`, HTTP 429). ``workers`` runner
threads share one ORT session; each takes the first waiting film, gathers more for up to
``max_wait_ms`` or until ``max_batch`` films, runs them as one batch and hands each caller its
own slice. Post-processing (upsampling, sigmoid, keypoints) runs in the caller's thread so it
overlaps with the next batch. Threads: ``workers * intra_op_threads`` should not exceed the
cores the process may use (defaults and the measurement behind them: ``loadtests/bench_encoder.py``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import INPUT_NAME, INPUT_SIZE, OUTPUT_NAMES
from orchestrator.encoders.postprocess import to_anatomy_maps
from orchestrator.errors import EncoderError, EncoderOverloadedError, InputError

log = logging.getLogger(__name__)

Outputs = tuple[np.ndarray, np.ndarray, np.ndarray]
BatchListener = Callable[[int, float], None]  # (films in the batch, seconds the oldest film waited)


@dataclass
class _Request:
    image: np.ndarray
    future: Future[Outputs] = field(default_factory=Future)
    enqueued_at: float = field(default_factory=time.monotonic)


def validate_film(image: np.ndarray) -> np.ndarray:
    """The encoder's input contract: a (512, 512) finite float film in [0, 1] (prepare_film output)."""
    arr = np.asarray(image)
    if arr.shape != (INPUT_SIZE, INPUT_SIZE):
        raise InputError(f"encoder input must be {INPUT_SIZE}x{INPUT_SIZE}, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"encoder input must be float (prepare_film output), got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise InputError("encoder input has NaN or infinite values")
    return arr


class EmbeddedEncoder:
    """Thread-safe in-process encoder (the AnatomyEncoder protocol)."""

    name = "embedded"

    def __init__(
        self, onnx_path: Path, *, max_batch: int = 1, max_wait_ms: float = 2.0, queue_size: int = 64,
        intra_op_threads: int = 2, workers: int = 1, timeout_s: float = 30.0,
    ) -> None:
        from orchestrator.encoders.onnxrt import ort_session

        if not Path(onnx_path).is_file():
            raise EncoderError(f"encoder weights not found: {onnx_path}")
        self.onnx_path = Path(onnx_path)
        self.max_batch = max(1, max_batch)
        self.max_wait_s = max(0.0, max_wait_ms) / 1000.0
        self.timeout_s = timeout_s
        self.calls = 0
        self.batches = 0  # ORT runs (calls / batches = average batch size)
        self._pending = 0  # films accepted and not yet answered (queued or running)
        self._lock = threading.Lock()
        self._listeners: list[BatchListener] = []
        self._session = ort_session(self.onnx_path, threads=intra_op_threads)
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max(1, queue_size))
        self._closed = threading.Event()
        self._workers = [
            threading.Thread(target=self._run, name=f"hilum-encoder-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for worker in self._workers:
            worker.start()

    # --- the protocol ----------------------------------------------------------------------------
    def encode(self, image: np.ndarray) -> AnatomyMaps:
        film = validate_film(image)
        anatomy, lesion, hilum = self.infer(film[None])
        return to_anatomy_maps(film, anatomy[0], lesion[0], hilum[0])

    def ready(self) -> bool:
        return not self._closed.is_set() and all(w.is_alive() for w in self._workers)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for _ in self._workers:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for worker in self._workers:
            worker.join(timeout=5.0)
        self._fail_pending(EncoderError("encoder closed"))

    @property
    def pending(self) -> int:
        """Films accepted and not yet answered, queued or running (``hilum_encoder_pending``)."""
        return self._pending

    def add_batch_listener(self, listener: BatchListener) -> None:
        """Called after every batch with its size and the queue time of its oldest film (metrics)."""
        with self._lock:
            self._listeners.append(listener)

    # --- raw outputs (used by encode, benchmarks and tests) --------------------------------------
    def infer(self, films: np.ndarray) -> Outputs:
        """(1, 512, 512) float32 -> raw logits with a batch axis of 1, via the batching queue."""
        if self._closed.is_set():
            raise EncoderError("encoder is closed")
        request = _Request(films[0])
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise EncoderOverloadedError(
                f"encoder queue full ({self._queue.maxsize} films waiting); retry later"
            ) from None
        with self._lock:
            self._pending += 1
        try:
            return request.future.result(timeout=self.timeout_s)
        except FutureTimeout:
            request.future.cancel()
            raise EncoderError(f"encoder did not answer within {self.timeout_s:.0f} s") from None
        finally:
            with self._lock:
                self._pending -= 1

    # --- the batcher -------------------------------------------------------------------------------
    def _gather(self, first: _Request) -> list[_Request]:
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # shutdown marker: put it back for the other workers
                self._queue.put_nowait(None)
                break
            batch.append(item)
        return [r for r in batch if r.future.set_running_or_notify_cancel()]

    def _run(self) -> None:
        while not self._closed.is_set():
            first = self._queue.get()
            if first is None:
                break
            batch = self._gather(first)
            if not batch:
                continue
            waited_s = time.monotonic() - min(r.enqueued_at for r in batch)
            try:
                stacked = np.stack([r.image for r in batch])[:, None]
                outputs = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: stacked})
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the failure
                log.exception("encoder batch of %d failed", len(batch))
                for r in batch:
                    r.future.set_exception(EncoderError(f"encoder failed: {exc}"))
                continue
            with self._lock:
                self.calls += len(batch)
                self.batches += 1
                listeners = tuple(self._listeners)
            for listener in listeners:
                listener(len(batch), waited_s)
            for i, r in enumerate(batch):
                r.future.set_result(tuple(o[i : i + 1] for o in outputs))  # type: ignore[arg-type]

    def _fail_pending(self, error: Exception) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and item.future.set_running_or_notify_cancel():
                item.future.set_exception(error)
