"""Request-head and request-body limits on a real service (uvicorn on loopback, raw sockets):
oversized headers get 431 with the error envelope (not a 400 or a reset), a body that does not
arrive in time gets 408, and the connection is closed after either."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from orchestrator.server import Service, build_services
from orchestrator.settings import Settings

HEADER_LIMIT = 16 * 1024
TRAILER_CAP = 64 * 1024 * 1024  # far beyond what loopback socket buffers hold
READ_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def limited() -> Iterator[Service]:
    settings = Settings(host="127.0.0.1", http_body_timeout_s=1.0, http_max_header_bytes=HEADER_LIMIT)
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc:
        yield svc


def exchange(service: Service, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Sends ``head`` + ``body`` on a fresh connection and reads the whole answer (the server closes)."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head_raw, _, payload = raw.partition(b"\r\n\r\n")
    lines = head_raw.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, payload


def test_oversized_headers_get_431(limited: Service) -> None:
    big = b"X-Padding: " + b"a" * (200 * 1024) + b"\r\n"
    status, headers, payload = exchange(limited, b"GET /healthz HTTP/1.1\r\nHost: hilum\r\n" + big + b"\r\n")
    assert status == 431
    assert headers["connection"] == "close"
    error = json.loads(payload)["error"]
    assert error["kind"] == "headers_too_large" and "aaaa" not in error["message"]


def test_headers_under_the_limit_are_served(limited: Service) -> None:
    fits = b"X-Padding: " + b"a" * (HEADER_LIMIT // 2) + b"\r\n"
    status, _, payload = exchange(
        limited, b"GET /healthz HTTP/1.1\r\nHost: hilum\r\nConnection: close\r\n" + fits + b"\r\n")
    assert status == 200 and json.loads(payload)["status"] == "ok"


def test_a_body_that_never_arrives_gets_408(limited: Service) -> None:
    boundary = "b0undary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    head = (f"POST /v1/sessions HTTP/1.1\r\nHost: hilum\r\nContent-Type: multipart/form-data; boundary={boundary}"
            f"\r\nContent-Length: 100000\r\n\r\n").encode()
    status, headers, payload = exchange(limited, head, part + b"\x89PNG")  # ...and the rest never comes
    assert status == 408 and headers["connection"] == "close"
    assert json.loads(payload)["error"]["kind"] == "body_timeout"


def test_a_complete_body_is_served_and_404_never_echoes_the_id(limited: Service) -> None:
    body = json.dumps({"question": "Is there anything abnormal?"}).encode()
    head = (f"POST /v1/sessions/nothing-here/turns HTTP/1.1\r\nHost: hilum\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    status, _, payload = exchange(limited, head, body)
    assert status == 404
    error = json.loads(payload)["error"]
    assert error["kind"] == "session_not_found" and "nothing-here" not in error["message"]


def test_many_small_headers_over_the_limit_get_431(limited: Service) -> None:
    """Each header fits; together they do not (counted as the parser hands them over)."""
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 200) for i in range(HEADER_LIMIT // 200 + 10))
    status, headers, payload = exchange(limited, b"GET /healthz HTTP/1.1\r\nHost: hilum\r\n" + many + b"\r\n")
    assert status == 431 and headers["connection"] == "close"
    assert json.loads(payload)["error"]["kind"] == "headers_too_large"


def test_a_long_url_gets_431(limited: Service) -> None:
    status, _, payload = exchange(limited, b"GET /healthz?" + b"q" * (HEADER_LIMIT + 100) + b" HTTP/1.1\r\n"
                                  b"Host: hilum\r\n\r\n")
    assert status == 431 and "qqqq" not in payload.decode()


def test_a_header_that_never_ends_gets_431_before_it_ends(limited: Service) -> None:
    """One header value sent in pieces, its line never finished: the parser hands nothing over, so the
    bytes of the unfinished head are what is counted; the answer comes while the client still sends."""
    with socket.create_connection(("127.0.0.1", limited.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hilum\r\nX-Endless: ")
        answer = b""
        for _ in range(4 * HEADER_LIMIT // 1024):
            try:
                sock.sendall(b"c" * 1024)
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.settimeout(0.05)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            finally:
                sock.settimeout(READ_TIMEOUT_S)
            if answer:
                break
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["kind"] == "headers_too_large"


def test_the_limit_is_per_request_on_a_kept_alive_connection(limited: Service) -> None:
    """Requests on one connection whose heads together pass the limit are each served."""
    head = b"GET /healthz HTTP/1.1\r\nHost: hilum\r\nX-Padding: " + b"d" * (HEADER_LIMIT // 2) + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", limited.port), timeout=READ_TIMEOUT_S) as sock:
        for _ in range(4):
            sock.sendall(head)
            answer = b""
            while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < 10:
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 ")


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def test_a_pipelined_head_over_the_limit_is_answered_after_the_request_before_it(limited: Service) -> None:
    """Two requests in one write: the first is answered as usual, then the oversized second gets
    its 431 (never in place of, or in the middle of, the first answer)."""
    first = b"GET /healthz HTTP/1.1\r\nHost: hilum\r\n\r\n"
    second = b"GET /healthz HTTP/1.1\r\nHost: hilum\r\nX-Padding: " + b"e" * (2 * HEADER_LIMIT) + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", limited.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(first + second)
        raw = _read_all(sock)
    assert raw.startswith(b"HTTP/1.1 200 ")
    head, _, rest = raw.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert json.loads(rest[:length])["status"] == "ok"
    assert rest[length:].startswith(b"HTTP/1.1 431 ") and rest[length:].count(b"HTTP/1.1 ") == 1


def test_chunked_trailers_that_never_end_close_the_connection(limited: Service) -> None:
    """A chunked body's trailer line that never ends: the server stops reading it past the limit and
    closes the connection (the request's own answer, if any, is the only one)."""
    head = (b"POST /v1/sessions/nothing-here/turns HTTP/1.1\r\nHost: hilum\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    body = json.dumps({"question": "x"}).encode()
    start = head + b"%x\r\n%s\r\n0\r\nX-Trailer: " % (len(body), body)
    sent = 0
    with socket.create_connection(("127.0.0.1", limited.port), timeout=READ_TIMEOUT_S) as sock:
        sock.sendall(start)
        try:
            while sent < TRAILER_CAP:
                sock.sendall(b"f" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw = _read_all(sock)
    # the server closed the connection (the sends failed) long before the cap, whatever the socket
    # buffers took in first; no answer (the request never ended), in particular no 408 for a body
    # still "arriving"
    assert sent < TRAILER_CAP
    assert raw.count(b"HTTP/1.1 ") <= 1 and b" 408 " not in raw and b" 431 " not in raw


@pytest.fixture(scope="module")
def timed() -> Iterator[Service]:
    settings = Settings(host="127.0.0.1", http_head_timeout_s=1.0, http_keep_alive_s=5.0)
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc:
        yield svc


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_head_that_never_ends_or_never_starts_is_closed(timed: Service) -> None:
    """A connection that sends nothing, or trickles a header line every half second, was held for ever (20,000 such
    took the process past its file descriptors): past ``http_head_timeout_s`` it is closed, with a 408 when part of a
    head came."""
    import time

    with socket.create_connection(("127.0.0.1", timed.port), timeout=30) as idle:
        t0 = time.monotonic()
        assert _read_all(idle) == b"" and time.monotonic() - t0 < 10  # closed, no answer to nothing
    with socket.create_connection(("127.0.0.1", timed.port), timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: hilum\r\n")
        answer = b""
        for i in range(40):  # one header line every 0.5 s, for up to 20 s: the server answers and closes first
            time.sleep(0.5)
            try:
                slow.sendall(f"X-Drip-{i}: 1\r\n".encode())
            except OSError:
                break
        answer = _read_all(slow)
    assert answer.startswith(b"HTTP/1.1 408") and b'"head_timeout"' in answer


def test_a_kept_alive_connection_gets_a_fresh_head_deadline_for_each_request(timed: Service) -> None:
    import time

    with socket.create_connection(("127.0.0.1", timed.port), timeout=30) as sock:
        for _ in range(3):  # each request 0.7 s apart: inside the keep-alive and each head's own 1 s deadline
            time.sleep(0.7)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: hilum\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200")
