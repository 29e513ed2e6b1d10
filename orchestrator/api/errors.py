"""The one mapping from errors to HTTP responses: ``{"error": {"kind", "message"}}`` with the
status each ``HilumError`` subclass declares (and ``Retry-After`` where it sets ``retry_after_s``;
``WWW-Authenticate: Bearer`` with a 401).
Validation errors are 422, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.errors import HilumError, public_message

log = logging.getLogger(__name__)


def error_json(status: int, kind: str, message: str, retry_after_s: int | None = None,
               subject: str | None = None) -> JSONResponse:
    """``subject``: which film of the request the error is about, where it carries two ("earlier")."""
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    error = {"kind": kind, "message": message, **({"subject": subject} if subject else {})}
    return JSONResponse(status_code=status, content={"error": error}, headers=headers)


def http_error(exc: Exception) -> tuple[int, str, str]:
    """``(status, kind, message)`` for any exception: the REST side of the error mapping."""
    if isinstance(exc, HilumError):
        return exc.http_status, exc.kind, public_message(exc)
    if isinstance(exc, RequestValidationError):
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {_validation_message(e)}" for e in exc.errors()]
        return 422, "invalid_request", "; ".join(parts) or "invalid request"
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, "http", str(exc.detail)
    return 500, "internal", "internal error"


def _validation_message(error: dict[str, Any]) -> str:
    """pydantic's message, in the caller's terms where it speaks Python ("Expected UploadFile, received: <class 'str'>"
    for a film sent as a text field)."""
    msg = str(error.get("msg", ""))
    if "UploadFile" in msg:
        return "a file is expected here (a multipart file part), not a text field"
    return msg


def install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        status, kind, message = http_error(exc)
        if status >= 500:
            log.error("request %s %s failed", request.method, request.url.path, exc_info=exc)
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None and not isinstance(exc, HilumError):
            metrics.error(kind)  # the engine counts the HilumErrors it raises
        return error_json(status, kind, message, getattr(exc, "retry_after_s", None), getattr(exc, "subject", None))

    for exc_type in (HilumError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(exc_type, handle)
