"""uvicorn's h11 protocol with a proper answer to an oversized request head: 431, not 400 + reset.

uvicorn bounds the request line and headers with ``h11_max_incomplete_event_size`` (our
``http_max_header_bytes``) but answers any protocol error with a plain-text 400 and closes the
socket at once; a client still sending its 200 kB of headers then sees a TCP reset instead of
an answer (unread bytes in the receive buffer make the kernel reset the connection). Here
h11's own hint (``error_status_hint=431``, "Receive buffer too long") picks the status, the body
is the usual ``{"error": {"kind", "message"}}``, and the connection lingers: the write side is
shut after the answer, whatever the client still sends is read and dropped, and the socket
closes when the client does or after ``LINGER_S``."""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

LINGER_S = 2.0
KIND = "headers_too_large"


class HilumH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._error_hint: int | None = None
        self._lingering = False
        parse = self.conn.next_event

        def next_event() -> Any:
            try:
                return parse()
            except h11.RemoteProtocolError as exc:
                self._error_hint = exc.error_status_hint
                raise

        self.conn.next_event = next_event  # type: ignore[method-assign]

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # a refused client's remaining bytes: read and dropped
            return
        super().data_received(data)

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()
            return
        super().eof_received()

    def send_400_response(self, msg: str) -> None:
        if self._error_hint != 431:
            super().send_400_response(msg)
            return
        limit = self.conn._max_incomplete_event_size  # noqa: SLF001 - the limit h11 enforced
        body = json.dumps({"error": {"kind": KIND, "message": f"the request line and headers exceed {limit} bytes"}})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=431, headers=headers, reason=b"Request Header Fields Too Large"),
                      h11.Data(data=body.encode()), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
