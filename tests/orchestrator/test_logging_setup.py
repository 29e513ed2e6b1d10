"""``configure_logging``: its handler writes to the stderr of the moment, so a stream swapped and closed
after the CLI configured logging (pytest's capture) never makes a later record fail."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from orchestrator.logging_setup import configure_logging


def test_records_go_to_the_current_stderr_after_the_old_one_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    monkeypatch.setattr(root, "level", root.level)
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    try:
        configure_logging("INFO")
        logging.getLogger("hilum.test").info("one")
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("hilum.test").info("two")  # a closed stream would print "--- Logging error ---"
        assert second.getvalue().rstrip().endswith("INFO hilum.test: two")
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
