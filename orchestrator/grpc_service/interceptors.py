"""A request that is not the message it claims to be is the caller's error: INVALID_ARGUMENT.

grpc python aborts a call whose request fails to deserialise with INTERNAL ("Exception
deserializing request!") before any servicer code runs. ``MalformedRequestInterceptor`` wraps
every method's deserialiser so that a failure yields a marker instead, and the wrapped behaviour
answers the marker with INVALID_ARGUMENT (and the ``hilum-error-kind`` trailer) without calling
the servicer. Fixed wording: the bytes are never echoed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

KIND_KEY = "hilum-error-kind"  # trailing metadata: the error kind (not_a_chest_film, ...) of a failed call
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
        if handler is None or handler.request_streaming:
            return handler
        deserializer = _lenient(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _guard_unary(handler.unary_unary), deserializer, handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _guard_stream_out(handler.unary_stream), deserializer, handler.response_serializer)
        return handler
