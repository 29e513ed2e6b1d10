"""Fixtures for the narrator tests: an OpenAI-compatible recording server (a double for vLLM,
which cannot run here) and hand-built turn facts of the four-turn scenario (docs/DESIGN.md's turn
JSON shape, as the dialogue engine's ``Turn.to_dict()`` produces it)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from orchestrator.narration.base import NarrationRequest, PriorTurn
from orchestrator.narration.prompt import canonical_json, turn_facts_json


class RecordingOpenAIServerDouble:
    """A real uvicorn/FastAPI server on a free loopback port that speaks the slice of vLLM's
    OpenAI-compatible API the narrator uses, and records every request body.

    ``POST /v1/chat/completions`` streams SSE ``data:`` chunks of the scripted text (one chunk per
    word), a usage chunk and ``data: [DONE]``. ``mode``: ``ok``; ``hang`` (no response until the
    double stops); ``stall`` (one chunk, then silence); ``error`` (HTTP 503). ``GET /health``,
    ``GET /metrics`` (vLLM's prefix-cache counters) too. It stands in for vLLM; it is not vLLM.
    """

    def __init__(self, texts: list[str] | None = None, mode: str = "ok") -> None:
        self.texts = list(texts or [])
        self.default_text = "OK"
        self.mode = mode
        self.requests: list[dict[str, Any]] = []
        self.prefix_cache_hits = 0.0
        self.prefix_cache_queries = 0.0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = self._build_app()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _next_text(self) -> str:
        with self._lock:
            return self.texts.pop(0) if self.texts else self.default_text

    async def _wait_released(self) -> None:
        while not self._release.is_set():
            await asyncio.sleep(0.02)

    def _sse(self, text: str, model: str) -> Callable[[], AsyncIterator[str]]:
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1].rstrip(" ")
        stall = self.mode == "stall"

        async def events() -> AsyncIterator[str]:
            for i, word in enumerate(words):
                chunk = {"id": "chatcmpl-double", "object": "chat.completion.chunk", "model": model,
                         "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
                if stall and i == 0:
                    await self._wait_released()
                    return
            usage = {"prompt_tokens": 100, "completion_tokens": len(words), "total_tokens": 100 + len(words),
                     "prompt_tokens_details": {"cached_tokens": 64}}
            yield f"data: {json.dumps({'id': 'chatcmpl-double', 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return events

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            with self._lock:
                self.requests.append(body)
            if self.mode == "hang":
                await self._wait_released()
                return JSONResponse({"error": "released"}, status_code=503)
            if self.mode == "error":
                return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
            events = self._sse(self._next_text(), str(body.get("model")))
            return StreamingResponse(events(), media_type="text/event-stream")

        @app.get("/health")
        async def health() -> Response:
            return Response(status_code=200)

        @app.get("/metrics")
        async def metrics() -> Response:
            text = (
                "# HELP vllm:prefix_cache_queries_total Prefix cache queries, in tokens.\n"
                "# TYPE vllm:prefix_cache_queries_total counter\n"
                f'vllm:prefix_cache_queries_total{{engine="0",model_name="google/medgemma-4b-it"}} {self.prefix_cache_queries}\n'
                "# HELP vllm:prefix_cache_hits_total Prefix cache hits, in tokens.\n"
                "# TYPE vllm:prefix_cache_hits_total counter\n"
                f'vllm:prefix_cache_hits_total{{engine="0",model_name="google/medgemma-4b-it"}} {self.prefix_cache_hits}\n'
            )
            return PlainTextResponse(text)

        return app

    def start(self) -> RecordingOpenAIServerDouble:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="openai-double", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the recording OpenAI server double did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


@pytest.fixture
def openai_double() -> Iterator[Callable[..., RecordingOpenAIServerDouble]]:
    """A factory: ``openai_double(texts=[...], mode="ok")`` starts one; all stop at teardown."""
    started: list[RecordingOpenAIServerDouble] = []

    def start(texts: list[str] | None = None, mode: str = "ok") -> RecordingOpenAIServerDouble:
        double = RecordingOpenAIServerDouble(texts, mode).start()
        started.append(double)
        return double

    yield start
    for double in started:
        double.stop()


# --- the scenario's turns, built by hand ---------------------------------------------------

IMAGE_FACTS: dict[str, Any] = {
    "image_size": [1024, 1024],
    "spacing": {"row_mm": 0.35, "col_mm": 0.35, "source": "dicom", "note": ""},
    "findings": [
        {"id": "F1", "kind": "nodule", "shape": "round", "side": "right", "lobe": "RML", "zone": "middle",
         "band": "outer", "diameter_mm": 12.3, "margin": "lobulated", "center_px": [300.0, 520.0],
         "polygon_px": [[290.0, 510.0], [310.0, 510.0], [310.0, 530.0]]},
        {"id": "F2", "kind": "strand", "shape": "strand-like", "side": "left", "lobe": "LLL", "zone": "lower",
         "band": "inner", "diameter_mm": 21.4, "longest_mm": 25.0, "shortest_mm": 18.0, "margin": "smooth",
         "center_px": [640.0, 800.0]},
    ],
    "lesion_heatmap_png": "data:image/png;base64,AAAA",
}

_F1 = {"id": "F1", "anchor_id": "A1", "kind": "nodule", "shape": "round", "side": "right", "lobe": "RML",
       "zone": "middle", "band": "outer", "diameter_mm": 12.3, "margin": "lobulated", "notches_clock": [10, 3],
       "spicules": 5, "spicule_length_mm": [3.1, 4.8], "calcified": False,
       "density": {"homogeneous": True, "calcified": False, "cavity": False, "bubble_lucency": False,
                   "air_bronchogram": "uncertain"}}
_F2 = {"id": "F2", "anchor_id": "A2", "kind": "strand", "shape": "strand-like", "side": "left", "lobe": "LLL",
       "zone": "lower", "band": "inner", "diameter_mm": 21.4, "longest_mm": 25.0, "shortest_mm": 18.0,
       "margin": "smooth"}
_A1 = {"id": "A1", "kind": "finding", "label": "right middle lobe nodule", "center_px": [300.0, 520.0],
       "bbox_px": [290.0, 510.0, 310.0, 530.0]}
_A2 = {"id": "A2", "kind": "finding", "label": "left lower lobe strand", "center_px": [640.0, 800.0]}
_A3 = {"id": "A3", "kind": "anatomy", "label": "right hilum", "center_px": [420.0, 450.0]}
_A4 = {"id": "A4", "kind": "anatomy", "label": "left hilum", "center_px": [600.0, 450.0]}

SCENARIO: list[dict[str, Any]] = [
    {
        "question": "Is there anything abnormal in the lungs?",
        "facts": {"turn": 1, "intent": "screen", "lang": "en", "findings": [_F1, _F2],
                  "anchors": [_A1, _A2, _A3, _A4], "referenced_anchor_ids": [], "measurements": [],
                  "overlays": [{"layer": "screen", "type": "heatmap"}], "clarification": None},
        "composer": ("Two regions: A1 in the right middle lobe, outer band of the middle zone, round, 12 mm; "
                     "A2 in the left lower lobe, inner band of the lower zone, strand-like, 25 × 18 mm. "
                     "The remaining lung fields are clear; no consolidation, cavity or calcification seen."),
    },
    {
        "question": "Is the margin of the round opacity in the right middle lobe regular?",
        "facts": {"turn": 2, "intent": "describe_margin", "lang": "en", "findings": [_F1], "anchors": [_A1],
                  "referenced_anchor_ids": ["A1"], "measurements": [], "clarification": None},
        "composer": ("A1 (right middle lobe): the margin is lobulated with notches at 10 and 3 o'clock, and "
                     "spiculated with 5 spicules 3.1–4.8 mm long. Density is homogeneous; no calcification "
                     "or cavity; air bronchogram uncertain."),
    },
    {
        "question": "How far is this lesion from the right hilum? Is it connected to the hilar structures?",
        "facts": {"turn": 3, "intent": "measure_relation", "lang": "en", "findings": [_F1], "anchors": [_A1, _A3],
                  "referenced_anchor_ids": ["A1", "A3"],
                  "measurements": [{"kind": "distance", "from": "A1", "to": "A3", "mm": 47.2, "spacing_source": "dicom"},
                                   {"kind": "gap", "from": "A1", "to": "A3", "mm": 18.5, "spacing_source": "dicom"}],
                  "clarification": None},
        "composer": ("A1 lies 4.7 cm from the right hilum (A3), centre to centre; the nearest gap to a hilar "
                     "vessel is 18.5 mm. No soft-tissue band connects them. Distances use the DICOM pixel spacing."),
    },
    {
        "question": "If this were early lung cancer, what are the typical X-ray signs, and how many does this image show?",
        "facts": {"turn": 4, "intent": "sign_checklist", "lang": "en", "findings": [_F1], "anchors": [_A1],
                  "referenced_anchor_ids": ["A1"], "measurements": [],
                  "checklist": {"name": "early_lung_cancer", "matched": 3, "total": 5, "items": [
                      {"sign": "round_or_oval_nodule", "status": "yes", "evidence": "round, 12.3 mm"},
                      {"sign": "lobulated_or_spiculated_margin", "status": "yes", "evidence": "lobulated, 5 spicules"},
                      {"sign": "distance_from_hilum_over_3cm", "status": "yes", "evidence": "4.7 cm > 3 cm"},
                      {"sign": "bubble_lucency", "status": "no", "evidence": ""},
                      {"sign": "pleural_indentation", "status": "no", "evidence": ""},
                      {"sign": "air_bronchogram", "status": "uncertain", "evidence": "needs CT"},
                  ]},
                  "clarification": None},
        "composer": ("Early lung cancer checklist for A1: round or oval nodule — yes; lobulated or spiculated "
                     "margin — yes; more than 3 cm from the hilum — yes (4.7 cm); bubble-like lucency — no; "
                     "pleural indentation — no; air bronchogram — uncertain, CT would settle it. "
                     "3 of 5 signs matched. This is not a diagnosis."),
    },
]


def scenario_request(turn_index: int, shown: list[str], session_id: str = "session-1",
                     lang: str = "en") -> NarrationRequest:
    """The narration request of scenario turn ``turn_index`` (0-based); ``shown`` holds the
    texts shown for the earlier turns."""
    prior = tuple(
        PriorTurn(question=SCENARIO[i]["question"], answer_text=shown[i], facts_json=turn_facts_json(SCENARIO[i]["facts"]))
        for i in range(turn_index)
    )
    turn = SCENARIO[turn_index]
    return NarrationRequest(
        session_id=session_id,
        lang=lang,  # type: ignore[arg-type]
        image_facts_json=canonical_json(IMAGE_FACTS),
        prior_turns=prior,
        question=turn["question"],
        turn_facts=turn["facts"],
        composer_text=turn["composer"],
    )


@pytest.fixture
def scenario() -> list[dict[str, Any]]:
    """The four turns: ``question``, ``facts`` (the turn JSON) and ``composer`` (its text)."""
    return SCENARIO


@pytest.fixture
def make_request() -> Callable[..., NarrationRequest]:
    """``make_request(turn_index, shown, session_id=..., lang=...)`` → a NarrationRequest."""
    return scenario_request
