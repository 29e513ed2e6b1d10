"""What the DICOM builders read from a session: its structured report, its screening turn's film
check, its film and where the film came from (the session's ``source`` record and ``frame``),
through the engine's public calls (plain data; no engine internals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.dialogue.service import DialogueService


@dataclass(frozen=True)
class SessionContent:
    session_id: str
    lang: str
    report: dict[str, Any]  # orchestrator.dialogue.report.build_report
    film_check: dict[str, Any]
    display_png: bytes
    turn_count: int
    source: Any = field(default=None, repr=False)  # orchestrator.dialogue.session.SourceRecord (PHI)
    frame: Any = None  # orchestrator.contracts.lesion_reader.Frame
    created_at: float | None = None

    @property
    def localisable(self) -> bool:
        """As ``FilmCheck.localisable``: only then are findings, sides and distances stated."""
        fc = self.film_check
        return bool(fc.get("is_chest", True) and fc.get("anatomy_plausible", True)
                    and fc.get("orientation", "upright") == "upright"
                    and "sides_unconfirmed" not in (fc.get("warnings") or ()))

    @property
    def spacing_source(self) -> str:
        return str(self.report.get("image", {}).get("spacing_source", "estimated"))

    @property
    def image_size(self) -> tuple[int, int]:
        size = self.report.get("image", {}).get("size") or [0, 0]
        return int(size[0]), int(size[1])

    def anchor(self, anchor_id: str) -> dict[str, Any] | None:
        return next((a for a in self.report.get("anchors", ()) if a.get("id") == anchor_id), None)


def session_content(engine: DialogueService, session_id: str, tenant: str, lang: str | None = None) -> SessionContent:
    """Raises the engine's SessionNotFoundError (404) for a missing or another tenant's session. ``lang`` (zh or en):
    every turn composed in that language, as the JSON report's ``lang`` does (default: the session's)."""
    report = engine.report(session_id, tenant=tenant, lang=lang)
    view = engine.get_session(session_id, tenant=tenant)
    first = view.turns[0].film_check if view.turns else None
    origin = engine.session_origin(session_id, tenant=tenant)
    return SessionContent(session_id=session_id, lang=lang or view.lang, report=report, film_check=dict(first or {}),
                          display_png=engine.image_png(session_id, tenant=tenant),
                          turn_count=len(report.get("turns") or ()),  # the report's own turns: one snapshot
                          source=origin.source, frame=origin.frame, created_at=origin.created_at or None)
