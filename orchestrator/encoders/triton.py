"""The Triton encoder: tritonclient gRPC (asyncio) against a running Triton.

One asyncio event loop in a background thread owns the ``tritonclient.grpc.aio`` client, so
any number of caller threads can have requests in flight at once over one channel — that is
what lets Triton's dynamic batcher group them. ``encode`` is the blocking protocol method;
``encode_async`` and ``infer_async`` are there for asyncio callers (they hop onto the client's loop).
``shared_memory_slots`` > 0 (a Triton on the same host only): films and maps go through
``/dev/shm`` regions instead of gRPC payloads (``triton_shm.py``).

Admission: at most ``max_in_flight`` films (``encoder_queue_size``, the same bound the embedded
encoder puts on its queue) are sent to Triton and unanswered at once; one more is refused at once
with :class:`EncoderOverloadedError` (HTTP 429, gRPC RESOURCE_EXHAUSTED) instead of joining
Triton's queue. So this process never queues without bound on Triton, whatever the model's
``default_queue_policy`` says (``export/repository.py`` on why the CPU config drops it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import INPUT_NAME, OUTPUT_NAMES
from orchestrator.encoders.embedded import Outputs, validate_film
from orchestrator.encoders.postprocess import to_anatomy_maps
from orchestrator.encoders.triton_shm import CLOSE_WAIT_S, Region, SharedMemoryPool
from orchestrator.errors import EncoderError, EncoderOverloadedError

log = logging.getLogger(__name__)

T = TypeVar("T")
OVERLOAD_MARKERS = ("exceeds maximum queue size", "RESOURCE_EXHAUSTED", "queue is full")


def map_triton_error(exc: Exception) -> EncoderError:
    """tritonclient's exception -> Hilum's (overload -> 429, anything else -> 503)."""
    text = str(exc)
    if any(marker.lower() in text.lower() for marker in OVERLOAD_MARKERS):
        return EncoderOverloadedError(f"Triton rejected the request (queue full): {text}")
    return EncoderError(f"Triton encoder failed: {text}")


def client_gave_up(exc: Exception) -> bool:
    """The request's gRPC deadline passed on the client's side: Triton may still be running it."""
    status = exc.status() if callable(getattr(exc, "status", None)) else None
    return status is not None and "DEADLINE_EXCEEDED" in str(status)


class TritonEncoder:
    """Thread-safe AnatomyEncoder over Triton gRPC."""

    name = "triton"

    def __init__(self, url: str, model_name: str = "anatomy_encoder", timeout_s: float = 30.0,
                 shared_memory_slots: int = 0, max_in_flight: int = 64) -> None:
        import tritonclient.grpc.aio as grpcaio

        self.url = url
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.max_in_flight = max(1, max_in_flight)
        self.calls = 0
        self._in_flight = 0  # films sent and unanswered; read and written on the client's loop only
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hilum-triton-client", daemon=True)
        self._thread.start()
        self._client = self._submit(self._make_client(grpcaio))
        self._closed = False
        self._shm: SharedMemoryPool | None = None
        if shared_memory_slots > 0:
            try:
                self._shm = self._submit(self._open_shared_memory(shared_memory_slots))
            except Exception:
                self.close()
                raise

    @property
    def pending(self) -> int:
        """Films handed to Triton and not yet answered (``hilum_encoder_pending``)."""
        return self._in_flight

    @property
    def shared_memory(self) -> SharedMemoryPool | None:
        """The shared-memory regions in use, or None (gRPC payloads)."""
        return self._shm

    async def _open_shared_memory(self, slots: int) -> SharedMemoryPool:
        from tritonclient.utils import InferenceServerException

        try:
            metadata = await self._client.get_model_metadata(self.model_name, as_json=True)
        except InferenceServerException as exc:
            raise map_triton_error(exc) from None
        pool = SharedMemoryPool.for_model(metadata, slots)
        await pool.open(self._client)
        return pool

    async def _make_client(self, grpcaio: Any) -> Any:
        return grpcaio.InferenceServerClient(url=self.url)

    def _submit(self, coro: Coroutine[Any, Any, T], wait_s: float | None = None) -> T:
        limit = self.timeout_s if wait_s is None else wait_s
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=limit + 1.0)
        except FutureTimeout:
            future.cancel()
            raise EncoderError(f"Triton at {self.url} did not answer within {limit:.0f} s") from None

    # --- the protocol ------------------------------------------------------------------------------
    def encode(self, image: np.ndarray) -> AnatomyMaps:
        film = validate_film(image)
        anatomy, lesion, hilum = self.infer(film[None])
        return to_anatomy_maps(film, anatomy[0], lesion[0], hilum[0])

    async def encode_async(self, image: np.ndarray) -> AnatomyMaps:
        film = validate_film(image)
        anatomy, lesion, hilum = await self.infer_async(film[None])
        return to_anatomy_maps(film, anatomy[0], lesion[0], hilum[0])

    def ready(self) -> bool:
        if self._closed:
            return False
        try:
            return bool(self._submit(self._client.is_model_ready(self.model_name, client_timeout=2.0)))
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._shm is not None:
                self._submit(self._shm.close(self._client), wait_s=CLOSE_WAIT_S)
            self._submit(self._client.close())
        except Exception:  # noqa: BLE001
            log.debug("closing the Triton client failed", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)

    # --- raw outputs ---------------------------------------------------------------------------
    def infer(self, films: np.ndarray) -> Outputs:
        """(N, 512, 512) float32 -> raw logits (N, ...), one Triton request."""
        if self._closed:
            raise EncoderError("encoder is closed")
        return self._submit(self._infer(np.asarray(films, dtype=np.float32)[:, None]))

    async def infer_async(self, films: np.ndarray) -> Outputs:
        """``infer`` for asyncio callers on any loop (it hops onto the client's)."""
        if self._closed:
            raise EncoderError("encoder is closed")
        batch = np.asarray(films, dtype=np.float32)[:, None]
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._infer(batch), self._loop))

    def _admit(self, films: int) -> None:
        """Count ``films`` in flight, or refuse them when that would pass ``max_in_flight`` (a
        batch larger than the limit still goes when nothing else is in flight)."""
        if self._in_flight and self._in_flight + films > self.max_in_flight:
            raise EncoderOverloadedError(
                f"{self._in_flight} films already wait on Triton (limit {self.max_in_flight}); retry later"
            )
        self._in_flight += films

    async def _infer(self, batch: np.ndarray) -> Outputs:
        films = int(batch.shape[0])
        self._admit(films)
        try:
            return await self._infer_admitted(batch)
        finally:
            self._in_flight -= films

    async def _infer_admitted(self, batch: np.ndarray) -> Outputs:
        from tritonclient.utils import InferenceServerException

        shm = self._shm
        region = shm.acquire() if shm is not None and batch.shape[0] == 1 else None
        settled = False  # Triton is done with the region (answered, or refused the request)
        try:
            inp, outs = self._request_tensors(batch, region)
            try:
                result = await self._client.infer(
                    self.model_name, [inp], outputs=outs, client_timeout=self.timeout_s
                )
            except InferenceServerException as exc:
                settled = not client_gave_up(exc)  # a request the client gave up on may still write
                raise map_triton_error(exc) from None
            settled = True
            with self._lock:
                self.calls += int(batch.shape[0])
            if shm is not None and region is not None:
                got = dict(zip((o.name for o in shm.outputs), shm.read_outputs(region), strict=True))
                return tuple(got[n] for n in OUTPUT_NAMES)  # type: ignore[return-value]
            return tuple(result.as_numpy(n) for n in OUTPUT_NAMES)  # type: ignore[return-value]
        finally:
            if shm is not None and region is not None:
                (shm.release if settled else shm.retire)(region)

    def _request_tensors(self, batch: np.ndarray, region: Region | None) -> tuple[Any, list[Any]]:
        """The request's input and requested outputs: in the shared-memory ``region`` when one
        is given (the film is written there), else as gRPC payload."""
        import tritonclient.grpc as grpcclient

        inp = grpcclient.InferInput(INPUT_NAME, list(batch.shape), "FP32")
        outs = [grpcclient.InferRequestedOutput(n) for n in OUTPUT_NAMES]
        if region is None or self._shm is None:
            inp.set_data_from_numpy(np.ascontiguousarray(batch))
            return inp, outs
        self._shm.write_input(region, batch)
        inp.set_shared_memory(region.name, self._shm.input.nbytes)
        slots = {o.name: o for o in self._shm.outputs}
        for out in outs:
            out.set_shared_memory(region.name, slots[out.name()].nbytes, offset=slots[out.name()].offset)
        return inp, outs
