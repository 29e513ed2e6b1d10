"""The one mapping from errors to gRPC status codes (each ``HilumError`` names its own)."""

from __future__ import annotations

import grpc

from orchestrator.errors import HilumError, public_message


def grpc_status(exc: Exception) -> tuple[grpc.StatusCode, str, str]:
    """``(code, kind, message)`` for any exception: the gRPC side of the error mapping."""
    if isinstance(exc, HilumError):
        return getattr(grpc.StatusCode, exc.grpc_code, grpc.StatusCode.INTERNAL), exc.kind, public_message(exc)
    return grpc.StatusCode.INTERNAL, "internal", "internal error"
