"""Pydantic models of the REST contract (docs/DESIGN.md): they publish the OpenAPI schema.

The turn is not restated here: ``Turn``, ``Answer`` and ``Narration`` are generated from the frozen
dataclasses of ``orchestrator/dialogue/turn.py`` (``dataclass_model``), one field per dataclass field
with its type (tuples become lists, nested dataclasses their own models) and its description, so a
field added to the dataclass appears in the REST schema as it is. Only where REST says more than the
dataclass, ``REST_REFINES`` gives the field's REST type: the parsed query and the anchors are open
dicts in the dataclass and typed models here.

Open-ended parts (findings, overlays, sections, checklist items …) stay dicts so the engine can add
fields without breaking the schema; every model allows extra fields.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from orchestrator.dialogue import turn as turn_model


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Query(_Open):
    """The parsed question (``Turn.query``)."""

    side: str | None = None
    lobe: str | None = None
    zone: str | None = None
    band: str | None = None
    anatomy: list[str] = Field(default_factory=list)
    descriptors: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)


class Anchor(_Open):
    """A finding, anatomy or point the dialogue can refer to; geometry in working-image pixels."""

    id: str
    kind: str
    label: str = ""
    center_px: list[float] | None = None
    bbox_px: list[float] | None = None
    polygon_px: list[list[float]] | None = None


# Turn fields whose REST type says more than the dataclass's open dict (the rest are derived)
REST_REFINES: dict[str, Any] = {"query": Query, "anchors": list[Anchor]}


def _rest_type(tp: Any) -> Any:
    """The REST (pydantic) type of a dataclass field's type: tuple[X, ...] -> list[X], a dataclass ->
    its generated model, unions and containers element by element; anything else as it is."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return dataclass_model(tp)
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return list[_rest_type(args[0])]
    if origin in (Union, types.UnionType):
        return Union[tuple(_rest_type(a) for a in args)]  # noqa: UP007 - built from a tuple of types
    if origin in (list, dict):
        return origin[tuple(_rest_type(a) for a in args)] if args else origin
    return tp


def _rest_field(f: dataclasses.Field[Any]) -> Any:
    """The field's default (a tuple's: an empty list) and its description (the dataclass field's doc)."""
    description = f.metadata.get("doc")
    if f.default == ():
        return Field(default_factory=list, description=description)
    if f.default is not dataclasses.MISSING:
        return Field(default=f.default, description=description)
    if f.default_factory is not dataclasses.MISSING:
        made = f.default_factory()
        if dataclasses.is_dataclass(made):
            model = dataclass_model(type(made))
            return Field(default_factory=lambda: model(**dataclasses.asdict(made)), description=description)
        return Field(default_factory=f.default_factory, description=description)
    return Field(description=description)


_MODELS: dict[tuple[type, tuple[tuple[str, Any], ...]], type[BaseModel]] = {}  # one model per dataclass


def dataclass_model(cls: type, refine: dict[str, Any] | None = None) -> type[BaseModel]:
    """The pydantic model of one frozen dataclass of ``orchestrator/dialogue/turn.py``: same name,
    docstring and fields (types through ``_rest_type``; ``refine`` overrides a field's type)."""
    refine = refine or {}
    key = (cls, tuple(refine.items()))
    if key in _MODELS:
        return _MODELS[key]
    hints = get_type_hints(cls)
    fields: dict[str, Any] = {
        f.name: (refine.get(f.name, _rest_type(hints[f.name])), _rest_field(f))
        for f in dataclasses.fields(cls)
    }
    model: type[BaseModel] = create_model(cls.__name__, __base__=_Open, __doc__=cls.__doc__,
                                          __module__=__name__, **fields)
    _MODELS[key] = model
    return model


Answer = dataclass_model(turn_model.Answer)
Narration = dataclass_model(turn_model.Narration)
Turn = dataclass_model(turn_model.Turn, REST_REFINES)


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
