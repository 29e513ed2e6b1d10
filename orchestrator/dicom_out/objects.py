"""The one entry point the REST router and the PACS bridge call: a session's DICOM object as bytes.

``sr`` (TID 1500 Measurement Report), ``pr`` (Grayscale Softcopy Presentation State), ``sc`` (the
Secondary Capture of the film, for sessions whose upload was not DICOM) and ``seg`` (the lesion
masks). Each object is built with highdicom (which checks it as it builds), written as a DICOM
file (Part 10, explicit VR little endian) and read back once before it is returned."""

from __future__ import annotations

import io
from typing import Literal

import pydicom
from pydicom.dataset import Dataset

from orchestrator.deidentify import is_deidentified, mark_deidentified
from orchestrator.dialogue.service import DialogueService
from orchestrator.dicom_out.content import SessionContent, session_content
from orchestrator.dicom_out.source import SourceImage, secondary_capture_image, session_source
from orchestrator.errors import HilumError, InputError

ObjectKind = Literal["sr", "pr", "sc", "seg"]
ReportFormat = Literal["json", "sr"]
REPORT_FORMATS: tuple[str, ...] = ("json", "sr")  # the report's formats: JSON (default), TID 1500 SR


class NoSuchDicomObjectError(HilumError):
    http_status = 404
    grpc_code = "NOT_FOUND"
    kind = "no_such_dicom_object"


class ReportFormatError(InputError):
    """A report format other than ``json`` / ``sr`` (the value is never echoed)."""

    http_status = 422
    kind = "invalid_request"


def report_format(value: str | None) -> ReportFormat:
    """``json`` for none or empty; ``sr``; anything else is refused without repeating it."""
    if not value or value == "json":
        return "json"
    if value == "sr":
        return "sr"
    raise ReportFormatError("unknown report format: use 'json' (the default) or 'sr' (DICOM TID 1500)")


def encode(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    back = pydicom.dcmread(io.BytesIO(data))
    if back.SOPInstanceUID != ds.SOPInstanceUID:  # pragma: no cover - a writer fault, never the input's
        raise RuntimeError("a DICOM object did not read back as written")
    return data


class DicomObjects:
    """Stateless over the engine: the image a session's objects reference is the session's own
    ``source`` record (kept in the session store), so any replica builds the same objects."""

    def __init__(self, engine: DialogueService) -> None:
        self.engine = engine

    @staticmethod
    def source(content: SessionContent) -> SourceImage:
        """The session's DICOM upload; else a Secondary Capture record (UIDs derived from the session
        id, so that every object of the session references the same image)."""
        return session_source(content.session_id, content.image_size, content.source, content.frame,
                              content.created_at)

    def build_with_source(self, kind: ObjectKind, session_id: str, tenant: str = "default",
                          lang: str | None = None) -> tuple[Dataset, SourceImage]:
        """``lang``: the SR's content language (zh or en; default: the session's)."""
        content = session_content(self.engine, session_id, tenant, lang)
        source = self.source(content)
        ds = self._build(kind, content, source)
        if is_deidentified(source.header):  # the session kept its source's header de-identified
            mark_deidentified(ds)
        return ds, source

    def _build(self, kind: ObjectKind, content: SessionContent, source: SourceImage) -> Dataset:
        if kind == "sr":
            from orchestrator.dicom_out.sr import build_sr

            return build_sr(content, source, self.engine.ontology)
        if kind == "pr":
            from orchestrator.dicom_out.pr import build_pr

            return build_pr(content, source)
        if kind == "sc":
            if source.kind != "secondary_capture":
                raise NoSuchDicomObjectError("this session's film is the uploaded DICOM image: no secondary "
                                             "capture is made for it")
            return secondary_capture_image(source, content.display_png)
        from orchestrator.dicom_out.seg import build_seg

        return build_seg(content, source)

    def build(self, kind: ObjectKind, session_id: str, tenant: str = "default", lang: str | None = None) -> Dataset:
        return self.build_with_source(kind, session_id, tenant, lang)[0]

    def bytes(self, kind: ObjectKind, session_id: str, tenant: str = "default", lang: str | None = None) -> bytes:
        return encode(self.build(kind, session_id, tenant, lang))
