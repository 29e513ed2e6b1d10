"""Pydantic models of the REST contract (docs/DESIGN.md): they publish the OpenAPI schema.

Fields docs/DESIGN.md fixes are typed; open-ended parts (findings, overlays, sections, checklist
items …) stay dicts so the engine can add fields without breaking the schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Query(_Open):
    side: str | None = None
    lobe: str | None = None
    zone: str | None = None
    band: str | None = None
    anatomy: list[str] = Field(default_factory=list)
    descriptors: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)


class Answer(_Open):
    text: str
    sections: list[dict[str, Any]] = Field(default_factory=list)


class Anchor(_Open):
    id: str
    kind: str
    label: str = ""
    center_px: list[float] | None = None
    bbox_px: list[float] | None = None
    polygon_px: list[list[float]] | None = None


class Turn(_Open):
    turn: int
    intent: str
    lang: str
    query: Query
    answer: Answer
    anchors: list[Anchor] = Field(default_factory=list)
    referenced_anchor_ids: list[str] = Field(default_factory=list)
    findings: list[dict[str, Any]] = Field(default_factory=list)
    measurements: list[dict[str, Any]] = Field(default_factory=list)
    checklist: dict[str, Any] | None = None
    overlays: list[dict[str, Any]] = Field(default_factory=list)
    clarification: dict[str, Any] | None = None


class Frame(BaseModel):
    """How the working image was made from the original: original = working × scale − pad."""

    original_size: list[int]
    working_size: list[int]
    scale: float
    pad_px: list[float]


class ForkedFrom(BaseModel):
    session_id: str
    turn: int


class Session(_Open):
    session_id: str
    lang: str | None = None
    image: dict[str, Any] = Field(default_factory=dict)
    frame: Frame | None = None
    turns: list[Turn] = Field(default_factory=list)
    anchors: list[Anchor] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list, description="the reader's question per turn ('' for turn 1)")
    forked_from: ForkedFrom | None = None


class AskBody(BaseModel):
    question: str = Field(min_length=1, description="the question, zh or en")


class ForkBody(BaseModel):
    turn: int = Field(description="the turn to edit: 2 … the session's last turn (turn 1 is the screening "
                                  "turn made from the upload)")
    question: str = Field(min_length=1, description="the new question for that turn, zh or en")


class Closed(BaseModel):
    session_id: str
    closed: bool = True


class Example(BaseModel):
    seed: int
    title: str
    image_url: str


class Health(BaseModel):
    status: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    kind: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (403, 404, 413, 415, 422, 429, 503)
}
