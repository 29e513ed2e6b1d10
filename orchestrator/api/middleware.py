"""Raw ASGI middleware: the request-body limit (413 without buffering), the caller's tenant
(401 / 429 before the body is read) and request metrics."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.errors import error_json
from orchestrator.errors import HilumError, ImageTooLargeError
from orchestrator.metrics import ServiceMetrics
from orchestrator.tenancy import Tenancy

# multipart framing around the file (boundaries, part headers, the lang field)
ENVELOPE_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """Rejects a body over ``limit`` bytes with 413: at once when Content-Length says so, else
    as soon as the bytes counted while the app reads the stream pass the limit (chunked
    uploads). The body is never held whole by this layer; multipart parsing spools to disk."""

    def __init__(self, app: ASGIApp, limit: int, metrics: ServiceMetrics | None = None) -> None:
        self.app = app
        self.limit = limit + ENVELOPE_BYTES
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._reject(send, declared)
            return
        state: dict[str, Any] = {"seen": 0, "exceeded": False, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.limit:
                    state["exceeded"] = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["exceeded"]:
                return  # whatever the app makes of the broken body, the answer is 413
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            state["exceeded"] = True
        if state["exceeded"] and not state["started"]:
            await self._reject(send, state["seen"])

    async def _reject(self, send: Send, size: int) -> None:
        if self.metrics is not None:
            self.metrics.error(ImageTooLargeError.kind)
        await _send_413(send, size, self.limit - ENVELOPE_BYTES)


async def _send_413(send: Send, size: int, limit: int) -> None:
    body = json.dumps({"error": {
        "kind": ImageTooLargeError.kind,
        "message": f"request body exceeds the upload limit of {limit} bytes",  # (never the size sent)
    }}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class TenantMiddleware:
    """Under ``prefix`` (the session routes): who is calling and whether the tenant's rate allows
    it, before a byte of the body is read (an upload without a key costs nothing). The tenant is
    left in ``scope["state"]["tenant"]`` for the ``Tenant`` dependency."""

    def __init__(self, app: ASGIApp, tenancy: Tenancy, prefix: str = "/v1/sessions") -> None:
        self.app = app
        self.tenancy = tenancy
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        try:
            tenant = self.tenancy.enter(_header(scope, b"authorization"), _header(scope, b"x-hilum-tenant"))
        except HilumError as exc:
            refusal = error_json(exc.http_status, exc.kind, exc.message, exc.retry_after_s)
            refusal.headers["connection"] = "close"  # an unread body is not drained: the connection goes
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["tenant"] = tenant
        await self.app(scope, receive, send)


class RequestMetricsMiddleware:
    """Counts and times every HTTP request by its route template (``/v1/sessions/{session_id}``)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        self.metrics.inflight.labels("http").inc()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.inflight.labels("http").dec()
            route = scope.get("route")
            endpoint = f"{scope['method']} {route.path}" if route is not None else "unmatched"
            self.metrics.request("http", endpoint, status["code"], time.perf_counter() - started)
