"""What a security probe found, over gRPC against a real server: a question with control characters is
INVALID_ARGUMENT ``invalid_question`` (never echoed, nothing stored); two ``authorization`` metadata entries are
UNAUTHENTICATED, never answered with one of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from orchestrator.grpc_service.proto import dialog_pb2 as pb
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.server import Service

QUESTION = "Is there anything abnormal in the lungs?"
SECRET = "PATIENT-7f3a"


def rpc_error(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        result = call(*args, **kwargs)
        if not isinstance(result, pb.Turn | pb.Session):
            list(result)  # a stream
    return info.value


@pytest.fixture(scope="module")
def stub(service: Service) -> Iterator[pb_grpc.DialogStub]:
    with grpc.insecure_channel(service.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield pb_grpc.DialogStub(ch)


@pytest.mark.parametrize("bad", ["\u0007", "\u0000", "\u001b[2J", "\u007f", "\u009b"])
def test_a_question_with_a_control_character_is_invalid_argument(stub: pb_grpc.DialogStub, phantom_dir: Path,
                                                                 bad: str) -> None:
    film = (phantom_dir / "image.png").read_bytes()
    sid = stub.CreateSession(pb.CreateSessionRequest(image=film, lang="en")).session_id
    assert stub.Ask(pb.AskRequest(session_id=sid, question=QUESTION)).turn == 2
    question = f"Is {SECRET} {bad}abnormal?"
    for call, request in ((stub.Ask, pb.AskRequest(session_id=sid, question=question)),
                          (stub.StreamAsk, pb.AskRequest(session_id=sid, question=question)),
                          (stub.Fork, pb.ForkRequest(session_id=sid, turn=2, question=question))):
        err = rpc_error(call, request)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, call
        assert dict(err.trailing_metadata())["hilum-error-kind"] == "invalid_question"
        assert "control characters" in err.details()
        assert SECRET not in err.details() and bad not in err.details()
    assert stub.Ask(pb.AskRequest(session_id=sid, question="Is it\tround?\r\n")).turn == 3  # nothing stored before
    stub.CloseSession(pb.SessionRef(session_id=sid))


@pytest.fixture(scope="module")
def keyed_stub(keyed_service: Service) -> Iterator[pb_grpc.DialogStub]:
    with grpc.insecure_channel(keyed_service.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield pb_grpc.DialogStub(ch)


def test_two_authorization_entries_are_unauthenticated(keyed_stub: pb_grpc.DialogStub, api_keys: dict[str, str],
                                                       phantom_dir: Path) -> None:
    film = (phantom_dir / "image.png").read_bytes()
    alice, bob = ("authorization", f"Bearer {api_keys['alice']}"), ("authorization", f"Bearer {api_keys['bob']}")
    sid = keyed_stub.CreateSession(pb.CreateSessionRequest(image=film, lang="en"), metadata=(alice,)).session_id
    ask = pb.AskRequest(session_id=sid, question=QUESTION)
    for metadata in ((alice, bob), (bob, alice), (alice, alice), (("authorization", "Bearer not-a-key"), alice)):
        for call, request in ((keyed_stub.Ask, ask), (keyed_stub.StreamAsk, ask),
                              (keyed_stub.GetReport, pb.SessionRef(session_id=sid)),
                              (keyed_stub.CreateSession, pb.CreateSessionRequest(image=film, lang="en"))):
            err = rpc_error(call, request, metadata=metadata)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED, (call, metadata)
            assert dict(err.trailing_metadata())["hilum-error-kind"] == "unauthenticated"
            assert "more than one" in err.details()
            assert api_keys["alice"] not in err.details() and api_keys["bob"] not in err.details()
    assert keyed_stub.Ask(ask, metadata=(alice,)).turn == 2  # none of the refused turns was stored
    assert keyed_stub.CloseSession(pb.SessionRef(session_id=sid), metadata=(alice,)).closed
