"""``/v1/sessions/{id}/dicom/{sr|pr|seg|sc}``: the session's results as DICOM objects (``application/dicom``).

``install(app)`` includes the router and wraps the app's engine so that sessions made from DICOM
uploads remember which image they came from (``orchestrator/dicom_out/recording.py``); the objects
then reference that image's UIDs. Otherwise they reference a Secondary Capture of the film
(``.../dicom/sc``), and say so in the ``X-Hilum-Source-Image`` header and inside the objects."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request, Response

from orchestrator.api.dependencies import Tenant
from orchestrator.api.protocol import ERROR_RESPONSES
from orchestrator.dicom_out.objects import DicomObjects
from orchestrator.dicom_out.recording import SourceRecordingEngine
from orchestrator.dicom_out.registry import SourceRegistry

router = APIRouter(prefix="/v1/sessions", tags=["dicom"], responses=ERROR_RESPONSES)

FILENAMES = {"sr": "report-sr.dcm", "pr": "overlay-pr.dcm", "seg": "lesions-seg.dcm", "sc": "film-sc.dcm"}


def dicom_objects(request: Request) -> DicomObjects:
    return request.app.state.dicom_objects


@router.get("/{session_id}/dicom/{kind}", response_class=Response,
            responses={200: {"content": {"application/dicom": {}}, "description": "a DICOM Part 10 file"}})
def dicom_object(session_id: str, kind: Literal["sr", "pr", "seg", "sc"], request: Request, tenant: Tenant) -> Response:
    """``sr``: TID 1500 Measurement Report; ``pr``: the overlay as a Grayscale Softcopy Presentation
    State; ``seg``: the lesion masks; ``sc``: the Secondary Capture the others reference when the
    upload was not DICOM."""
    objects = dicom_objects(request)
    data = objects.bytes(kind, session_id, tenant)
    source = objects.registry.get(tenant, session_id)
    return Response(data, media_type="application/dicom", headers={
        "Content-Disposition": f'attachment; filename="{FILENAMES[kind]}"',
        "X-Hilum-Source-Image": "secondary-capture" if source is None or source.kind != "dicom" else "dicom-upload",
    })


def install(app: FastAPI) -> None:
    """Include the router; wrap ``app.state.engine`` so that DICOM uploads record their source image."""
    settings: Any = app.state.settings
    registry = SourceRegistry(settings.session_ttl_s, settings.max_sessions)
    app.state.engine = SourceRecordingEngine(app.state.engine, registry)
    app.state.dicom_objects = DicomObjects(app.state.engine, registry)
    app.include_router(router)
