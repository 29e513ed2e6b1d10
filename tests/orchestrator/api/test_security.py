"""What a security probe found, against a real server: questions with control characters are 422
``invalid_question`` (never echoed); two Authorization headers are 401, never one of them taken; the page and
its files carry a Content-Security-Policy and the other browser headers; nothing under /v1/sessions is cached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.api.middleware import PAGE_CSP
from orchestrator.server import Service

QUESTION = "Is there anything abnormal in the lungs?"
SECRET = "PATIENT-7f3a"  # never in an answer that refuses the question it is part of


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def session_id(client: httpx.Client, phantom_dir: Path) -> str:
    with (phantom_dir / "image.png").open("rb") as fh:
        r = client.post("/v1/sessions", files={"file": ("film.png", fh, "image/png")}, data={"lang": "en"})
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    assert client.post(f"/v1/sessions/{sid}/turns", json={"question": QUESTION}).status_code == 200  # turn 2
    return sid


def _refused(r: httpx.Response, bad: str) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["kind"] == "invalid_question"
    assert "control characters" in error["message"]
    assert SECRET not in r.text and bad not in r.text


@pytest.mark.parametrize("bad", ["\u0007", "\u0000", "\u001b[31m", "\u007f", "\u0085", "\u000b"])
def test_a_question_with_a_control_character_is_422(client: httpx.Client, session_id: str, bad: str) -> None:
    question = f"Is {SECRET} {bad}abnormal?"
    _refused(client.post(f"/v1/sessions/{session_id}/turns", json={"question": question}), bad)
    _refused(client.post(f"/v1/sessions/{session_id}/turns/stream", json={"question": question}), bad)
    _refused(client.post(f"/v1/sessions/{session_id}/fork", json={"turn": 2, "question": question}), bad)
    # nothing was stored: the session still has its two turns
    assert len(client.get(f"/v1/sessions/{session_id}").json()["turns"]) == 2


def test_tab_cr_and_lf_are_allowed(client: httpx.Client, session_id: str) -> None:
    r = client.post(f"/v1/sessions/{session_id}/fork", json={"turn": 2, "question": "Is there\tanything\r\nabnormal?"})
    assert r.status_code == 201, r.text
    assert client.delete(f"/v1/sessions/{r.json()['session_id']}").status_code == 200


def test_the_page_and_its_files_carry_the_security_headers(client: httpx.Client) -> None:
    for path in ("/", "/static/app.js", "/static/style.css", "/static/messages.json", "/static/no-such-file.js"):
        r = client.get(path)
        assert r.status_code == (404 if "no-such" in path else 200), path
        assert r.headers["Content-Security-Policy"] == PAGE_CSP, path
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["Referrer-Policy"] == "no-referrer", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        assert len(r.headers.get_list("Content-Security-Policy")) == 1
    policy = dict(part.strip().split(" ", 1) for part in PAGE_CSP.split(";"))
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "'unsafe-inline'" not in PAGE_CSP and "'unsafe-eval'" not in PAGE_CSP
    assert "Content-Security-Policy" not in client.get("/healthz").headers  # the API's JSON is not a page


def test_nothing_under_v1_sessions_is_cached(client: httpx.Client, session_id: str) -> None:
    base = f"/v1/sessions/{session_id}"
    answers = [client.get(base), client.get(f"{base}/image.png"), client.get(f"{base}/heatmap.png"),
               client.get(f"{base}/report"), client.get(f"{base}/turns/2", params={"lang": "zh"}),
               client.get(f"{base}/dicom/pr"), client.get(f"{base}/earlier.png"),  # 404: no earlier film
               client.get("/v1/sessions/0123456789abcdef0123456789abcdef/image.png")]  # 404
    for r in answers:
        assert r.headers.get_list("Cache-Control") == ["no-store"], (r.request.url, r.status_code)
    assert answers[1].status_code == 200 and answers[1].headers["content-type"] == "image/png"
    assert client.get("/v1/examples").headers.get("Cache-Control") != "no-store"  # not a session's


# --- two Authorization headers (keys mode) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(keyed_service: Service) -> Iterator[httpx.Client]:
    # a refusal closes its connection: a fresh connection per request
    with httpx.Client(base_url=keyed_service.url, timeout=120,
                      limits=httpx.Limits(max_keepalive_connections=0)) as c:
        yield c


def test_two_authorization_headers_are_401_never_one_of_them(keyed: httpx.Client, api_keys: dict[str, str],
                                                              phantom_dir: Path) -> None:
    alice, bob = f"Bearer {api_keys['alice']}", f"Bearer {api_keys['bob']}"
    with (phantom_dir / "image.png").open("rb") as fh:
        r = keyed.post("/v1/sessions", files={"file": ("film.png", fh, "image/png")}, data={"lang": "en"},
                       headers={"Authorization": alice})
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    for pair in ((alice, bob), (bob, alice), (alice, alice), (alice, "Bearer not-a-key"), ("Bearer not-a-key", alice)):
        headers = [("Authorization", pair[0]), ("Authorization", pair[1])]
        for r in (keyed.get(f"/v1/sessions/{sid}", headers=headers),
                  keyed.post(f"/v1/sessions/{sid}/turns", json={"question": QUESTION}, headers=headers),
                  keyed.get("/v1/sessions/0123456789abcdef0123456789abcdef", headers=headers)):
            assert r.status_code == 401, (pair, r.text)
            assert r.json()["error"]["kind"] == "unauthenticated"
            assert "more than one Authorization header" in r.json()["error"]["message"]
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert api_keys["alice"] not in r.text and api_keys["bob"] not in r.text
    # the session was not touched by any of them, and one header still works
    r = keyed.get(f"/v1/sessions/{sid}", headers={"Authorization": alice})
    assert r.status_code == 200 and len(r.json()["turns"]) == 1
    assert keyed.delete(f"/v1/sessions/{sid}", headers={"Authorization": alice}).status_code == 200
