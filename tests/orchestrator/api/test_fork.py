"""``POST /v1/sessions/{id}/fork`` (edit and re-run) against a real server (uvicorn, embedded encoder):
turns before n identical, no encoder call, the original unchanged, the two sessions then diverge;
404 for an unknown or another tenant's session, 422 for a turn out of range, tenant quotas apply. And
``GET /v1/sessions/{id}/turns/{n}?lang=``: an answered turn composed again in the other language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.server import Service

QUESTIONS_ZH = (
    "右肺中叶那个圆形影,边缘是否规则?",
    "这个病灶距离右肺门有多远?是否与肺门结构相连?",
    "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?",
)
NEW_QUESTION = "左肺下叶那个条索影有多大?"


@pytest.fixture()
def client(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=180) as c:
        yield c


@pytest.fixture(scope="module")
def session(service: Service, phantom_dir: Path) -> dict[str, Any]:
    """A four-turn session (screening + the scenario's three questions)."""
    with httpx.Client(base_url=service.url, timeout=180) as c:
        r = c.post("/v1/sessions", files={"file": ("film.png", (phantom_dir / "image.png").read_bytes())},
                   data={"lang": "zh"})
        assert r.status_code == 201, r.text
        sid = r.json()["session_id"]
        for q in QUESTIONS_ZH:
            assert c.post(f"/v1/sessions/{sid}/turns", json={"question": q}).status_code == 200
        full = c.get(f"/v1/sessions/{sid}").json()
    assert len(full["turns"]) == 4
    return full


def test_fork_from_turn_2_keeps_turn_1_and_calls_no_encoder(service: Service, client: httpx.Client,
                                                            session: dict[str, Any]) -> None:
    sid = session["session_id"]
    calls = service.services.encoder.calls
    r = client.post(f"/v1/sessions/{sid}/fork", json={"turn": 2, "question": NEW_QUESTION})
    assert r.status_code == 201, r.text
    forked = r.json()
    assert service.services.encoder.calls == calls, "a fork ran the encoder"
    assert forked["session_id"] != sid and forked["forked_from"] == {"session_id": sid, "turn": 2}
    assert [t["turn"] for t in forked["turns"]] == [1, 2]
    assert forked["turns"][0] == session["turns"][0]  # identical, timings and all
    assert forked["frame"] == session["frame"] and forked["frame"]["working_size"] == [512, 512]
    assert forked["image"] == session["image"]
    assert forked["turns"][1]["answer"]["text"] != session["turns"][1]["answer"]["text"]
    assert forked["turns"][1]["query"] != session["turns"][1]["query"]
    again = client.get(f"/v1/sessions/{sid}").json()
    assert again == session, "the original changed"
    assert client.get(f"/v1/sessions/{forked['session_id']}/image.png").content == \
        client.get(f"/v1/sessions/{sid}/image.png").content


def test_fork_from_the_last_turn_then_both_diverge(service: Service, client: httpx.Client,
                                                   session: dict[str, Any]) -> None:
    sid = session["session_id"]
    calls = service.services.encoder.calls
    r = client.post(f"/v1/sessions/{sid}/fork", json={"turn": 4, "question": NEW_QUESTION})
    assert r.status_code == 201, r.text
    fid = r.json()["session_id"]
    forked = r.json()
    assert forked["turns"][:3] == session["turns"][:3]
    ids_before = {a["id"] for t in session["turns"][:3] for a in t["anchors"]}
    assert ids_before <= {a["id"] for a in forked["anchors"]}
    assert client.post(f"/v1/sessions/{fid}/turns", json={"question": "它的边缘规则吗?"}).status_code == 200
    assert client.post(f"/v1/sessions/{sid}/turns", json={"question": "肺门有无增大?"}).status_code == 200
    a, b = client.get(f"/v1/sessions/{sid}").json(), client.get(f"/v1/sessions/{fid}").json()
    assert len(a["turns"]) == 5 and len(b["turns"]) == 5
    assert a["turns"][:4] == session["turns"] and b["turns"][:3] == session["turns"][:3]
    assert a["turns"][4]["answer"] != b["turns"][4]["answer"]
    assert service.services.encoder.calls == calls
    assert client.delete(f"/v1/sessions/{fid}").status_code == 200
    assert client.get(f"/v1/sessions/{sid}").status_code == 200  # closing the fork leaves the original


@pytest.mark.parametrize("body", [{"turn": 1, "question": NEW_QUESTION}, {"turn": 0, "question": NEW_QUESTION},
                                  {"turn": 77, "question": NEW_QUESTION}, {"turn": -2, "question": NEW_QUESTION},
                                  {"turn": "two", "question": NEW_QUESTION}, {"turn": 2},
                                  {"turn": 2, "question": ""}, {"turn": 2, "question": "   "}])
def test_bad_forks_are_422_without_echoing_the_input(client: httpx.Client, session: dict[str, Any],
                                                     body: dict[str, Any]) -> None:
    r = client.post(f"/v1/sessions/{session['session_id']}/fork", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["kind"] in ("invalid_turn", "invalid_question", "invalid_request")
    assert NEW_QUESTION not in error["message"] and "77" not in error["message"] and "two" not in error["message"]


def test_fork_of_an_unknown_or_another_tenants_session_is_404(client: httpx.Client, session: dict[str, Any]) -> None:
    sid = session["session_id"]
    body = {"turn": 2, "question": NEW_QUESTION}
    r = client.post("/v1/sessions/0123456789abcdef/fork", json=body)
    assert r.status_code == 404 and r.json()["error"]["kind"] == "session_not_found"
    r = client.post(f"/v1/sessions/{sid}/fork", json=body, headers={"X-Hilum-Tenant": "another-clinic"})
    assert r.status_code == 404 and r.json()["error"]["kind"] == "session_not_found"
    assert sid not in r.text


def test_fork_counts_against_the_tenants_quota(keyed_service: Service, api_keys: dict[str, str],
                                               phantom_dir: Path) -> None:
    """keyed_service holds at most 2 sessions per tenant: the original and one fork, then 429."""
    headers = {"Authorization": f"Bearer {api_keys['dave']}"}
    with httpx.Client(base_url=keyed_service.url, timeout=180, headers=headers) as c:
        r = c.post("/v1/sessions", files={"file": ("film.png", (phantom_dir / "image.png").read_bytes())},
                   data={"lang": "en"})
        assert r.status_code == 201, r.text
        sid = r.json()["session_id"]
        assert c.post(f"/v1/sessions/{sid}/turns", json={"question": "Is the margin regular?"}).status_code == 200
        first = c.post(f"/v1/sessions/{sid}/fork", json={"turn": 2, "question": "Where is the strand?"})
        assert first.status_code == 201, first.text
        second = c.post(f"/v1/sessions/{sid}/fork", json={"turn": 2, "question": "Where is the strand?"})
        assert second.status_code == 429 and second.json()["error"]["kind"] == "tenant_quota"
        other = httpx.post(f"{keyed_service.url}/v1/sessions/{sid}/fork", timeout=60,
                           json={"turn": 2, "question": "Where is the strand?"},
                           headers={"Authorization": f"Bearer {api_keys['carol']}"})
        assert other.status_code == 404  # another tenant's session, even with a valid key
        for s in (sid, first.json()["session_id"]):
            assert c.delete(f"/v1/sessions/{s}").status_code == 200


_CJK = re.compile(r"[\u3400-\u9fff]")


def test_an_earlier_turn_in_the_other_language(service: Service, client: httpx.Client,
                                               session: dict[str, Any]) -> None:
    """A page switched to English mid-session: every zh turn composed again in en, the same anchors and
    measurements, no encoder call, nothing stored; asked in its own language, the same answer."""
    sid = session["session_id"]
    before = client.get(f"/v1/sessions/{sid}").json()  # (other tests here add turns to it)
    calls = service.services.encoder.calls
    for zh in before["turns"]:
        r = client.get(f"/v1/sessions/{sid}/turns/{zh['turn']}", params={"lang": "en"})
        assert r.status_code == 200, r.text
        en = r.json()
        assert (en["turn"], en["intent"], en["lang"]) == (zh["turn"], zh["intent"], "en")
        assert [a["id"] for a in en["anchors"]] == [a["id"] for a in zh["anchors"]]
        assert [m["mm"] for m in en["measurements"]] == [m["mm"] for m in zh["measurements"]]
        assert en["answer"]["text"] and not _CJK.search(en["answer"]["text"]), en["answer"]["text"]
        assert _CJK.search(zh["answer"]["text"])
    again = client.get(f"/v1/sessions/{sid}/turns/2", params={"lang": "zh"}).json()
    assert again["answer"] == before["turns"][1]["answer"]
    assert client.get(f"/v1/sessions/{sid}").json() == before, "a re-read turn changed the session"
    assert service.services.encoder.calls == calls


@pytest.mark.parametrize(("turn", "lang", "status", "kind"), [
    ("0", "en", 422, "invalid_turn"), ("9", "en", 422, "invalid_turn"), ("2", "fr", 422, "invalid_turn"),
    ("two", "en", 422, "invalid_request"), ("2", None, 422, "invalid_request")])
def test_bad_turn_reads_are_422_without_echoing_the_input(client: httpx.Client, session: dict[str, Any], turn: str,
                                                          lang: str | None, status: int, kind: str) -> None:
    r = client.get(f"/v1/sessions/{session['session_id']}/turns/{turn}", params={"lang": lang} if lang else {})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["kind"] == kind and "fr" not in error["message"] and "two" not in error["message"]
    r = client.get(f"/v1/sessions/{session['session_id']}/turns/2", params={"lang": "en"},
                   headers={"X-Hilum-Tenant": "another-clinic"})
    assert r.status_code == 404 and r.json()["error"]["kind"] == "session_not_found"
