"""Turn <-> ``hilum.v1`` messages. ``*_to_proto`` is what the server sends; ``*_from_proto``
rebuilds the same JSON on the client side (numbers inside Structs come back as floats).

The turn is not restated here: ``turn_to_proto`` and ``turn_from_proto`` walk the fields of the
frozen dataclasses of ``orchestrator/dialogue/turn.py`` (``Turn`` and its nested ``Answer``) and
carry each through the proto field of the same name, by that field's kind (scalar, repeated scalar,
``Struct``, repeated ``Struct``, nested message). The values are the turn JSON (``Turn.to_dict``),
so REST and gRPC carry the same data. Explicit handling only where the proto differs:
``PROTO_TYPED`` (open dicts of the dataclass that the proto types) and ``IN_EXTRA`` (fields the
proto carries in ``Turn.extra``); ``tests/orchestrator/grpc_service/test_proto_model.py`` holds both
lists to the proto and the dataclasses."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_type_hints

from google.protobuf import json_format, struct_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from orchestrator.dialogue.turn import Turn
from orchestrator.grpc_service.proto import dialog_pb2 as pb

if TYPE_CHECKING:
    from orchestrator.dialogue.engine import AskEvent, SessionView

QUERY_STRINGS = ("side", "lobe", "zone", "band")
QUERY_LISTS = ("anatomy", "descriptors", "references")
ANCHOR_STRINGS = ("id", "kind", "label")
ANCHOR_LISTS = ("center_px", "bbox_px", "polygon_px")
SESSION_KNOWN = ("session_id", "lang", "image", "turns", "anchors")

# Turn fields that are open dicts in the dataclass and typed messages in the proto (the parser's and
# the anchor registry's known keys as typed fields, any other key in the message's own ``extra``).
PROTO_TYPED: dict[str, str] = {
    "query": "hilum.v1.Query: side/lobe/zone/band as optional strings, anatomy/descriptors/references "
             "as repeated strings, other keys in Query.extra",
    "anchors": "repeated hilum.v1.Anchor: id/kind/label, center_px/bbox_px as doubles, polygon_px as "
               "Points, other keys (finding_id, ...) in Anchor.extra",
}
# Turn fields the proto has no field for: they travel in ``Turn.extra`` as their JSON (as any turn
# key the proto does not name does). They came after hilum.v1 was published; giving them fields now
# would move them on the wire for the clients that read them from ``extra``.
IN_EXTRA: dict[str, str] = {
    "narration": "added with the LLM narrator; in Turn.extra as {source, fallback_reason}",
    "timings": "added with per-stage timing; in Turn.extra as {stage: seconds}",
    "film_check": "added with the film gate (screening turns only); in Turn.extra when present",
}


def jsonable(value: Any) -> Any:
    """Plain JSON types only (tuples -> lists, numpy scalars -> numbers) as Struct requires."""
    return json.loads(json.dumps(value, default=float))


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(jsonable(value))
    return message


def from_struct(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def _extra(d: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in known}


def _repeated(fd: FieldDescriptor) -> bool:
    flag = getattr(fd, "is_repeated", None)  # protobuf >= 5.x (``label`` is deprecated there); 4.x: label
    if flag is None:
        return bool(fd.label == FieldDescriptor.LABEL_REPEATED)
    return bool(flag() if callable(flag) else flag)


def _is_struct(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.full_name == "google.protobuf.Struct"


# --- anchors ---------------------------------------------------------------------------------------
def anchor_to_proto(d: dict[str, Any]) -> pb.Anchor:
    extra = _extra(d, ANCHOR_STRINGS + ANCHOR_LISTS)
    extra.update({k: None for k in ANCHOR_LISTS if k in d and d[k] is None})
    return pb.Anchor(
        **{k: str(d.get(k) or "") for k in ANCHOR_STRINGS},
        center_px=d.get("center_px") or [],
        bbox_px=d.get("bbox_px") or [],
        polygon_px=[pb.Point(x=p[0], y=p[1]) for p in d.get("polygon_px") or []],
        extra=to_struct(extra),
    )


def anchor_from_proto(m: pb.Anchor) -> dict[str, Any]:
    d: dict[str, Any] = {k: getattr(m, k) for k in ANCHOR_STRINGS}
    d["center_px"] = list(m.center_px)
    d["bbox_px"] = list(m.bbox_px)
    d["polygon_px"] = [[p.x, p.y] for p in m.polygon_px]
    d.update(from_struct(m.extra))
    return d


# --- turns -----------------------------------------------------------------------------------------
def query_to_proto(d: dict[str, Any]) -> pb.Query:
    strings = {k: str(d[k]) for k in QUERY_STRINGS if d.get(k) is not None}
    lists = {k: [str(v) for v in d.get(k) or []] for k in QUERY_LISTS}
    return pb.Query(**strings, **lists, extra=to_struct(_extra(d, QUERY_STRINGS + QUERY_LISTS)))


def query_from_proto(m: pb.Query) -> dict[str, Any]:
    d: dict[str, Any] = {k: (getattr(m, k) if m.HasField(k) else None) for k in QUERY_STRINGS}
    d.update({k: list(getattr(m, k)) for k in QUERY_LISTS})
    d.update(from_struct(m.extra))
    return d


def _set_query(message: Any, value: Any) -> None:
    message.query.CopyFrom(query_to_proto(value or {}))


def _set_anchors(message: Any, value: Any) -> None:
    message.anchors.extend(anchor_to_proto(a) for a in value or [])


# the explicit handling of PROTO_TYPED, one writer and one reader per field
_WRITERS: dict[str, Callable[[Any, Any], None]] = {"query": _set_query, "anchors": _set_anchors}
_READERS: dict[str, Callable[[Any], Any]] = {
    "query": lambda m: query_from_proto(m.query),
    "anchors": lambda m: [anchor_from_proto(a) for a in m.anchors],
}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _nested_dataclass(cls: type, name: str) -> type | None:
    tp = _hints(cls).get(name)
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _write(message: Message, cls: type, d: dict[str, Any]) -> None:
    """Fill ``message`` from ``d`` (the JSON of dataclass ``cls``): each field of ``cls`` into the
    proto field of its name by that field's kind; the rest of ``d`` into ``message.extra``."""
    by_name = message.DESCRIPTOR.fields_by_name
    names = tuple(f.name for f in dataclasses.fields(cls))
    carried = {name for name in names if name in by_name}  # every other key travels in extra
    for name in names:
        if name in _WRITERS and cls is Turn:
            _WRITERS[name](message, d.get(name))
            continue
        fd = by_name.get(name)
        if fd is None or name not in d:
            continue  # IN_EXTRA (below), or a key the JSON leaves out
        value = d[name]
        target = getattr(message, name)
        nested = _nested_dataclass(cls, name)
        if _is_struct(fd) and _repeated(fd):
            target.extend(to_struct(item) for item in value or [])
        elif _is_struct(fd):
            if value is not None:
                target.CopyFrom(to_struct(value))
        elif nested is not None:
            target.SetInParent()
            _write(target, nested, value or {})
        elif _repeated(fd):
            target.extend(value or [])
        else:
            setattr(message, name, value)
    if "extra" in by_name:
        message.extra.CopyFrom(to_struct({k: v for k, v in d.items() if k not in carried}))


def _read(message: Message, cls: type) -> dict[str, Any]:
    """The JSON of dataclass ``cls`` from ``message``: the inverse of ``_write``."""
    by_name = message.DESCRIPTOR.fields_by_name
    extra = from_struct(message.extra) if "extra" in by_name else {}  # type: ignore[attr-defined]
    d: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        name, fd = f.name, by_name.get(f.name)
        if name in _READERS and cls is Turn:
            d[name] = _READERS[name](message)
        elif fd is None:
            if name in extra:
                d[name] = extra.pop(name)
        elif _is_struct(fd) and _repeated(fd):
            d[name] = [from_struct(item) for item in getattr(message, name)]
        elif _is_struct(fd):
            d[name] = from_struct(getattr(message, name)) if message.HasField(name) else None
        elif (nested := _nested_dataclass(cls, name)) is not None:
            d[name] = _read(getattr(message, name), nested)
        elif _repeated(fd):
            d[name] = list(getattr(message, name))
        else:
            d[name] = getattr(message, name)
    d.update(extra)
    return d


def turn_to_proto(turn: Turn | dict[str, Any]) -> pb.Turn:
    """The typed turn (or its JSON, ``Turn.to_dict``) as a ``hilum.v1.Turn``."""
    message = pb.Turn()
    _write(message, Turn, turn.to_dict() if isinstance(turn, Turn) else turn)
    return message


def turn_from_proto(m: pb.Turn) -> dict[str, Any]:
    """The turn JSON (``Turn.to_dict``'s keys) of a ``hilum.v1.Turn``; ``Turn.from_dict`` types it."""
    return _read(m, Turn)


# --- sessions --------------------------------------------------------------------------------------
def session_to_proto(view: SessionView | dict[str, Any]) -> pb.Session:
    """A session (the engine's ``SessionView`` or its JSON) as a ``hilum.v1.Session``."""
    d = view if isinstance(view, dict) else view.to_dict()
    return pb.Session(
        session_id=str(d["session_id"]),
        lang=str(d.get("lang") or ""),
        image=to_struct(d.get("image") or {}),
        turns=[turn_to_proto(t) for t in ((d.get("turns") or []) if isinstance(view, dict) else view.turns)],
        anchors=[anchor_to_proto(a) for a in d.get("anchors") or []],
        extra=to_struct(_extra(d, SESSION_KNOWN)),
    )


def session_from_proto(m: pb.Session) -> dict[str, Any]:
    d: dict[str, Any] = {
        "session_id": m.session_id,
        "lang": m.lang or None,
        "image": from_struct(m.image),
        "turns": [turn_from_proto(t) for t in m.turns],
        "anchors": [anchor_from_proto(a) for a in m.anchors],
    }
    d.update(from_struct(m.extra))
    return d


def event_to_proto(event: AskEvent) -> pb.AskEvent:
    if event.kind == "stage":
        return pb.AskEvent(stage=pb.StageEvent(stage=str(event.stage)))
    if event.kind == "text":
        return pb.AskEvent(text=str(event.text))
    assert event.turn is not None  # kind "turn"
    return pb.AskEvent(turn=turn_to_proto(event.turn))
