"""The Triton encoder: tritonclient gRPC (asyncio) against a running Triton.

One asyncio event loop in a background thread owns the ``tritonclient.grpc.aio`` client, so
any number of caller threads can have requests in flight at once over one channel — that is
what lets Triton's dynamic batcher group them. ``encode`` is the blocking protocol method;
``encode_async`` is there for asyncio callers (it hops onto the client's loop).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import numpy as np

from encoder.network import INPUT_NAME, OUTPUT_NAMES
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.encoders.embedded import Outputs, validate_film
from orchestrator.encoders.postprocess import to_anatomy_maps
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


class TritonEncoder:
    """Thread-safe AnatomyEncoder over Triton gRPC."""

    name = "triton"

    def __init__(self, url: str, model_name: str = "anatomy_encoder", timeout_s: float = 30.0) -> None:
        import tritonclient.grpc.aio as grpcaio

        self.url = url
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.calls = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hilum-triton-client", daemon=True)
        self._thread.start()
        self._client = self._submit(self._make_client(grpcaio))
        self._closed = False

    async def _make_client(self, grpcaio: Any) -> Any:
        return grpcaio.InferenceServerClient(url=self.url)

    def _submit(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self.timeout_s + 1.0)
        except FutureTimeout:
            future.cancel()
            raise EncoderError(f"Triton at {self.url} did not answer within {self.timeout_s:.0f} s") from None

    # --- the protocol ------------------------------------------------------------------------------
    def encode(self, image: np.ndarray) -> AnatomyMaps:
        film = validate_film(image)
        anatomy, lesion, hilum = self.infer(film[None])
        return to_anatomy_maps(film, anatomy[0], lesion[0], hilum[0])

    async def encode_async(self, image: np.ndarray) -> AnatomyMaps:
        film = validate_film(image)
        future = asyncio.run_coroutine_threadsafe(self._infer(film[None, None]), self._loop)
        anatomy, lesion, hilum = await asyncio.wrap_future(future)
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

    async def _infer(self, batch: np.ndarray) -> Outputs:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        inp = grpcclient.InferInput(INPUT_NAME, list(batch.shape), "FP32")
        inp.set_data_from_numpy(np.ascontiguousarray(batch))
        outs = [grpcclient.InferRequestedOutput(n) for n in OUTPUT_NAMES]
        try:
            result = await self._client.infer(
                self.model_name, [inp], outputs=outs, client_timeout=self.timeout_s
            )
        except InferenceServerException as exc:
            raise map_triton_error(exc) from None
        with self._lock:
            self.calls += int(batch.shape[0])
        return tuple(result.as_numpy(n) for n in OUTPUT_NAMES)  # type: ignore[return-value]
