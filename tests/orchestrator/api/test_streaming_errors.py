"""Streamed errors carry their kind (issue 26): an error after the streamed answer has started arrives
as the stream's last line with the same ``kind`` and message the JSON error body of the plain route
would have (``orchestrator/api/errors.py``'s mapping), and never echoes the question.

A real uvicorn server on loopback serves the real app over a real ``DialogueEngine``; what fails is
a session store whose ``commit`` refuses (``CommitRefusingStoreDouble``: the in-process store with
one method made to fail as Redis or a faster replica would) or a narrator whose stream breaks
(``BreakingNarratorDouble``), both named as the doubles they are.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from orchestrator.api.app import create_app
from orchestrator.dialogue.anchors import Registry
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.session import CHANGED_MESSAGE, InMemorySessionStore, TurnRecord
from orchestrator.errors import SessionBusyError, StoreUnavailableError
from orchestrator.facts import AnatomyFacts, AnatomyRegion, CostophrenicAngle, ImageFacts, PixelSpacing
from orchestrator.metrics import ServiceMetrics
from orchestrator.narration.base import ComposerNarrator, NarrationRequest
from orchestrator.session_stores import UNAVAILABLE_MESSAGE
from orchestrator.settings import Settings

MARKER = "QZX-7731-never-echoed"
QUESTION = f"Is there a pleural effusion? {MARKER}"


class NoEncoder:
    name = "none"
    calls = 0

    def encode(self, image: Any) -> Any:
        raise AssertionError("these sessions start from hand-built facts")

    def ready(self) -> bool:
        return True


class CommitRefusingStoreDouble(InMemorySessionStore):
    """The in-process store, except that ``append`` (storing a turn) raises ``error`` while it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None

    def append(self, session_id: str, expected_turns: int, record: TurnRecord, registry: Registry) -> None:
        if self.error is not None:
            raise self.error
        super().append(session_id, expected_turns, record, registry)


class BreakingNarratorDouble(ComposerNarrator):
    """Streams the composer's first sentence, then fails with a message that quotes the question."""

    name = "breaking-double"
    broken = False

    def stream(self, request: NarrationRequest) -> Iterator[str]:
        if not self.broken:
            yield from super().stream(request)
            return
        yield request.composer_text.split("\n")[0]
        raise RuntimeError(f"the narrator choked on {request.question!r}")


def film_facts() -> ImageFacts:
    hila = {"right": (205.0, 230.0), "left": (305.0, 232.0)}
    anatomy = AnatomyFacts(
        regions=(AnatomyRegion("hilum_right", hila["right"], (190.0, 210.0, 220.0, 250.0)),
                 AnatomyRegion("hilum_left", hila["left"], (290.0, 212.0, 320.0, 252.0))),
        hilum_px=hila,
        costophrenic=(CostophrenicAngle("right", (80.0, 420.0), 35.0, "sharp"),
                      CostophrenicAngle("left", (430.0, 425.0), 38.0, "sharp")),
        cardiothoracic_ratio=0.46, heart_width_mm=140.0, thorax_width_mm=300.0,
    )
    return ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.7, 0.7, "dicom"), anatomy=anatomy,
                      findings=(), checked=("effusion", "heart"))


class Served:
    def __init__(self) -> None:
        self.store = CommitRefusingStoreDouble()
        self.narrator = BreakingNarratorDouble()
        self.metrics = ServiceMetrics()
        self.engine = DialogueEngine(NoEncoder(), Settings(), store=self.store,  # type: ignore[arg-type]
                                     narrator=self.narrator, observer=self.metrics)
        app = create_app(Settings(), self.engine, metrics=self.metrics)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="hilum-stream-test", daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def session(self) -> str:
        return self.engine.start_session(film_facts(), lang="en").session_id


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with Served() as s:
        yield s


@pytest.fixture(autouse=True)
def _healthy(served: Served) -> Iterator[None]:
    served.store.error = None
    served.narrator.broken = False
    yield
    served.store.error = None
    served.narrator.broken = False


def stream(served: Served, session_id: str, question: str = QUESTION) -> tuple[int, list[dict[str, Any]]]:
    with httpx.Client(base_url=served.url, timeout=60) as client, \
            client.stream("POST", f"/v1/sessions/{session_id}/turns/stream", json={"question": question}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line.strip()]
        return r.status_code, lines


def plain(served: Served, session_id: str, question: str = QUESTION) -> httpx.Response:
    return httpx.post(f"{served.url}/v1/sessions/{session_id}/turns", json={"question": question}, timeout=60)


def test_a_healthy_stream_ends_with_its_turn_and_no_error(served: Served) -> None:
    status, events = stream(served, served.session())
    assert status == 200
    assert [e["kind"] for e in events][:3] == ["stage", "stage", "stage"]
    assert events[-1]["kind"] == "turn" and all(e["kind"] != "error" for e in events)


@pytest.mark.parametrize(("error", "status", "kind"), [
    (StoreUnavailableError(UNAVAILABLE_MESSAGE), 503, "store_unavailable"),
    (SessionBusyError(CHANGED_MESSAGE), 409, "session_busy"),
])
def test_a_store_refusal_mid_stream_carries_the_json_bodys_kind(served: Served, error: Exception, status: int,
                                                                 kind: str) -> None:
    served.store.error = error
    body = plain(served, served.session())  # the plain route's answer to the same failure
    assert body.status_code == status and body.json()["error"]["kind"] == kind

    code, events = stream(served, served.session())
    assert code == 200  # the stream had started: its status was sent with the first line
    assert [e["kind"] for e in events[:-1]].count("text") >= 1  # the answer had begun
    last = events[-1]
    assert last["kind"] == "error" and all(e["kind"] != "turn" for e in events)
    assert last["error"] == body.json()["error"]  # exactly the JSON error body's envelope
    assert last["error_kind"] == kind and last["message"] == body.json()["error"]["message"]
    assert last["status"] == status and last["retry_after_s"] == int(body.headers["retry-after"])
    assert MARKER not in json.dumps(events[-1])


def test_a_broken_narrator_mid_stream_is_an_internal_error_that_echoes_nothing(served: Served) -> None:
    served.narrator.broken = True
    session = served.session()
    internal = served.metrics.errors.labels("internal")
    before = internal._value.get()
    code, events = stream(served, session)
    assert code == 200 and events[-2]["kind"] == "text"
    assert internal._value.get() == before + 1  # counted once, as the JSON error handler counts it
    assert events[-1] == {"kind": "error", "status": 500, "error_kind": "internal", "message": "internal error",
                          "error": {"kind": "internal", "message": "internal error"}}
    assert MARKER not in json.dumps(events)
    # nothing half-written: the session still holds its screening turn only, and takes the next turn
    assert len(httpx.get(f"{served.url}/v1/sessions/{session}", timeout=30).json()["turns"]) == 1
    served.narrator.broken = False
    assert stream(served, session)[1][-1]["kind"] == "turn"


def test_an_error_before_the_first_event_is_still_an_http_error(served: Served) -> None:
    code, events = stream(served, "no-such-session")
    assert code == 404 and events == [{"error": {"kind": "session_not_found",
                                                 "message": "no such session (it may have expired)"}}]
