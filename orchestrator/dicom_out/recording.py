"""An engine wrapper that notes, for each session made from a DICOM upload, which image it was
(UIDs, size: ``source.dicom_source``), so that the session's DICOM results reference that image.

It wraps only ``create_session`` and ``close_session``; every other call goes to the engine as is.
The header is read after the engine has accepted the upload (so a refused film costs nothing more),
with the same bounded parse the upload had."""

from __future__ import annotations

from typing import Any

from orchestrator.dicom_out.registry import SourceRegistry
from orchestrator.dicom_out.source import dicom_source


class SourceRecordingEngine:
    def __init__(self, engine: Any, registry: SourceRegistry) -> None:
        self._engine = engine
        self.registry = registry

    @property
    def wrapped(self) -> Any:
        return self._engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def create_session(self, data: bytes, filename: str | None = None, lang: str | None = None,
                       tenant: str = "default") -> Any:
        view = self._engine.create_session(data, filename=filename, lang=lang, tenant=tenant)
        source = dicom_source(data, self._engine.settings, int(view.image_size[0]))
        if source is not None:
            self.registry.record(tenant, view.session_id, source)
        return view

    def close_session(self, session_id: str, tenant: str = "default") -> None:
        self._engine.close_session(session_id, tenant=tenant)
        self.registry.forget(tenant, session_id)
