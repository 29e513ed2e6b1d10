"""uvicorn's httptools protocol with a bounded request head, answered 431 rather than 400 + reset.

Why httptools (llhttp, in C) rather than h11: a follow-up turn is ~0.5 ms of engine work, and
h11's pure-Python parsing and framing were a fifth of the server's CPU per turn; with httptools
the closed-loop follow-up capacity rose by about a third on the same machine (BENCHMARKS.md).

What httptools does not do by itself: bound the request line and headers. uvicorn's httptools
protocol has no limit at all (h11 had ``h11_max_incomplete_event_size``), so a client could send
headers (or a chunked body's trailers) without end and the parser would keep them. Here they are
counted two ways: the bytes received since the parser last handed over a head's end, body or a
message's end (a single endless header line never reaches a callback), and the URL and header or
trailer fields as the parser hands them over (a head that arrives whole in one read). Past
``http_max_header_bytes`` (the config's ``h11_max_incomplete_event_size``) a head is answered 431
with the usual ``{"error": {"kind", "message"}}`` body, after any answer already being written on
the connection (a pipelined request), and the connection lingers: the write side is shut after the
answer, whatever the client still sends is read and dropped, and the socket closes when the client
does or after ``LINGER_S`` (a client still sending its 200 kB of headers would otherwise see a TCP
reset instead of an answer: unread bytes in the receive buffer make the kernel reset the
connection). Trailers past the limit close the connection: their request has its own answer.

Nor does it time a head: a connection that opens and sends nothing, or trickles a header line every few seconds, was
held for ever (a probe held 20,000 and the process ran out of file descriptors: REST and gRPC stopped answering).
``head_timeout_s`` (``http_head_timeout_s``, set by ``configured``) bounds how long a request line and headers may take
from the connection's opening, or from the previous answer on it: past it the connection closes, with a 408 when part
of a head had arrived. uvicorn's keep-alive timeout still closes an idle connection between requests sooner."""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_S = 2.0
KIND = "headers_too_large"
DEFAULT_LIMIT = 16 * 1024
# per header line beyond its name and value: ": " and CRLF; the request line's method, version and CRLFs
LINE_OVERHEAD = 4
REQUEST_LINE_OVERHEAD = 16


class HeadTooLarge(Exception):
    """Raised from a parser callback: the head passed the limit (httptools stops and raises)."""


HEAD_TIMEOUT_S = 20.0
HEAD_TIMEOUT_KIND = "head_timeout"


class HilumHttpProtocol(HttpToolsProtocol):
    head_timeout_s: float = HEAD_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: Any = None
        self.head_limit = int(self.config.h11_max_incomplete_event_size or DEFAULT_LIMIT)
        self._in_head = True  # waiting for, or inside, a request's line and headers (else: its body or trailers)
        self._unparsed = 0  # bytes received since the parser last delivered a head's end, body or a message's end
        self._fields = REQUEST_LINE_OVERHEAD  # the URL and header (or trailer) fields handed over so far
        self._refused = False
        self._lingering = False
        self._answer_after_response = False

    # --- the head's deadline -------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._lingering or not self._in_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # an answer is being written: the next head's deadline starts after it
        if self._unparsed:  # part of a head came: say why the connection closes
            body = json.dumps({"error": {"kind": HEAD_TIMEOUT_KIND, "message": f"the request line and headers did "
                                                                              f"not arrive within "
                                                                              f"{self.head_timeout_s:g} s"}}).encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                 b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
                                 + body)
        self.transport.close()

    # --- counting -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        """Bytes the parser holds without handing anything over (an unfinished header line, or a
        chunked body's trailer that never ends) are bounded here; what it hands over, in ``_count``.
        A head that completes within one read is bounded by that read's size (up to 256 KiB) and
        by the fields counted, not by the bytes: nothing of it is kept beyond the fields."""
        if self._lingering:  # a refused client's remaining bytes: read and dropped
            return
        self._unparsed += len(data)
        super().data_received(data)
        if not self._refused and self._unparsed > self.head_limit:
            self._refused = True
            self._refuse()

    def _progress(self) -> None:
        self._unparsed = 0

    def _count(self, n: int) -> None:
        self._fields += n
        if self._fields > self.head_limit:
            self._refused = True
            raise HeadTooLarge

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._fields = REQUEST_LINE_OVERHEAD

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + LINE_OVERHEAD)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self._in_head, self._fields = False, 0  # a chunked body's trailers are counted afresh
        self._progress()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._progress()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True  # the next request's head starts with the next byte
        self._progress()
        super().on_message_complete()

    # --- answering ----------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        if not self._refused:
            super().send_400_response(msg)
            return
        self._refuse()

    def _refuse(self) -> None:
        """A head over the limit: 431, once no earlier answer is being written on this connection
        (a pipelined request's head waits for the answer before it). Trailers over the limit belong
        to a request that is being (or has been) answered: the connection is closed, never a second
        answer."""
        if self._lingering:
            return
        self._lingering = True  # nothing more is parsed: what the client still sends is dropped
        if not self._in_head:
            self.transport.close()
        elif self.cycle is not None and not self.cycle.response_complete:
            self._answer_after_response = True
        else:
            self._answer_431()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_head_timer()  # the next request's head, if one comes before the keep-alive timeout
        if self._answer_after_response:
            self._answer_after_response = False
            self._answer_431()

    def _answer_431(self) -> None:
        if self.transport.is_closing():
            return
        body = json.dumps({"error": {"kind": KIND, "message": f"the request line and headers exceed "
                                                              f"{self.head_limit} bytes"}}).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def configured(head_timeout_s: float) -> type[HilumHttpProtocol]:
    """The protocol class uvicorn instantiates, with the settings' head deadline."""
    return type("HilumHttpProtocol", (HilumHttpProtocol,), {"head_timeout_s": float(head_timeout_s)})
