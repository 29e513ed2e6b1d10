"""The narrator's server goes down mid-session (issue 23, "faults survived"): a real ``hilum`` service
(REST and gRPC, embedded encoder) narrates through a vLLM stand-in (``RecordingOpenAIServerDouble``,
a real HTTP server; it is not vLLM), which is then stopped. Every later turn, plain, streamed and
over gRPC, is still answered, by the composer, saying why the language model was not used; no turn
is lost or numbered twice, and nothing waits past the narrator's deadline for ever."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from orchestrator.grpc_service.proto import dialog_pb2 as pb
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.server import Service, build_services
from orchestrator.settings import Settings

QUESTIONS = ("How big is the right middle lobe nodule?", "Is its margin regular?",
             "How far is it from the right hilum?")


@pytest.fixture()
def narrated(openai_double: Callable[..., Any]) -> Iterator[tuple[Service, Any]]:
    double = openai_double(mode="ok")
    settings = Settings(host="127.0.0.1", llm_urls=[double.url], llm_deadline_s=3.0, llm_max_attempts=2,
                        llm_connect_timeout_s=0.5, llm_backoff_s=0.05)
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc:
        svc.wait_ready()
        yield svc, double


def test_turns_fall_back_to_the_composer_when_the_narrator_goes_down(narrated: tuple[Service, Any],
                                                                   phantom_dir: Path) -> None:
    svc, double = narrated
    with httpx.Client(base_url=svc.url, timeout=60) as http:
        with (phantom_dir / "image.png").open("rb") as fh:
            created = http.post("/v1/sessions", files={"file": ("film.png", fh, "image/png")}, data={"lang": "en"})
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]
        up = http.post(f"/v1/sessions/{sid}/turns", json={"question": QUESTIONS[0]})
        assert up.status_code == 200 and double.requests  # the narrator was called while it was up

        double.stop()  # the language model's server goes away mid-session

        plain = http.post(f"/v1/sessions/{sid}/turns", json={"question": QUESTIONS[1]})
        assert plain.status_code == 200, plain.text
        streamed = http.post(f"/v1/sessions/{sid}/turns/stream", json={"question": QUESTIONS[2]})
        assert streamed.status_code == 200
        events = [json.loads(line) for line in streamed.text.splitlines() if line]
        assert events[-1]["kind"] == "turn", events[-1]
        answers = [plain.json(), events[-1]["turn"]]

    with grpc.insecure_channel(svc.grpc_target) as channel:
        turn = pb_grpc.DialogStub(channel).Ask(pb.AskRequest(session_id=sid, question=QUESTIONS[0]), timeout=60)
    assert turn.turn == 5 and turn.answer.text

    for answer in answers:
        assert answer["narration"]["source"] == "composer"
        assert answer["narration"]["fallback_reason"]  # says why the language model was not used
        assert answer["answer"]["text"]
    with httpx.Client(base_url=svc.url, timeout=60) as http:
        stored = http.get(f"/v1/sessions/{sid}").json()
    assert [t["turn"] for t in stored["turns"]] == [1, 2, 3, 4, 5]  # nothing lost, nothing twice
