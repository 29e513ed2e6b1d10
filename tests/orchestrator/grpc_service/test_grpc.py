"""gRPC (hilum.v1.Dialog) against a real server: the four SCENARIO turns equal REST's, streaming,
reports, and every bad input mapped to its status code while the server stays healthy."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from orchestrator.grpc_service.convert import from_struct, session_from_proto, turn_from_proto
from orchestrator.grpc_service.proto import dialog_pb2 as pb
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.grpc_service.server import build_grpc_server
from orchestrator.server import Service

QUESTIONS_ZH = (
    "肺部是否有异常?",
    "右肺中叶那个圆形影,边缘是否规则?",
    "这个病灶距离右肺门有多远?是否与肺门结构相连?",
    "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?",
)
VOLATILE = ("timings",)  # wall-clock seconds differ between any two runs


def stable(turn: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in turn.items() if k not in VOLATILE}


def enormous_png(width: int = 100_000, height: int = 100_000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def channel(service: Service) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(service.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> pb_grpc.DialogStub:
    return pb_grpc.DialogStub(channel)


def code_of(call: Any, *args: Any, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        result = call(*args, **kwargs)
        if hasattr(result, "__iter__") and not isinstance(result, bytes | pb.Turn | pb.Session):
            list(result)
    return info.value.code(), info.value.details()


def test_four_turns_same_over_rest_and_grpc(service: Service, stub: pb_grpc.DialogStub, phantom_dir: Path) -> None:
    film = (phantom_dir / "image.png").read_bytes()
    session = session_from_proto(stub.CreateSession(pb.CreateSessionRequest(image=film, filename="image.png", lang="zh")))
    grpc_turns = [turn_from_proto(stub.Ask(pb.AskRequest(session_id=session["session_id"], question=q)))
                  for q in QUESTIONS_ZH]
    with httpx.Client(base_url=service.url, timeout=120) as http:
        rest_session = http.post("/v1/sessions", files={"file": ("image.png", film, "image/png")},
                                 data={"lang": "zh"}).json()
        rest_turns = [http.post(f"/v1/sessions/{rest_session['session_id']}/turns", json={"question": q}).json()
                      for q in QUESTIONS_ZH]
    assert stable(session["turns"][0]) == stable(rest_session["turns"][0])
    assert [stable(t) for t in grpc_turns] == [stable(t) for t in rest_turns]
    assert [t["intent"] for t in grpc_turns] == ["screen", "describe_margin", "measure_relation", "sign_checklist"]
    assert session["image"] == rest_session["image"]
    assert session["anchors"] == rest_session["anchors"]

    report = stub.GetReport(pb.SessionRef(session_id=session["session_id"]))
    assert from_struct(report.report)["session_id"] == session["session_id"]
    # the report in one language, as REST's ?lang= gives it; a language Hilum does not answer in is refused
    english = from_struct(stub.GetReport(pb.SessionRef(session_id=session["session_id"], lang="en")).report)
    assert english["lang"] == "en" and {t["lang"] for t in english["turns"]} == {"en"}
    assert code_of(stub.GetReport, pb.SessionRef(session_id=session["session_id"], lang="fr"))[0] == \
        grpc.StatusCode.INVALID_ARGUMENT
    closed = stub.CloseSession(pb.SessionRef(session_id=session["session_id"]))
    assert closed.closed
    assert code_of(stub.Ask, pb.AskRequest(session_id=session["session_id"], question="还在吗?"))[0] == \
        grpc.StatusCode.NOT_FOUND


def test_stream_ask_stages_text_then_turn(stub: pb_grpc.DialogStub, phantom_dir: Path) -> None:
    film = (phantom_dir / "image.png").read_bytes()
    sid = stub.CreateSession(pb.CreateSessionRequest(image=film, lang="en")).session_id
    events = list(stub.StreamAsk(pb.AskRequest(session_id=sid, question="Is there anything abnormal in the lungs?")))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "stage" and "text" in kinds and kinds[-1] == "turn"
    turn = turn_from_proto(events[-1].turn)
    assert turn["turn"] == 2 and turn["intent"] == "screen"
    assert "".join(e.text for e in events if e.WhichOneof("event") == "text") == turn["answer"]["text"]


def test_not_a_chest_film_is_invalid_argument_with_its_kind(stub: pb_grpc.DialogStub) -> None:
    import numpy as np

    from loadtests.film_corpus import colour_photo, png_bytes
    from orchestrator.film_gate import REFUSALS

    photo = png_bytes(colour_photo(np.random.default_rng(2), 256))
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateSession(pb.CreateSessionRequest(image=photo, filename="house.png", lang="zh"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == REFUSALS["colour"][0]
    assert dict(info.value.trailing_metadata())["hilum-error-kind"] == "not_a_chest_film"


def test_bad_input_status_codes(service: Service, stub: pb_grpc.DialogStub, phantom_dir: Path) -> None:
    code, message = code_of(stub.CreateSession, pb.CreateSessionRequest(image=b"plain text, not a film"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message
    assert code_of(stub.CreateSession, pb.CreateSessionRequest(image=enormous_png()))[0] in (
        grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT)
    assert code_of(stub.Ask, pb.AskRequest(session_id="nope", question="Is it round?"))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(stub.GetReport, pb.SessionRef(session_id="nope"))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(stub.StreamAsk, pb.AskRequest(session_id="nope", question="x"))[0] == grpc.StatusCode.NOT_FOUND

    film = (phantom_dir / "image.png").read_bytes()
    tenant_a = (("x-hilum-tenant", "clinic-a"),)
    sid = stub.CreateSession(pb.CreateSessionRequest(image=film, lang="en"), metadata=tenant_a).session_id
    for empty in ("", "  "):
        assert code_of(stub.Ask, pb.AskRequest(session_id=sid, question=empty), metadata=tenant_a)[0] == \
            grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(stub.Ask, pb.AskRequest(session_id=sid, question="Is it round?"))[0] == \
        grpc.StatusCode.NOT_FOUND  # another tenant's session is never confirmed
    turn = stub.Ask(pb.AskRequest(session_id=sid, question="Is there anything abnormal in the lungs?"), metadata=tenant_a)
    assert turn.turn == 2  # the session survived
    with httpx.Client(base_url=service.url) as http:
        assert http.get("/healthz").status_code == 200 and http.get("/readyz").status_code == 200


def test_oversized_message_is_resource_exhausted(service: Service) -> None:
    """A film over ``max_upload_bytes`` is refused by gRPC itself, before the engine sees it."""
    s = service.services
    small = s.settings.model_copy(update={"max_upload_bytes": 1024 * 1024})
    server, port = build_grpc_server(small, s.engine, s.metrics, host="127.0.0.1", port=0)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.DialogStub(ch)
            big = b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024)
            assert code_of(stub.CreateSession, pb.CreateSessionRequest(image=big))[0] == \
                grpc.StatusCode.RESOURCE_EXHAUSTED
            assert code_of(stub.Ask, pb.AskRequest(session_id="nope", question="x"))[0] == grpc.StatusCode.NOT_FOUND
    finally:
        server.stop(grace=None)


def test_grpc_requests_are_counted(service: Service, stub: pb_grpc.DialogStub) -> None:
    code_of(stub.Ask, pb.AskRequest(session_id="nope", question="x"))
    text = service.services.metrics.render().decode()
    assert 'hilum_requests_total{endpoint="Ask",status="NOT_FOUND",transport="grpc"}' in text
