"""The gRPC server's interceptors: malformed requests (INVALID_ARGUMENT) and admission (RESOURCE_EXHAUSTED
``server_busy``).

A request that is not the message it claims to be is the caller's error: INVALID_ARGUMENT.

grpc python aborts a call whose request fails to deserialise with INTERNAL ("Exception
deserializing request!") before any servicer code runs. ``MalformedRequestInterceptor`` wraps
every method's deserialiser so that a failure yields a marker instead, and the wrapped behaviour
answers the marker with INVALID_ARGUMENT (and the ``hilum-error-kind`` trailer) without calling
the servicer. Fixed wording: the bytes are never echoed.

``AdmissionInterceptor`` runs at most ``limit`` RPCs at once and refuses one more at once with
RESOURCE_EXHAUSTED, the ``server_busy`` kind and a retry pushback in its trailers (REST's 429 +
Retry-After), instead of queueing it behind the pool."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

KIND_KEY = "hilum-error-kind"  # trailing metadata: the error kind (not_a_chest_film, ...) of a failed call
PUSHBACK_KEY = "grpc-retry-pushback-ms"  # gRPC retry design A6: when the server asks the client to retry
MALFORMED_KIND = "invalid_request"
MALFORMED_MESSAGE = "malformed request: not a valid protobuf message for this method"


class _Malformed:
    """Stands in for a request that could not be deserialised (never None: gRPC reads None as failure)."""


MALFORMED = _Malformed()


def _lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # noqa: BLE001 - any failure to parse the caller's bytes is the caller's error
            return MALFORMED

    return deserialize


def _refuse(context: grpc.ServicerContext) -> None:
    context.set_trailing_metadata(((KIND_KEY, MALFORMED_KIND),))
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, MALFORMED_MESSAGE)


def _guard_unary(behaviour: Callable[..., Any]) -> Callable[..., Any]:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        if request is MALFORMED:
            _refuse(context)
        return behaviour(request, context)

    return handle


def _guard_stream_out(behaviour: Callable[..., Any]) -> Callable[..., Any]:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        if request is MALFORMED:
            _refuse(context)
        yield from behaviour(request, context)

    return handle


class MalformedRequestInterceptor(grpc.ServerInterceptor):
    """INVALID_ARGUMENT, not INTERNAL, for a request that does not deserialise (unary requests;
    the Dialog service has no client-streaming method)."""

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return _rewrapped(handler, _guard_unary, _guard_stream_out, _lenient(handler.request_deserializer))


def _rewrapped(handler: Any, unary: Callable[..., Any], stream_out: Callable[..., Any],
               deserializer: Callable[[bytes], Any] | None) -> Any:
    """``handler`` with its behaviour wrapped (``unary`` / ``stream_out``) and ``deserializer``; a
    client-streaming handler (the Dialog service has none) as it is."""
    if handler.request_streaming:
        return handler
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), deserializer,
                                                   handler.response_serializer)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream_out(handler.unary_stream), deserializer,
                                                    handler.response_serializer)
    return handler


class AdmissionInterceptor(grpc.ServerInterceptor):
    """At most ``limit`` RPCs at once. The server's pool has more threads than that
    (``orchestrator/grpc_service/server.py``), so one more RPC reaches this check at once and is refused
    with RESOURCE_EXHAUSTED, ``hilum-error-kind: server_busy`` and ``grpc-retry-pushback-ms`` (the
    error's ``retry_after_s``) — what REST's ``AdmissionMiddleware`` answers with 429. A streamed
    answer holds its slot until its last message."""

    def __init__(self, limit: int, observe: Callable[[str], None] | None = None) -> None:
        self.limit = max(1, int(limit))
        self._slots = threading.BoundedSemaphore(self.limit)
        self.observe = observe

    def _refuse(self, context: grpc.ServicerContext) -> None:
        from orchestrator.errors import ServerBusyError

        if self.observe is not None:
            self.observe(ServerBusyError.kind)
        context.set_trailing_metadata(((KIND_KEY, ServerBusyError.kind),
                                       (PUSHBACK_KEY, str(int(ServerBusyError.retry_after_s * 1000)))))
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                      "the server is working on as many requests as it can; retry shortly")

    def _unary(self, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            if not self._slots.acquire(blocking=False):
                self._refuse(context)
            try:
                return behaviour(request, context)
            finally:
                self._slots.release()

        return handle

    def _stream_out(self, behaviour: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def handle(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            if not self._slots.acquire(blocking=False):
                self._refuse(context)
            try:
                yield from behaviour(request, context)
            finally:
                self._slots.release()

        return handle

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return _rewrapped(handler, self._unary, self._stream_out, handler.request_deserializer)
