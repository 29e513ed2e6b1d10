"""The proto and the turn model agree: every field of ``Turn`` (and of its nested dataclasses) has a
``hilum.v1`` field of its name and kind, or is in convert.py's explicit lists (``PROTO_TYPED``,
``IN_EXTRA``), and every proto field comes from the model; a real engine turn converted to proto,
sent and read back is its ``to_dict``."""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from orchestrator.dialogue.turn import Answer, Narration, Turn
from orchestrator.grpc_service import convert
from orchestrator.grpc_service.proto import dialog_pb2 as pb

ROOT = Path(__file__).resolve().parents[3]
FILM = ROOT / "orchestrator" / "api" / "data" / "examples" / "phantom-7.dcm"
QUESTIONS = ("How far is it from the right hilum?", "Is there a pneumothorax?", "Describe the margin",
             "Run the early lung cancer checklist", "Compare them")
SCALARS = {int: FieldDescriptor.TYPE_INT32, str: FieldDescriptor.TYPE_STRING, float: FieldDescriptor.TYPE_DOUBLE,
           bool: FieldDescriptor.TYPE_BOOL}


def repeated(fd: FieldDescriptor) -> bool:
    flag = getattr(fd, "is_repeated", None)  # protobuf >= 5.x (``label`` is deprecated there); 4.x: label
    if flag is None:
        return bool(fd.label == FieldDescriptor.LABEL_REPEATED)
    return bool(flag() if callable(flag) else flag)


def json_of(value: Any) -> Any:
    return json.loads(json.dumps(value))


def optional_of(tp: Any) -> Any:
    """X for X | None, else tp."""
    if get_origin(tp) in (Union, types.UnionType):
        rest = [a for a in get_args(tp) if a is not type(None)]
        return rest[0] if len(rest) == 1 else tp
    return tp


# the dataclasses of the turn model and the proto message each one is carried in
MODEL: tuple[tuple[type, Descriptor | None], ...] = (
    (Turn, pb.Turn.DESCRIPTOR), (Answer, pb.Answer.DESCRIPTOR),
    (Narration, None),  # Turn.narration is in IN_EXTRA: no message of its own
)


def kind_problems(name: str, hint: Any, fd: FieldDescriptor) -> list[str]:
    """The proto field is of the model field's kind: repeated for a tuple, Struct for a dict, the
    message of the same name for a dataclass, the matching scalar otherwise."""
    tp = optional_of(hint)
    is_tuple = get_origin(tp) is tuple
    element = get_args(tp)[0] if is_tuple else tp
    problems = [f"{name}: repeated in one and not the other"] if is_tuple != repeated(fd) else []
    if get_origin(element) is dict:
        if fd.message_type is None or fd.message_type.full_name != "google.protobuf.Struct":
            problems.append(f"{name}: a dict in the model, not a Struct in the proto")
    elif dataclasses.is_dataclass(element):
        if fd.message_type is None or fd.message_type.name != element.__name__:
            problems.append(f"{name}: a {element.__name__} in the model, not that message in the proto")
    elif SCALARS.get(element) != fd.type:
        problems.append(f"{name}: {element} in the model, proto type {fd.type}")
    return problems


def agreement(cls: type, message: Descriptor) -> list[str]:
    """What does not agree between dataclass ``cls`` and proto ``message`` (empty: they agree)."""
    problems: list[str] = []
    hints = get_type_hints(cls)
    explicit = {**convert.PROTO_TYPED, **convert.IN_EXTRA} if cls is Turn else {}
    names = [f.name for f in dataclasses.fields(cls)]
    for name in names:
        fd = message.fields_by_name.get(name)
        if name in convert.IN_EXTRA and cls is Turn:
            if fd is not None:
                problems.append(f"{name}: listed in IN_EXTRA but the proto has a field for it")
            continue
        if fd is None:
            problems.append(f"{cls.__name__}.{name}: no proto field of that name and not in convert's lists")
            continue
        if name in convert.PROTO_TYPED and cls is Turn:
            continue  # typed by the proto (checked below)
        problems += kind_problems(name, hints[name], fd)
    for fd in message.fields:
        if fd.name not in names and fd.name != "extra":
            problems.append(f"{message.name}.{fd.name}: no field of the model gives it")
    if "extra" not in message.fields_by_name and any(n not in message.fields_by_name for n in names):
        problems.append(f"{message.name}: fields to carry in extra but no extra field")
    assert not set(explicit) - set(names), "convert's lists name fields the model does not have"
    return problems


@pytest.mark.parametrize(("cls", "message"), [(c, m) for c, m in MODEL if m is not None],
                         ids=lambda x: getattr(x, "__name__", getattr(x, "name", "")))
def test_the_proto_and_the_model_agree(cls: type, message: Descriptor) -> None:
    assert agreement(cls, message) == []


def test_every_nested_dataclass_of_the_turn_is_covered() -> None:
    nested = set()
    todo = [Turn]
    while todo:
        cls = todo.pop()
        nested.add(cls)
        for tp in get_type_hints(cls).values():
            for t in (tp, optional_of(tp), *get_args(optional_of(tp))):
                if isinstance(t, type) and dataclasses.is_dataclass(t) and t not in nested:
                    todo.append(t)
    assert nested == {c for c, _ in MODEL}
    assert "narration" in convert.IN_EXTRA  # Narration travels as JSON in Turn.extra


def test_the_explicit_lists_say_why() -> None:
    for listing in (convert.PROTO_TYPED, convert.IN_EXTRA):
        assert all(isinstance(why, str) and len(why) > 20 for why in listing.values())
    assert not set(convert.PROTO_TYPED) & set(convert.IN_EXTRA)


def test_the_typed_messages_carry_their_known_keys() -> None:
    query = {fd.name for fd in pb.Query.DESCRIPTOR.fields}
    anchor = {fd.name for fd in pb.Anchor.DESCRIPTOR.fields}
    assert query == {*convert.QUERY_STRINGS, *convert.QUERY_LISTS, "extra"}
    assert anchor == {*convert.ANCHOR_STRINGS, *convert.ANCHOR_LISTS, "extra"}


def test_a_field_added_to_the_model_without_a_proto_field_is_caught() -> None:
    @dataclasses.dataclass(frozen=True)
    class Grown(Answer):
        confidence: float = 0.0

    assert agreement(Grown, pb.Answer.DESCRIPTOR) == [
        "Grown.confidence: no proto field of that name and not in convert's lists",
        "Answer: fields to carry in extra but no extra field"]


def round_trip(turn: Turn) -> dict[str, Any]:
    """Over the wire: serialised, parsed, read back."""
    wire = convert.turn_to_proto(turn).SerializeToString()
    message = pb.Turn()
    message.ParseFromString(wire)
    return convert.turn_from_proto(message)


@pytest.fixture(scope="module")
def engine_turns() -> Iterator[tuple[Any, list[Turn]]]:
    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    s = build_services(Settings())
    view = s.engine.create_session(FILM.read_bytes(), "f.dcm", "en")
    for q in QUESTIONS:
        s.engine.ask(view.session_id, q)
    view = s.engine.get_session(view.session_id)
    yield view, list(view.turns)


def test_a_real_turn_round_trips(engine_turns: tuple[Any, list[Turn]]) -> None:
    _, turns = engine_turns
    assert turns[1].intent == "measure_relation" and turns[1].query["side"] == "right"
    for turn in turns:
        back = round_trip(turn)
        assert back == json_of(turn.to_dict())  # the same data (Struct numbers come back as floats: 1 == 1.0)
        assert list(back) == list(turn.to_dict())  # the same keys, in the same order
        assert Turn.from_dict(back) == turn  # and typed again, the same turn
    assert "film_check" in round_trip(turns[0]) and "film_check" not in round_trip(turns[1])


def test_the_brief_example_round_trips() -> None:
    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    s = build_services(Settings())
    v = s.engine.create_session(FILM.read_bytes(), "f.dcm", "en")
    t = s.engine.ask(v.session_id, "How far is it from the right hilum?")
    assert round_trip(t) == json_of(t.to_dict())


def test_a_session_round_trips(engine_turns: tuple[Any, list[Turn]]) -> None:
    view, _ = engine_turns
    message = pb.Session()
    message.ParseFromString(convert.session_to_proto(view).SerializeToString())
    assert convert.session_from_proto(message) == json_of(view.to_dict())
    assert convert.session_to_proto(view) == convert.session_to_proto(view.to_dict())


def test_every_optional_part_round_trips() -> None:
    turn = Turn(
        turn=3, intent="describe_margin", lang="zh",
        query={"side": None, "lobe": "upper", "zone": None, "band": "mid", "anatomy": ["hilum_right"],
               "descriptors": [], "references": ["it"], "ordinal": 2},
        answer=Answer("哪一个?", ({"kind": "clarify", "n": 2},)),
        anchors=({"id": "A1", "kind": "finding", "label": "", "center_px": [1.5, 2.0], "bbox_px": None,
                  "polygon_px": [[1.0, 2.0], [3.0, 4.0]], "finding_id": "F1"},),
        referenced_anchor_ids=("A1",), findings=({"id": "F1", "size_mm": 12.5},),
        measurements=({"kind": "distance", "mm": 30.25},), checklist={"items": [{"sign": "x", "status": "no"}]},
        overlays=({"kind": "box", "anchor_id": "A1"},),
        clarification={"question": "which?", "candidates": [{"anchor_id": "A1"}]},
        narration=Narration("llm", "timeout"), timings={"parse": 0.25, "narrate": 1.5},
        film_check={"is_chest": True, "warnings": []},
    )
    back = round_trip(turn)
    assert back == json_of(turn.to_dict())
    assert Turn.from_dict(back) == turn
    bare = Turn(turn=1, intent="screen", lang="en", query={}, answer=Answer(""))
    assert Turn.from_dict(round_trip(bare)).to_dict() == {
        **bare.to_dict(), "query": {k: None for k in convert.QUERY_STRINGS} | {k: [] for k in convert.QUERY_LISTS}}


def test_a_turn_and_its_json_make_the_same_message(engine_turns: tuple[Any, list[Turn]]) -> None:
    _, turns = engine_turns
    for turn in turns:
        assert convert.turn_to_proto(turn) == convert.turn_to_proto(turn.to_dict())
    extra = convert.turn_to_proto({**turns[1].to_dict(), "question": "q"})
    assert convert.turn_from_proto(extra)["question"] == "q"  # a key the model does not name rides in extra
