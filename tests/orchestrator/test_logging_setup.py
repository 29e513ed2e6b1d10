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


def test_a_url_query_in_a_libraries_request_log_is_withheld() -> None:
    """httpx logs every request's URL; a QIDO-RS search by Patient ID carries the ID in the query (``hilum pacs pull
    --earlier``): every ``hilum`` command's handler withholds the query, keeping the path."""
    import logging

    from orchestrator.log_privacy import QUERY_WITHHELD, PrivacyFilter
    from orchestrator.logging_setup import configure_logging

    configure_logging("INFO")
    assert any(isinstance(f, PrivacyFilter) for h in logging.getLogger().handlers for f in h.filters)
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"',
                               ("GET", "http://pacs:8042/dicom-web/studies?PatientID=PAT-123&StudyDate=-20260101",
                                "HTTP/1.1 200 OK"), None)
    PrivacyFilter().filter(record)
    text = record.getMessage()
    assert "PAT-123" not in text and f"/dicom-web/studies{QUERY_WITHHELD}" in text
