"""``/v1/sessions/{id}/dicom/{sr|pr|seg|sc}``: the session's results as DICOM objects (``application/dicom``).

A session made from a DICOM upload keeps which image it came from (the session's ``source`` record,
in the session store: REST- and gRPC-made sessions alike, on every replica); the objects then
reference that image's UIDs. Otherwise they reference a Secondary Capture of the film
(``.../dicom/sc``), and say so in the ``X-Hilum-Source-Image`` header and inside the objects.

``dicom_response`` is the one place these responses are made: ``GET /v1/sessions/{id}/report?format=sr``
(``sessions.py``) answers with it too, so both routes return the same SR from the same builder."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from orchestrator.api.dependencies import Engine, Tenant
from orchestrator.api.protocol import ERROR_RESPONSES
from orchestrator.dialogue.service import DialogueService
from orchestrator.dicom_out.objects import DicomObjects, ObjectKind, encode

router = APIRouter(prefix="/v1/sessions", tags=["dicom"], responses=ERROR_RESPONSES)

FILENAMES = {"sr": "report-sr.dcm", "pr": "overlay-pr.dcm", "seg": "lesions-seg.dcm", "sc": "film-sc.dcm"}


def dicom_response(engine: DialogueService, kind: ObjectKind, session_id: str, tenant: str,
                   lang: str | None = None) -> Response:
    """The session's ``kind`` object as an ``application/dicom`` response (Part 10 file); ``lang``: the SR's language."""
    ds, source = DicomObjects(engine).build_with_source(kind, session_id, tenant, lang)
    return Response(encode(ds), media_type="application/dicom", headers={
        "Content-Disposition": f'attachment; filename="{FILENAMES[kind]}"',
        "X-Hilum-Source-Image": "dicom-upload" if source.kind == "dicom" else "secondary-capture",
    })


@router.get("/{session_id}/dicom/{kind}", response_class=Response,
            responses={200: {"content": {"application/dicom": {}}, "description": "a DICOM Part 10 file"}})
def dicom_object(session_id: str, kind: Literal["sr", "pr", "seg", "sc"], engine: Engine, tenant: Tenant) -> Response:
    """``sr``: TID 1500 Measurement Report; ``pr``: the overlay as a Grayscale Softcopy Presentation
    State; ``seg``: the lesion masks; ``sc``: the Secondary Capture the others reference when the
    upload was not DICOM."""
    return dicom_response(engine, kind, session_id, tenant)
