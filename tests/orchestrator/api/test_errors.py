"""The REST error mapping: each HilumError's status and body, and Retry-After where it says when to retry."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.api.errors import install_error_handlers
from orchestrator.errors import EncoderError, EncoderOverloadedError, HilumError, SessionNotFoundError


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


@pytest.mark.parametrize(("exc", "status"), [(EncoderError("Triton is down"), 503),
                                             (SessionNotFoundError("no such session"), 404)])
def test_errors_without_a_retry_hint_send_no_retry_after(exc: HilumError, status: int) -> None:
    response = answer_to(exc)
    assert response.status_code == status and "retry-after" not in response.headers
    assert response.json()["error"]["message"] == exc.message


def test_an_unexpected_exception_is_a_500_without_its_text() -> None:
    response = answer_to(RuntimeError("secret internals"))
    assert response.status_code == 500
    assert response.json() == {"error": {"kind": "internal", "message": "internal error"}}
