"""Logging, configured once by the entry point."""

from __future__ import annotations

import logging
import sys

from orchestrator.log_privacy import PrivacyFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is emitted, not as it was when the handler was
    made: a CLI run inside a test (pytest swaps and later closes its captured stderr) must not leave a
    handler on a closed stream for the service threads that log after it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - the stream of the moment
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_hilum", False) for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(PrivacyFilter())  # every command's log carries no patient data (orchestrator/log_privacy.py)
    handler._hilum = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
