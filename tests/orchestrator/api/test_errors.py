"""The REST error mapping: each HilumError's status and body, and Retry-After where it says when to retry."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.api.errors import install_error_handlers
from orchestrator.errors import (
    CorruptImageError,
    EncoderError,
    EncoderOverloadedError,
    HilumError,
    ServerBusyError,
    SessionBusyError,
    SessionNotFoundError,
    StoreUnavailableError,
)
from orchestrator.grpc_service.errors import grpc_status


def answer_to(exc: Exception) -> httpx.Response:
    """What a client gets from a route that raises ``exc`` (the app in-process, through httpx's
    ASGI transport)."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://hilum") as client:
            return await client.get("/boom")

    return asyncio.run(get())


def test_an_overloaded_encoder_says_when_to_retry() -> None:
    response = answer_to(EncoderOverloadedError("2 films already wait on Triton (limit 2); retry later"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"error": {"kind": "encoder_overloaded",
                                         "message": "2 films already wait on Triton (limit 2); retry later"}}


@pytest.mark.parametrize(("exc", "status"), [(CorruptImageError("the film cannot be decoded"), 422),
                                             (SessionNotFoundError("no such session"), 404)])
def test_errors_without_a_retry_hint_send_no_retry_after(exc: HilumError, status: int) -> None:
    response = answer_to(exc)
    assert response.status_code == status and "retry-after" not in response.headers
    assert response.json()["error"]["message"] == exc.message


def test_an_unexpected_exception_is_a_500_without_its_text() -> None:
    response = answer_to(RuntimeError("secret internals"))
    assert response.status_code == 500
    assert response.json() == {"error": {"kind": "internal", "message": "internal error"}}


@pytest.mark.parametrize(("exc", "status", "kind"), [
    (SessionBusyError("another turn on this session is in progress; retry shortly"), 409, "session_busy"),
    (StoreUnavailableError("the session store is not reachable; retry shortly"), 503, "store_unavailable"),
    (ServerBusyError("busy"), 429, "server_busy"),
    (EncoderError("Triton encoder failed"), 503, "encoder"),
])
def test_busy_and_unavailable_say_when_to_retry(exc: HilumError, status: int, kind: str) -> None:
    response = answer_to(exc)
    assert response.status_code == status and int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["kind"] == kind
    code, grpc_kind, _ = grpc_status(exc)
    assert code.name == exc.grpc_code and grpc_kind == kind


LEAKY = ("Triton at 10.0.0.5:8001 did not answer",
         "cannot reach triton://hilum-triton.default.svc:8001/v2/models",
         "could not read <_io.BytesIO object at 0x7f3a1c2b9e50>",
         "hilum-triton:8001 refused the connection",
         # gRPC's own wording, as a killed Triton gives it (the scheme glued to the address)
         "[StatusCode.UNAVAILABLE] last error: UNKNOWN: ipv4:10.0.0.5:8001: Failed to connect to remote host",
         "last error: UNKNOWN: ipv6:[fd00::5]:8001: Connection refused")


@pytest.mark.parametrize("message", LEAKY)
def test_messages_never_carry_addresses_or_object_reprs(message: str) -> None:
    for exc in (EncoderError(message), CorruptImageError(message)):
        rest = answer_to(exc).json()["error"]["message"]
        _, _, grpc_message = grpc_status(exc)
        for text in (rest, grpc_message):
            assert "0x7f3a1c2b9e50" not in text and "BytesIO" not in text
            assert "10.0.0.5" not in text and "8001" not in text and "hilum-triton" not in text and "fd00" not in text
            assert "<address>" in text or "<object>" in text  # the rest of the message is kept
