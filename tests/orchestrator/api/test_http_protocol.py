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
