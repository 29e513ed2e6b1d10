"""``DialogueService``: what the shells (REST, gRPC, the DICOM listener, the service CLI) need of the
dialogue engine, and nothing more. ``DialogueEngine`` (``orchestrator/dialogue/engine.py``) is the one
implementation; the shells are typed against this protocol, so a stand-in (a test double, a remote
engine) knows exactly what to provide. ``tests/orchestrator/dialogue/test_service.py`` checks that the
engine satisfies it, signature by signature, and that the shells call nothing else.

Every call takes the caller's ``tenant``; another tenant's session is ``SessionNotFoundError`` (404),
as a missing one is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from orchestrator.dialogue.engine import AskEvent, SessionOrigin, SessionView
from orchestrator.dialogue.turn import Turn
from orchestrator.ontology.loader import Ontology


@runtime_checkable
class DialogueService(Protocol):
    # read by DicomObjects (orchestrator/dicom_out/objects.py), which the shells build over the service
    ontology: Ontology
    # a follow-up turn does no I/O: the REST shell runs it on its event loop (ask(now=True))
    turns_on_loop: bool

    def create_session(self, data: bytes, filename: str | None = None, lang: str | None = None,
                       tenant: str = "default", *, earlier: bytes | None = None, earlier_filename: str | None = None,
                       study_date: str | None = None, earlier_date: str | None = None) -> SessionView:
        """Upload a film (PNG/JPEG/DICOM bytes): the new session with its screening turn; ``earlier``: an earlier
        film of the same chest, compared with it (dates as given, YYYY-MM-DD, else the DICOM Study Dates)."""
        ...

    def get_session(self, session_id: str, tenant: str = "default") -> SessionView:
        ...

    def ask(self, session_id: str, question: str, tenant: str = "default", *, now: bool = False) -> Turn:
        """One question -> one turn."""
        ...

    def ask_stream(self, session_id: str, question: str, tenant: str = "default") -> Iterator[AskEvent]:
        """Stage events, text chunks, then the turn; a bad question or session raises before any event."""
        ...

    def fork(self, session_id: str, turn: int, question: str, tenant: str = "default") -> SessionView:
        """Edit and re-run: a new session whose turn ``turn`` (2 .. last) answers ``question``."""
        ...

    def turn_in_language(self, session_id: str, turn: int, lang: str, tenant: str = "default") -> Turn:
        """Turn ``turn`` (1 .. last) as answered, composed again in ``lang`` (zh | en); nothing stored."""
        ...

    def report(self, session_id: str, tenant: str = "default", lang: str | None = None) -> dict[str, Any]:
        ...

    def image_png(self, session_id: str, tenant: str = "default") -> bytes:
        ...

    def heatmap_png(self, session_id: str, tenant: str = "default") -> bytes | None:
        """The lesion heatmap (RGBA PNG) the screening turn's heatmap overlay names; None when none."""
        ...

    def earlier_png(self, session_id: str, tenant: str = "default") -> bytes:
        """The earlier film uploaded with the session's film, as its working image; 404 when none."""
        ...

    def close_session(self, session_id: str, tenant: str = "default") -> None:
        ...

    def session_origin(self, session_id: str, tenant: str = "default") -> SessionOrigin:
        """The session's source record and frame (read by DicomObjects for a session's DICOM results)."""
        ...
