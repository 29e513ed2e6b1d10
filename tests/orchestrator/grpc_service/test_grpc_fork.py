"""gRPC ``Fork`` (edit and re-run) against a real server: the same as REST's ``POST .../fork`` —
turns before n identical, no encoder call, the original unchanged, the two then diverge; NOT_FOUND
for an unknown or another tenant's session, INVALID_ARGUMENT for a turn out of range."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from orchestrator.grpc_service.convert import session_from_proto, turn_from_proto
from orchestrator.grpc_service.proto import dialog_pb2 as pb
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.server import Service

QUESTIONS_EN = (
    "Is the margin of the round opacity in the right middle lobe regular?",
    "How far is this lesion from the right hilum?",
    "If this were early lung cancer, which typical signs would it show, and how many does this film match?",
)
NEW_QUESTION = "How large is the strand in the left lower lobe?"


@pytest.fixture(scope="module")
def stub(service: Service) -> Iterator[pb_grpc.DialogStub]:
    with grpc.insecure_channel(service.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield pb_grpc.DialogStub(ch)


@pytest.fixture(scope="module")
def session(stub: pb_grpc.DialogStub, phantom_dir: Path) -> dict[str, Any]:
    created = stub.CreateSession(pb.CreateSessionRequest(image=(phantom_dir / "image.png").read_bytes(),
                                                         filename="film.png", lang="en"), timeout=180)
    for q in QUESTIONS_EN:
        stub.Ask(pb.AskRequest(session_id=created.session_id, question=q), timeout=60)
    return {"session_id": created.session_id, "frame": session_from_proto(created)["frame"]}


def _turns(service: Service, sid: str, tenant: str = "default") -> list[dict[str, Any]]:
    r = httpx.get(f"{service.url}/v1/sessions/{sid}", headers={"X-Hilum-Tenant": tenant}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["turns"]


def _code(call: Any, *args: Any, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value.code(), info.value.details()


def test_grpc_fork_keeps_turns_before_n_without_the_encoder(service: Service, stub: pb_grpc.DialogStub,
                                                            session: dict[str, Any]) -> None:
    sid = session["session_id"]
    original = _turns(service, sid)
    calls = service.services.encoder.calls
    forked = stub.Fork(pb.ForkRequest(session_id=sid, turn=3, question=NEW_QUESTION), timeout=60)
    assert service.services.encoder.calls == calls, "a fork ran the encoder"
    d = session_from_proto(forked)
    assert d["session_id"] != sid and d["forked_from"] == {"session_id": sid, "turn": 3}
    assert d["frame"] == session["frame"] and d["frame"] is not None
    assert [t["turn"] for t in d["turns"]] == [1, 2, 3]
    rest_view = _turns(service, d["session_id"])  # the same fork read over REST
    assert rest_view[:2] == original[:2]
    assert [turn_from_proto(t)["answer"]["text"] for t in forked.turns] == [t["answer"]["text"] for t in rest_view]
    assert rest_view[2]["answer"]["text"] != original[2]["answer"]["text"]
    assert _turns(service, sid) == original, "the original changed"

    # the two diverge independently
    stub.Ask(pb.AskRequest(session_id=d["session_id"], question="Is it calcified?"), timeout=60)
    assert len(_turns(service, sid)) == 4 and len(_turns(service, d["session_id"])) == 4
    stub.Ask(pb.AskRequest(session_id=sid, question="Where is the right hilum?"), timeout=60)
    a, b = _turns(service, sid), _turns(service, d["session_id"])
    assert a[:4] == original and b[:2] == original[:2] and a[4]["query"] != b[3]["query"]
    assert service.services.encoder.calls == calls
    stub.CloseSession(pb.SessionRef(session_id=d["session_id"]), timeout=30)


@pytest.mark.parametrize("turn", [1, 0, -4, 88])
def test_grpc_fork_out_of_range_is_invalid_argument(stub: pb_grpc.DialogStub, session: dict[str, Any],
                                                    turn: int) -> None:
    code, details = _code(stub.Fork, pb.ForkRequest(session_id=session["session_id"], turn=turn,
                                                    question=NEW_QUESTION), timeout=30)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert NEW_QUESTION not in details and "88" not in details


def test_grpc_fork_of_an_unknown_or_another_tenants_session_is_not_found(stub: pb_grpc.DialogStub,
                                                                         session: dict[str, Any]) -> None:
    code, _ = _code(stub.Fork, pb.ForkRequest(session_id="0123456789abcdef", turn=2, question=NEW_QUESTION),
                    timeout=30)
    assert code == grpc.StatusCode.NOT_FOUND
    code, details = _code(stub.Fork, pb.ForkRequest(session_id=session["session_id"], turn=2, question=NEW_QUESTION),
                          timeout=30, metadata=(("x-hilum-tenant", "another-clinic"),))
    assert code == grpc.StatusCode.NOT_FOUND and session["session_id"] not in details
    code, _ = _code(stub.Fork, pb.ForkRequest(session_id=session["session_id"], turn=2, question=""), timeout=30)
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_grpc_made_session_and_its_fork_reference_the_uploaded_dicom(service: Service, stub: pb_grpc.DialogStub,
                                                                        phantom_dir: Path) -> None:
    """The session keeps its source record, so a DICOM uploaded over gRPC (no REST wrapper saw it)
    gets DICOM results that reference it — and so does a fork of it (the same film)."""
    import io

    import pydicom

    data = (phantom_dir / "image.dcm").read_bytes()
    up = pydicom.dcmread(io.BytesIO(data))
    created = stub.CreateSession(pb.CreateSessionRequest(image=data, filename="film.dcm", lang="en"), timeout=180)
    assert str(up.PatientID) not in str(created)  # the source record never travels in an answer
    stub.Ask(pb.AskRequest(session_id=created.session_id, question=QUESTIONS_EN[0]), timeout=60)
    fork = stub.Fork(pb.ForkRequest(session_id=created.session_id, turn=2, question=NEW_QUESTION), timeout=60)
    for sid in (created.session_id, fork.session_id):
        r = httpx.get(f"{service.url}/v1/sessions/{sid}/dicom/sr", timeout=120)
        assert r.status_code == 200, r.text
        assert r.headers["x-hilum-source-image"] == "dicom-upload"
        sr = pydicom.dcmread(io.BytesIO(r.content))
        assert sr.StudyInstanceUID == up.StudyInstanceUID
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == up.SOPInstanceUID
        stub.CloseSession(pb.SessionRef(session_id=sid), timeout=30)


def test_grpc_get_turn_composes_an_answered_turn_in_the_other_language(service: Service, stub: pb_grpc.DialogStub,
                                                                        session: dict[str, Any]) -> None:
    """``GetTurn``: REST's ``GET .../turns/{n}?lang=`` — an English turn composed again in Chinese, the same
    anchors, nothing stored; INVALID_ARGUMENT for a turn not answered or another language."""
    import re

    sid = session["session_id"]
    original = _turns(service, sid)
    zh = turn_from_proto(stub.GetTurn(pb.GetTurnRequest(session_id=sid, turn=2, lang="zh"), timeout=60))
    assert (zh["turn"], zh["intent"], zh["lang"]) == (2, original[1]["intent"], "zh")
    assert [a["id"] for a in zh["anchors"]] == [a["id"] for a in original[1]["anchors"]]
    assert re.search(r"[\u4e00-\u9fff]", zh["answer"]["text"]) and zh["answer"]["text"] != original[1]["answer"]["text"]
    rest = httpx.get(f"{service.url}/v1/sessions/{sid}/turns/2", params={"lang": "zh"}, timeout=60).json()
    assert rest["answer"] == zh["answer"]
    assert _turns(service, sid) == original
    for turn, lang in ((0, "zh"), (99, "zh"), (2, "fr")):
        code, details = _code(stub.GetTurn, pb.GetTurnRequest(session_id=sid, turn=turn, lang=lang), timeout=30)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "99" not in details and "fr" not in details
