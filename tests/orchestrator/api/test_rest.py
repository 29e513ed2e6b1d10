"""REST against a real server: the four SCENARIO turns, bad input (each leaving the server
healthy), tenants, the OpenAPI schema, readiness and /metrics counts."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.server import Service

QUESTIONS_ZH = (
    "肺部是否有异常?",
    "右肺中叶那个圆形影,边缘是否规则?",
    "这个病灶距离右肺门有多远?是否与肺门结构相连?",
    "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?",
)
TURN_KEYS = {"turn", "intent", "lang", "query", "answer", "anchors", "referenced_anchor_ids", "findings",
             "measurements", "checklist", "overlays", "clarification"}
MB = 1024 * 1024


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def enormous_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny file whose header claims width x height 8-bit grey pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
    return total


@pytest.fixture()
def client(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=120) as c:
        yield c


def assert_healthy(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def create(client: httpx.Client, film: Path, lang: str = "zh", **headers: str) -> dict:
    with film.open("rb") as fh:
        r = client.post("/v1/sessions", files={"file": (film.name, fh, "image/png")}, data={"lang": lang},
                        headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_four_turns_and_session(client: httpx.Client, phantom_dir: Path) -> None:
    session = create(client, phantom_dir / "image.png")
    sid = session["session_id"]
    assert session["turns"][0]["intent"] == "screen" and set(session["turns"][0]) >= TURN_KEYS
    assert session["image"]["size"] == [512, 512]
    turns = []
    for q in QUESTIONS_ZH:
        r = client.post(f"/v1/sessions/{sid}/turns", json={"question": q})
        assert r.status_code == 200, r.text
        turns.append(r.json())
    assert [t["turn"] for t in turns] == [2, 3, 4, 5]
    assert [t["intent"] for t in turns] == ["screen", "describe_margin", "measure_relation", "sign_checklist"]
    assert all(set(t) >= TURN_KEYS and t["answer"]["text"] for t in turns)
    assert turns[1]["query"]["side"] == "right" and turns[1]["query"]["lobe"] == "RML"

    full = client.get(f"/v1/sessions/{sid}").json()
    assert [t["turn"] for t in full["turns"]] == [1, 2, 3, 4, 5]
    assert full["turns"][1:] == turns  # what was answered is what the session holds
    png = client.get(f"/v1/sessions/{sid}/image.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    heat = [o for o in full["turns"][0]["overlays"] if o["type"] == "heatmap"]
    assert len(heat) == 1 and "data:image" not in json.dumps(full)  # named, not carried in the answers
    heatmap = client.get(f"/v1/sessions/{sid}/{heat[0]['resource']}")
    assert heatmap.status_code == 200 and heatmap.content.startswith(b"\x89PNG")
    assert client.get(f"/v1/sessions/{sid}/heatmap.png", headers={"X-Hilum-Tenant": "someone-else"}).status_code == 404
    report = client.get(f"/v1/sessions/{sid}/report")
    assert report.status_code == 200 and report.json()["session_id"] == sid

    streamed = client.post(f"/v1/sessions/{sid}/turns/stream", json={"question": "How big is it?"})
    assert streamed.status_code == 200
    events = [httpx.Response(200, content=line).json() for line in streamed.text.splitlines() if line]
    assert events[0] == {"kind": "stage", "stage": "parse"}
    assert any(e["kind"] == "text" for e in events) and events[-1]["kind"] == "turn"
    assert events[-1]["turn"]["turn"] == 6

    assert client.delete(f"/v1/sessions/{sid}").json() == {"session_id": sid, "closed": True}
    assert client.get(f"/v1/sessions/{sid}").status_code == 404


def test_dicom_upload_uses_its_spacing(client: httpx.Client, phantom_dir: Path) -> None:
    with (phantom_dir / "image.dcm").open("rb") as fh:
        r = client.post("/v1/sessions", files={"file": ("image.dcm", fh, "application/dicom")})
    assert r.status_code == 201, r.text
    assert r.json()["image"]["spacing_source"] == "dicom"


def test_non_image_is_415_with_a_message(client: httpx.Client) -> None:
    r = client.post("/v1/sessions", files={"file": ("notes.txt", b"this is not a radiograph", "text/plain")})
    assert r.status_code == 415
    assert r.json()["error"]["kind"] == "unsupported_media" and r.json()["error"]["message"]
    assert_healthy(client)


def test_what_is_not_a_chest_film_is_422_in_the_users_language(client: httpx.Client, phantom_dir: Path) -> None:
    import numpy as np

    from loadtests.film_corpus import png_bytes
    from orchestrator.film_gate import REFUSALS

    rng = np.random.default_rng(4)
    noise = png_bytes(rng.random((256, 256)).astype(np.float32))
    for lang, expected in (("zh", REFUSALS["not_chest"][0]), ("en", REFUSALS["not_chest"][1])):
        r = client.post("/v1/sessions", files={"file": ("noise.png", noise, "image/png")}, data={"lang": lang})
        assert r.status_code == 422
        assert r.json()["error"]["kind"] == "not_a_chest_film" and r.json()["error"]["message"] == expected
    from PIL import Image

    turned = np.asarray(Image.open(phantom_dir / "image.png")).T.copy()  # the chest film, turned a quarter
    r = client.post("/v1/sessions", files={"file": ("t.png", png_bytes(turned), "image/png")}, data={"lang": "en"})
    assert r.status_code == 422 and "90 degrees" in r.json()["error"]["message"]
    session = create(client, phantom_dir / "image.png", lang="en")
    screen = session["turns"][0]
    assert screen["film_check"] == {"is_chest": True, "view": "frontal", "orientation": "upright",
                                    "anatomy_plausible": True, "warnings": []}
    assert_healthy(client)


def test_enormous_dimensions_rejected_before_decoding(client: httpx.Client) -> None:
    r = client.post("/v1/sessions", files={"file": ("bomb.png", enormous_png(), "image/png")})
    assert r.status_code in (413, 422)
    assert "pixels" in r.json()["error"]["message"]
    assert_healthy(client)


class Counted:
    """A 200 MB multipart body made on the fly; counts what the client actually pulled."""

    def __init__(self, total: int = 200 * MB, chunk: int = MB) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0
        self.boundary = "hilumtestboundary"
        self.head = (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
                     "Content-Type: image/png\r\n\r\n").encode() + b"\x89PNG\r\n\x1a\n"
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def length(self) -> int:
        return len(self.head) + self.total + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        block = b"\0" * self.chunk
        while self.pulled < self.total:
            self.pulled += self.chunk
            yield block
        yield self.tail


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_200_mb_upload_is_413_without_buffering(client: httpx.Client, service: Service, declared: bool) -> None:
    body = Counted()
    headers = {"Content-Type": f"multipart/form-data; boundary={body.boundary}"}
    if declared:
        headers["Content-Length"] = str(body.length)
    r = client.post("/v1/sessions", content=iter(body), headers=headers)
    assert r.status_code == 413
    assert r.json()["error"]["kind"] == "too_large"
    limit = service.services.settings.max_upload_bytes
    # the server stopped reading near the limit: the 200 MB were never all sent, let alone held
    assert body.pulled < min(body.total, limit + 32 * MB)
    if declared:
        assert body.pulled < 32 * MB  # refused on the header, before the body
    assert_healthy(client)


def test_unknown_session_empty_question_other_tenant(client: httpx.Client, phantom_dir: Path) -> None:
    r = client.post("/v1/sessions/does-not-exist/turns", json={"question": "Is it round?"})
    assert r.status_code == 404 and r.json()["error"]["kind"] == "session_not_found"
    sid = create(client, phantom_dir / "image.png", lang="en", **{"X-Hilum-Tenant": "clinic-a"})["session_id"]
    for empty in ("", "   "):
        r = client.post(f"/v1/sessions/{sid}/turns", json={"question": empty}, headers={"X-Hilum-Tenant": "clinic-a"})
        assert r.status_code == 422 and r.json()["error"]["message"]
    assert client.post(f"/v1/sessions/{sid}/turns", content=b"{not json",
                       headers={"Content-Type": "application/json"}).status_code == 422
    r = client.get(f"/v1/sessions/{sid}", headers={"X-Hilum-Tenant": "clinic-b"})
    assert r.status_code == 404 and r.json()["error"]["kind"] == "session_not_found"  # never confirmed
    assert client.get(f"/v1/sessions/{sid}").status_code == 404  # the default tenant is another tenant
    ok = client.post(f"/v1/sessions/{sid}/turns", json={"question": "Is there anything abnormal in the lungs?"},
                     headers={"X-Hilum-Tenant": "clinic-a"})
    assert ok.status_code == 200  # the session survived every bad request
    assert_healthy(client)


def test_openapi_and_page(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/v1/sessions", "/v1/sessions/{session_id}/turns", "/v1/sessions/{session_id}",
                 "/v1/sessions/{session_id}/report", "/healthz", "/readyz"):
        assert path in schema["paths"], path
    assert "Turn" in schema["components"]["schemas"]
    examples = client.get("/v1/examples").json()
    assert examples and all(e["image_url"] == f"/v1/examples/{e['seed']}.png" for e in examples)
    assert client.get("/v1/examples/999999.png").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and "Hilum" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_readiness_flips_while_draining(client: httpx.Client, service: Service) -> None:
    readiness = service.services.readiness
    assert client.get("/readyz").json()["detail"]["encoder_ready"] is True
    readiness.draining.set()
    try:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["detail"]["draining"] is True
        assert client.get("/healthz").status_code == 200
    finally:
        readiness.draining.clear()


def test_metrics_after_four_turns(phantom_dir: Path) -> None:
    """A fresh service, so every count below is exactly this session's."""
    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    with Service(build_services(Settings()), "127.0.0.1", 0, 0) as svc, \
            httpx.Client(base_url=svc.url, timeout=120) as c:
        svc.wait_ready()
        before = c.get("/metrics").text
        session = create(c, phantom_dir / "image.png")
        sid, screening = session["session_id"], session["turns"][0]
        intents = [c.post(f"/v1/sessions/{sid}/turns", json={"question": q}).json()["intent"] for q in QUESTIONS_ZH]
        assert c.post("/v1/sessions/nope/turns", json={"question": "x"}).status_code == 404
        text = c.get("/metrics").text

    turns_ep = "POST /v1/sessions/{session_id}/turns"
    assert metric(text, "hilum_requests_total", transport="http", endpoint=turns_ep, status="200") == 4
    assert metric(text, "hilum_requests_total", transport="http", endpoint="POST /v1/sessions", status="201") == 1
    assert metric(text, "hilum_requests_total", transport="http", endpoint=turns_ep, status="404") == 1
    assert metric(text, "hilum_request_seconds_count", transport="http", endpoint=turns_ep) == 5
    for intent in set(intents):
        # the screening turn made at upload may be counted too
        expected = {intents.count(intent)} | ({intents.count(intent) + 1} if intent == "screen" else set())
        assert metric(text, "hilum_turns_total", intent=intent) in expected, intent
        assert metric(text, "hilum_turn_seconds_count", intent=intent) in expected, intent
    for stage in ("decode", "encode", "findings"):
        assert metric(text, "hilum_stage_seconds_count", stage=stage) == 1, stage
    for stage in ("compose", "narrate"):
        assert metric(text, "hilum_stage_seconds_count", stage=stage) == 5, stage  # screening + 4 turns
    # one resolution per turn that needs a subject (turns 3-5 here); screening resolves nothing
    from orchestrator.dialogue.engine import NEEDS_SUBJECT

    resolving = sum(1 for i in intents if i in NEEDS_SUBJECT or i == "sign_checklist")
    assert resolving == 3
    assert metric(text, "hilum_anchor_resolutions_total") == resolving
    outcomes = {o: metric(text, "hilum_anchor_resolutions_total", outcome=o) for o in ("resolved", "ambiguous", "none")}
    assert sum(outcomes.values()) == resolving
    if screening["findings"]:  # "that round opacity" binds to the screened lesion
        assert outcomes["resolved"] >= 1
    else:  # nothing was found, so nothing can be bound
        assert outcomes["none"] == resolving
    assert metric(text, "hilum_sessions_active") == 1
    assert metric(text, "hilum_errors_total", kind="session_not_found") == 1
    # the one film, read from the encoder's maps; every outcome exported from the start
    assert metric(text, "hilum_films_total", outcome="read") - metric(before, "hilum_films_total", outcome="read") == 1
    assert all(f'hilum_films_total{{outcome="{o}"}}' in before for o in ("read", "read_alone", "withheld", "refused"))
    # one encoder pass for the whole session: follow-ups read cached maps
    assert metric(text, "hilum_encoder_films_total") - metric(before, "hilum_encoder_films_total") == 1
    assert metric(text, "hilum_encoder_request_seconds_count") == 1
    assert "hilum_encoder_batch_size" in text and "hilum_encoder_queue_seconds" in text
    # the embedded encoder reports its batches: the session's one film is in the batch-size histogram
    assert metric(text, "hilum_encoder_batch_size_sum") - metric(before, "hilum_encoder_batch_size_sum") == 1
    assert metric(text, "hilum_encoder_queue_seconds_count") >= 1
    assert "hilum_encoder_pending " in text and metric(text, "hilum_encoder_pending") == 0  # all answered


def test_not_ready_until_the_encoder_answers() -> None:
    """``--encoder triton://`` with no Triton there: alive, but not ready (and no session is lost)."""
    import socket

    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]
    settings = Settings(encoder=f"triton://127.0.0.1:{nobody}", encoder_timeout_s=2.0)
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc, httpx.Client(base_url=svc.url) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["detail"]["encoder"] == "triton"
        assert r.json()["detail"]["encoder_ready"] is False


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_json_body_larger_than_any_question_is_413_before_it_is_parsed(client: httpx.Client, phantom_dir: Path,
                                                                         declared: bool) -> None:
    """A 50 MB JSON turn was parsed on the event loop (health stalled 4 s, 1.1 GB): every body but an upload is a small
    JSON object, and a larger one is refused unread; the session and an ordinary turn are unharmed."""
    sid = create(client, phantom_dir / "image.png", lang="en")["session_id"]
    padded = b'{"question": "A1", "pad": [' + b"0," * 600_000 + b"0]}"
    headers = {"Content-Type": "application/json"}
    content: bytes | Iterator[bytes] = padded if declared else iter([padded[i:i + 65536]
                                                                      for i in range(0, len(padded), 65536)])
    r = client.post(f"/v1/sessions/{sid}/turns", content=content, headers=headers)
    assert r.status_code == 413 and r.json()["error"]["kind"] == "too_large"
    assert "anything but an upload" in r.json()["error"]["message"]
    ok = client.post(f"/v1/sessions/{sid}/turns", json={"question": "Is there anything abnormal in the lungs?"})
    assert ok.status_code == 200 and ok.json()["turn"] == 2
    assert_healthy(client)


def test_a_language_hilum_does_not_answer_in_is_refused_and_a_tag_is_read_by_its_first_part(
        client: httpx.Client, phantom_dir: Path) -> None:
    """lang=fr was accepted and answered in English while GET .../turns/n?lang=fr was 422: both refuse it now; a
    browser's tag (zh-CN, en-GB) is its language."""
    with (phantom_dir / "image.png").open("rb") as fh:
        r = client.post("/v1/sessions", files={"file": ("image.png", fh, "image/png")}, data={"lang": "fr"})
    assert r.status_code == 422 and r.json()["error"]["kind"] == "unsupported_language"
    assert "fr" not in r.json()["error"]["message"].replace("from", "")
    assert create(client, phantom_dir / "image.png", lang="zh-CN")["turns"][0]["lang"] == "zh"
    sid = create(client, phantom_dir / "image.png", lang="en-GB")["session_id"]
    assert client.get(f"/v1/sessions/{sid}/report", params={"lang": "zh"}).json()["turns"][0]["lang"] == "zh"
    assert client.get(f"/v1/sessions/{sid}/report", params={"lang": "fr"}).status_code == 422


def test_a_film_sent_as_a_text_field_is_told_so_in_the_callers_terms(client: httpx.Client) -> None:
    r = client.post("/v1/sessions", data={"file": "hello"})
    assert r.status_code == 422 and r.json()["error"]["kind"] == "invalid_request"
    message = r.json()["error"]["message"]
    assert "a file is expected here" in message and "<class" not in message and "hello" not in message
