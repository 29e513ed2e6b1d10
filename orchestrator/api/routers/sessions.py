"""``/v1/sessions``: create, ask (plain and streamed), fork (edit and re-run), read, report, film,
heatmap, close."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from orchestrator.api.dependencies import Engine, Tenant, Tenants
from orchestrator.api.protocol import ERROR_RESPONSES, AskBody, Closed, ForkBody, Session, Turn
from orchestrator.api.routers.dicom import dicom_response
from orchestrator.api.streaming import ndjson_events
from orchestrator.dialogue.service import SessionView
from orchestrator.dialogue.session import TurnLockTaken
from orchestrator.dicom_out.objects import ReportFormat
from orchestrator.errors import NoHeatmapError

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=ERROR_RESPONSES)


def session_response(view: SessionView, status_code: int = 200) -> Response:
    """A session as the engine wrote it (``SessionView.json_bytes``: each turn's stored bytes), not
    re-validated against ``Session`` (its schema is derived from the same types): a long session's
    validation took longer than reading it."""
    return Response(view.json_bytes(), status_code=status_code, media_type="application/json")


@router.post("", response_model=Session, response_model_exclude_unset=True, status_code=201)
def create_session(
    engine: Engine, tenant: Tenant, tenancy: Tenants,
    file: Annotated[UploadFile, File(description="PNG, JPEG or DICOM film")],
    lang: Annotated[str | None, Form()] = None,
    earlier: Annotated[UploadFile | None, File(description="an earlier film of the same chest, to compare")] = None,
    study_date: Annotated[str | None, Form(description="this film's date, YYYY-MM-DD (else its DICOM's)")] = None,
    earlier_date: Annotated[str | None, Form(description="the earlier film's date (else its DICOM's)")] = None,
) -> Any:
    """Upload a film; the session comes back with its screening turn. With ``earlier``, the screening turn also
    compares the two films, and "has it grown?" is answered from them (the upload limit covers the whole request)."""
    with tenancy.first_turn(tenant):
        view = engine.create_session(
            file.file.read(), filename=file.filename, lang=lang or None, tenant=tenant,
            earlier=earlier.file.read() if earlier is not None else None,
            earlier_filename=earlier.filename if earlier is not None else None,
            study_date=study_date or None, earlier_date=earlier_date or None)
    return session_response(view, 201)


@router.get("/{session_id}", response_model=Session, response_model_exclude_unset=True)
def get_session(session_id: str, engine: Engine, tenant: Tenant) -> Any:
    return session_response(engine.get_session(session_id, tenant=tenant))


@router.post("/{session_id}/turns", response_model=Turn, response_model_exclude_unset=True)
async def ask(session_id: str, body: AskBody, engine: Engine, tenant: Tenant) -> Any:
    """A follow-up turn. With an in-process store and the composer (``engine.turns_on_loop``) the
    turn is ~1 ms of CPU and no I/O: it runs on the event loop when its session is free at once,
    sparing a thread hop and GIL hand-offs (measured: 1.5-1.8x the turns per second, BENCHMARKS.md);
    otherwise (Redis, a language model, the session busy) it runs on the bounded worker pool. The
    answer is the engine's typed turn serialised as it is, the same bytes its stored record holds
    (``Turn.json_bytes``; the schema above is derived from that type, ``orchestrator/api/protocol.py``):
    re-validating our own output cost more than the turn."""
    turn = None
    if engine.turns_on_loop:
        with contextlib.suppress(TurnLockTaken):
            turn = engine.ask(session_id, body.question, tenant=tenant, now=True)
    if turn is None:
        turn = await run_in_threadpool(engine.ask, session_id, body.question, tenant=tenant)
    return Response(turn.json_bytes, media_type="application/json")


@router.get("/{session_id}/turns/{turn}", response_model=Turn, response_model_exclude_unset=True)
def turn_in_language(session_id: str, turn: int, engine: Engine, tenant: Tenant,
                     lang: Annotated[str, Query(description="zh or en")]) -> Any:
    """Turn ``turn`` as answered, composed again in ``lang`` (the same question, parse and anchors; nothing
    stored): what the page shows for earlier turns after a language switch."""
    return Response(engine.turn_in_language(session_id, turn, lang, tenant=tenant).json_bytes,
                    media_type="application/json")


@router.post("/{session_id}/fork", response_model=Session, response_model_exclude_unset=True, status_code=201)
def fork(session_id: str, body: ForkBody, engine: Engine, tenant: Tenant) -> Any:
    """Edit and re-run: a new session over the same film and facts (no encoder call) whose turns
    before ``turn`` are this one's and whose turn ``turn`` answers ``question``; this one is unchanged."""
    return session_response(engine.fork(session_id, body.turn, body.question, tenant=tenant), 201)


@router.post(
    "/{session_id}/turns/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "stage, text and turn events"}},
)
def ask_stream(session_id: str, body: AskBody, engine: Engine, tenant: Tenant, request: Request) -> StreamingResponse:
    """NDJSON lines: ``{"kind": "stage", "stage"}``, ``{"kind": "text", "text"}``, ``{"kind": "turn", "turn"}``;
    a failure after the first event ends the stream with ``{"kind": "error", ...}``."""
    events = ndjson_events(engine.ask_stream(session_id, body.question, tenant=tenant),
                           observe_error=request.app.state.metrics.error)  # counted as the JSON handler counts
    return StreamingResponse(events, media_type="application/x-ndjson")


@router.get("/{session_id}/report", responses={200: {"content": {
    "application/json": {}, "application/dicom": {"schema": {"type": "string", "format": "binary"}}},
    "description": "the report: JSON (default) or, with format=sr, the DICOM TID 1500 SR"}})
def report(session_id: str, engine: Engine, tenant: Tenant,
           format: Annotated[ReportFormat, Query(description="json (default) or sr: the DICOM TID 1500 "  # noqa: A002
                                                 "Measurement Report, as GET .../dicom/sr")] = "json",
           lang: Annotated[str | None, Query(description="zh or en: the report with every turn in that language "
                                                         "(default: the turns as answered; the SR: the session's)")] = None) -> Any:
    if format == "sr":
        return dicom_response(engine, "sr", session_id, tenant, lang)
    return engine.report(session_id, tenant=tenant, lang=lang)


@router.get("/{session_id}/image.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def image(session_id: str, engine: Engine, tenant: Tenant) -> Response:
    """The session's film as PNG (DICOMs rendered), for display under the overlays."""
    return Response(engine.image_png(session_id, tenant=tenant), media_type="image/png")


@router.get("/{session_id}/heatmap.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def heatmap(session_id: str, engine: Engine, tenant: Tenant) -> Response:
    """The lesion heatmap (RGBA PNG over the working image) that the screening turn's ``heatmap``
    overlay names as its ``resource``; 404 ``no_heatmap`` when the session has none."""
    png = engine.heatmap_png(session_id, tenant=tenant)
    if png is None:
        raise NoHeatmapError("this session has no lesion heatmap")
    return Response(png, media_type="image/png")


@router.get("/{session_id}/earlier.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def earlier(session_id: str, engine: Engine, tenant: Tenant) -> Response:
    """The earlier film uploaded with the film, as its working image (the frame of the comparison rows'
    ``earlier_bbox_px``); 404 ``no_earlier_film`` for a session made without one."""
    return Response(engine.earlier_png(session_id, tenant=tenant), media_type="image/png")


@router.delete("/{session_id}", response_model=Closed)
def close(session_id: str, engine: Engine, tenant: Tenant) -> Closed:
    engine.close_session(session_id, tenant=tenant)
    return Closed(session_id=session_id)
