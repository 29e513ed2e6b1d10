"""Engine ``AskEvent`` iterators as NDJSON lines; the first event is pulled before the response
starts so that a bad session or question is still an HTTP error, not a broken stream."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any


def event_dict(event: Any) -> dict[str, Any]:
    if event.kind == "stage":
        return {"kind": "stage", "stage": event.stage}
    if event.kind == "text":
        return {"kind": "text", "text": event.text}
    return {"kind": "turn", "turn": event.turn.to_dict()}


def ndjson_events(events: Iterable[Any]) -> Iterator[bytes]:
    iterator = iter(events)
    first = next(iterator, None)  # raises HilumError here, inside the handler
    head = [] if first is None else [first]
    return (
        (json.dumps(event_dict(e), ensure_ascii=False) + "\n").encode()
        for e in itertools.chain(head, iterator)
    )
