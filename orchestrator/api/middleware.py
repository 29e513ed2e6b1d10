"""Raw ASGI middleware: the request-body limits (413 without buffering; 408 for a body not
received within ``http_body_timeout_s``), the caller's tenant
(401 / 429 before the body is read; 401 for more than one Authorization header), admission (429 server_busy
past ``http_workers`` requests in flight, before the body is read), response headers (the page's security
headers, ``Cache-Control: no-store`` on every session answer) and request metrics."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.errors import error_json
from orchestrator.errors import HilumError, ImageTooLargeError, ServerBusyError, public_message
from orchestrator.metrics import ServiceMetrics
from orchestrator.tenancy import Tenancy

# multipart framing around the file (boundaries, part headers, the lang field)
ENVELOPE_BYTES = 64 * 1024
# every body but an upload is a small JSON object (a question is at most 2,000 characters): a larger one is refused
# before it is parsed, which happens on the event loop (a 50 MB JSON body stalled /healthz for 4 s and took 1.1 GB)
JSON_BODY_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
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
    uploads). The body is never held whole by this layer; multipart parsing spools to disk.
    A body still incomplete ``timeout_s`` after the headers is 408 (a slow-body client holds a
    connection and a request slot for that long at most); once the body is in, waiting on
    ``receive`` (a stream listening for a disconnect) is not timed."""

    def __init__(self, app: ASGIApp, limit: int, metrics: ServiceMetrics | None = None,
                 timeout_s: float | None = None) -> None:
        self.app = app
        self.limit = limit + ENVELOPE_BYTES
        self.metrics = metrics
        self.timeout_s = timeout_s

    def _limit_for(self, scope: Scope) -> int:
        """The upload limit for a multipart body (a film); ``JSON_BODY_BYTES`` for any other."""
        content_type = (_header(scope, b"content-type") or "").lower()
        return self.limit if content_type.startswith("multipart/form-data") else JSON_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._reject(send, limit)
            return
        watch = _BodyWatch(receive, send, limit, self.timeout_s)
        try:
            await self.app(scope, watch.receive, watch.send)
        except BodyTooLarge:
            watch.exceeded = True
        except BodyTimeout:
            watch.timed_out = True
        if watch.started:
            return
        if watch.exceeded:
            await self._reject(send, limit)
        elif watch.timed_out:
            if self.metrics is not None:
                self.metrics.error(BODY_TIMEOUT_KIND)
            await _send_error(send, 408, BODY_TIMEOUT_KIND,
                              f"the request body did not arrive within {self.timeout_s:g} s")

    async def _reject(self, send: Send, limit: int) -> None:
        if self.metrics is not None:
            self.metrics.error(ImageTooLargeError.kind)
        if limit == self.limit:
            await _send_413(send, self.limit - ENVELOPE_BYTES)
        else:
            await _send_error(send, 413, ImageTooLargeError.kind,
                              f"request body exceeds the limit of {limit} bytes for anything but an upload")


BODY_TIMEOUT_KIND = "body_timeout"


class _BodyWatch:
    """One request's ``receive`` / ``send`` as the app sees them: bytes counted, the body's deadline."""

    def __init__(self, receive: Receive, send: Send, limit: int, timeout_s: float | None) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.seen = 0
        self.exceeded = self.timed_out = self.started = self.complete = False

    async def receive(self) -> Message:
        if self.deadline is None or self.complete:
            message = await self._receive()
        else:
            try:
                message = await asyncio.wait_for(self._receive(), max(0.0, self.deadline - time.monotonic()))
            except TimeoutError:
                self.timed_out = True
                raise BodyTimeout from None
        if message["type"] == "http.request":
            self.complete = not message.get("more_body", False)
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.exceeded = True
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded or self.timed_out:
            return  # whatever the app makes of the broken body, the answer is 413 / 408
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


async def _send_error(send: Send, status: int, kind: str, message: str) -> None:
    body = json.dumps({"error": {"kind": kind, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


async def _send_413(send: Send, limit: int) -> None:
    # (never the size sent)
    await _send_error(send, 413, ImageTooLargeError.kind, f"request body exceeds the upload limit of {limit} bytes")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _headers(scope: Scope, name: bytes) -> list[str]:
    """Every value of header ``name`` (lower case, as the server hands them over), in order."""
    return [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name]


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
            authorization = self.tenancy.one_credential(_headers(scope, b"authorization"))  # 401 for two
            tenant = self.tenancy.enter(authorization, _header(scope, b"x-hilum-tenant"))
        except HilumError as exc:
            refusal = error_json(exc.http_status, exc.kind, public_message(exc), exc.retry_after_s)
            refusal.headers["connection"] = "close"  # an unread body is not drained: the connection goes
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["tenant"] = tenant
        await self.app(scope, receive, send)


# the page (orchestrator/web) loads its script, stylesheet and messages from /static, the films as blob:
# URLs of what it fetched with its key, and its icon as a data: URL; it has no inline script or style
# attribute (the script sets styles through the CSSOM, which a policy does not govern) and no font of its own
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", PAGE_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
# a session's film, heatmap, JSON and DICOM objects are a patient's: no browser or shared cache keeps them
SESSION_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"cache-control", b"no-store"),)


class SecurityHeadersMiddleware:
    """The page (``/``) and its files (``/static/...``) get a Content-Security-Policy, ``nosniff``,
    ``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY``; every answer under ``session_prefix``
    (``/v1/sessions``: JSON, films, heatmaps, DICOM objects, refusals) ``Cache-Control: no-store``,
    whatever the route said. A header of the same name the app set is replaced, never doubled."""

    def __init__(self, app: ASGIApp, session_prefix: str = "/v1/sessions") -> None:
        self.app = app
        self.session_prefix = session_prefix

    def _headers_for(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        if path == "/" or path == "/static" or path.startswith("/static/"):
            return PAGE_HEADERS
        if path == self.session_prefix or path.startswith(self.session_prefix + "/"):
            return SESSION_HEADERS
        return ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = self._headers_for(scope["path"]) if scope["type"] == "http" else ()
        if not extra:
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in extra}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AdmissionMiddleware:
    """At most ``limit`` requests at once, the probes aside (they are async and need no thread).
    The sync thread pool has exactly ``limit`` threads (``create_app``), and a request holds at most
    one at a time, so an admitted request never waits for a thread; one more is refused at once
    with 429 ``server_busy`` + Retry-After instead of joining an unbounded queue, and with more
    workers than the encoder's queue holds, a full encoder queue answers its own 429 first."""

    def __init__(self, app: ASGIApp, limit: int, exempt: frozenset[str] = PROBE_PATHS,
                 observe: Any | None = None) -> None:
        self.app = app
        self.limit = max(1, int(limit))
        self.exempt = exempt
        self.observe = observe
        self.inflight = 0  # the event loop is single-threaded: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            if self.observe is not None:
                self.observe(ServerBusyError.kind)
            refusal = error_json(ServerBusyError.http_status, ServerBusyError.kind,
                                 "the server is working on as many requests as it can; retry shortly",
                                 ServerBusyError.retry_after_s)
            refusal.headers["connection"] = "close"  # an unread body is not drained: the connection goes
            await refusal(scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


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
