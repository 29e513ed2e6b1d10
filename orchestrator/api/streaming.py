"""Engine ``AskEvent`` iterators as NDJSON lines; the first event is pulled before the response
starts so that a bad session or question is still an HTTP error, not a broken stream.

An error after the first event (the narrator fails, the session store goes away, another replica
stored a turn first) cannot change the response's status any more, so it arrives as the stream's
last line, mapped by the same function as a JSON error body (``orchestrator/api/errors.py``
``http_error``): ``{"kind": "error", "status", "error_kind", "message", "error": {"kind", "message"}}``
(plus ``retry_after_s`` where the error sets one). ``error`` is exactly the JSON body's envelope;
``error_kind`` / ``message`` are what the web page reads to show its catalogue text for the kind.
The message is the public one: it never echoes the question or any other input.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from orchestrator.api.errors import http_error
from orchestrator.errors import HilumError

log = logging.getLogger(__name__)


def event_dict(event: Any) -> dict[str, Any]:
    if event.kind == "stage":
        return {"kind": "stage", "stage": event.stage}
    if event.kind == "text":
        return {"kind": "text", "text": event.text}
    return {"kind": "turn", "turn": event.turn.to_dict()}


def error_event(exc: Exception) -> dict[str, Any]:
    """The stream's error line for ``exc``: the JSON error body's kind and message, and its status."""
    status, kind, message = http_error(exc)
    event: dict[str, Any] = {"kind": "error", "status": status, "error_kind": kind, "message": message,
                             "error": {"kind": kind, "message": message}}
    retry_after_s = getattr(exc, "retry_after_s", None)
    if retry_after_s is not None:
        event["retry_after_s"] = retry_after_s
    return event


def _line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False) + "\n").encode()


def ndjson_events(events: Iterable[Any], observe_error: Callable[[str], None] | None = None) -> Iterator[bytes]:
    """NDJSON lines of ``events``; ``observe_error(kind)`` is told of an error the engine did not
    count itself (anything that is not a ``HilumError``), as the JSON error handler does."""
    iterator = iter(events)
    first = next(iterator, None)  # raises HilumError here, inside the handler
    head = [] if first is None else [first]
    return _lines(itertools.chain(head, iterator), observe_error)


def _lines(events: Iterator[Any], observe_error: Callable[[str], None] | None) -> Iterator[bytes]:
    try:
        for event in events:
            yield _line(event_dict(event))
    except Exception as exc:  # noqa: BLE001 - every failure becomes the stream's error line
        event = error_event(exc)
        if event["status"] >= 500:
            log.error("streamed turn failed after it started", exc_info=exc)
        if observe_error is not None and not isinstance(exc, HilumError):
            observe_error(event["error_kind"])
        yield _line(event)
