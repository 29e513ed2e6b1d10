"""The REST turn schema is derived from the turn model (orchestrator/dialogue/turn.py), not restated:
its fields, required fields and descriptions are the dataclasses', a field added to the model
appears in it, and a real turn goes out exactly as ``Turn.to_dict`` (what the routes return)."""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.api import protocol
from orchestrator.dialogue import turn as model
from orchestrator.dialogue.turn import doc

ROOT = Path(__file__).resolve().parents[3]
FILM = ROOT / "orchestrator" / "api" / "data" / "examples" / "phantom-7.dcm"
PAIRS = ((model.Turn, protocol.Turn), (model.Answer, protocol.Answer), (model.Narration, protocol.Narration))


def required(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


@pytest.mark.parametrize(("cls", "rest"), PAIRS, ids=[c.__name__ for c, _ in PAIRS])
def test_the_rest_schema_is_the_models(cls: type, rest: Any) -> None:
    schema = rest.model_json_schema()
    names = [f.name for f in dataclasses.fields(cls)]
    assert rest.__name__ == cls.__name__ and list(schema["properties"]) == names
    assert schema.get("required", []) == required(cls)
    for f in dataclasses.fields(cls):
        assert f.metadata.get("doc"), f"{cls.__name__}.{f.name} has no description"
        assert schema["properties"][f.name]["description"] == f.metadata["doc"]
    assert schema["description"] == inspect.cleandoc(cls.__doc__ or "")
    assert schema["additionalProperties"] is True  # the engine may add fields without breaking clients


def test_refinements_name_model_fields() -> None:
    assert set(protocol.REST_REFINES) <= {f.name for f in dataclasses.fields(model.Turn)}
    assert protocol.Turn.model_fields["query"].annotation is protocol.Query


def test_a_field_added_to_the_model_appears_in_the_schema() -> None:
    @dataclasses.dataclass(frozen=True)
    class GrownTurn(model.Turn):
        confidence: tuple[float, ...] = dataclasses.field(default=(), metadata=doc("how sure, per finding"))
        second_opinion: model.Narration | None = dataclasses.field(default=None, metadata=doc("who else read it"))

    rest = protocol.dataclass_model(GrownTurn, protocol.REST_REFINES)
    props = rest.model_json_schema()["properties"]
    assert list(props)[-2:] == ["confidence", "second_opinion"]
    assert props["confidence"] == {"description": "how sure, per finding", "items": {"type": "number"},
                                   "title": "Confidence", "type": "array"}
    assert props["second_opinion"]["anyOf"][0] == {"$ref": "#/$defs/Narration"}


@pytest.fixture(scope="module")
def services() -> Iterator[Any]:
    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    yield build_services(Settings())


def test_real_turns_go_out_as_their_json(services: Any) -> None:
    engine = services.engine
    view = engine.create_session(FILM.read_bytes(), "f.dcm", "en")
    for q in ("How far is it from the right hilum?", "Is there a pneumothorax?", "Run the early lung cancer checklist"):
        engine.ask(view.session_id, q)
    view = engine.get_session(view.session_id)
    for t in view.turns:
        out = protocol.Turn.model_validate(t.to_dict()).model_dump(mode="json", exclude_unset=True)
        assert json.dumps(out) == json.dumps(t.to_dict())  # same keys, order and values
    session = protocol.Session.model_validate(view.to_dict()).model_dump(mode="json", exclude_unset=True)
    assert session["turns"] == [t.to_dict() for t in view.turns]


def test_the_openapi_turn_is_the_models(services: Any) -> None:
    from orchestrator.api.app import create_app

    s = services
    app = create_app(s.settings, s.engine, metrics=s.metrics, readiness=s.readiness, tenancy=s.tenancy)
    schemas = app.openapi()["components"]["schemas"]
    assert list(schemas["Turn"]["properties"]) == list(model.TURN_KEYS)
    assert {"Turn", "Answer", "Narration", "Query", "Anchor", "Session"} <= set(schemas)
    assert schemas["Session"]["properties"]["turns"]["items"] == {"$ref": "#/components/schemas/Turn"}
