"""Turn JSON <-> ``hilum.v1`` messages. ``*_to_proto`` is what the server sends; ``*_from_proto``
rebuilds the same JSON on the client side (numbers inside Structs come back as floats)."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format, struct_pb2

from orchestrator.grpc_service.proto import dialog_pb2 as pb

QUERY_STRINGS = ("side", "lobe", "zone", "band")
QUERY_LISTS = ("anatomy", "descriptors", "references")
ANCHOR_STRINGS = ("id", "kind", "label")
ANCHOR_LISTS = ("center_px", "bbox_px", "polygon_px")
TURN_STRUCT_LISTS = ("findings", "measurements", "overlays")
TURN_STRUCTS = ("checklist", "clarification")
TURN_KNOWN = ("turn", "intent", "lang", "query", "answer", "anchors", "referenced_anchor_ids",
              *TURN_STRUCT_LISTS, *TURN_STRUCTS)
SESSION_KNOWN = ("session_id", "lang", "image", "turns", "anchors")


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


def turn_to_proto(d: dict[str, Any]) -> pb.Turn:
    answer = d.get("answer") or {}
    message = pb.Turn(
        turn=int(d.get("turn", 0)),
        intent=str(d.get("intent", "")),
        lang=str(d.get("lang", "")),
        query=query_to_proto(d.get("query") or {}),
        answer=pb.Answer(text=str(answer.get("text", "")),
                         sections=[to_struct(s) for s in answer.get("sections") or []]),
        anchors=[anchor_to_proto(a) for a in d.get("anchors") or []],
        referenced_anchor_ids=[str(i) for i in d.get("referenced_anchor_ids") or []],
        extra=to_struct(_extra(d, TURN_KNOWN)),
    )
    for key in TURN_STRUCT_LISTS:
        getattr(message, key).extend(to_struct(item) for item in d.get(key) or [])
    for key in TURN_STRUCTS:
        if d.get(key) is not None:
            getattr(message, key).CopyFrom(to_struct(d[key]))
    return message


def turn_from_proto(m: pb.Turn) -> dict[str, Any]:
    d: dict[str, Any] = {
        "turn": m.turn,
        "intent": m.intent,
        "lang": m.lang,
        "query": query_from_proto(m.query),
        "answer": {"text": m.answer.text, "sections": [from_struct(s) for s in m.answer.sections]},
        "anchors": [anchor_from_proto(a) for a in m.anchors],
        "referenced_anchor_ids": list(m.referenced_anchor_ids),
    }
    for key in TURN_STRUCT_LISTS:
        d[key] = [from_struct(item) for item in getattr(m, key)]
    for key in TURN_STRUCTS:
        d[key] = from_struct(getattr(m, key)) if m.HasField(key) else None
    d.update(from_struct(m.extra))
    return d


# --- sessions --------------------------------------------------------------------------------------
def session_to_proto(d: dict[str, Any]) -> pb.Session:
    return pb.Session(
        session_id=str(d["session_id"]),
        lang=str(d.get("lang") or ""),
        image=to_struct(d.get("image") or {}),
        turns=[turn_to_proto(t) for t in d.get("turns") or []],
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


def event_to_proto(event: Any) -> pb.AskEvent:
    if event.kind == "stage":
        return pb.AskEvent(stage=pb.StageEvent(stage=str(event.stage)))
    if event.kind == "text":
        return pb.AskEvent(text=str(event.text))
    return pb.AskEvent(turn=turn_to_proto(event.turn.to_dict()))
