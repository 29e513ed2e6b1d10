"""Logs that carry no patient data: a filter on the process's log handlers.

Hilum's own log lines are written without input values (no filename, question or DICOM value
is ever a log argument). What can still carry them is text made elsewhere: an exception's
message (a decoder quoting a tag value, a path with the upload's name) and third-party
libraries' warnings (pydicom quotes the values it finds invalid; Python warnings are routed
into logging here) and their request logs (httpx logs each URL, and a QIDO-RS search carries a
Patient ID in its query). ``PrivacyFilter`` keeps every traceback's frames but replaces the
exception's message with its type, and in third-party records replaces quoted text with
``'<redacted>'``, a URL's query with ``?<query withheld>`` and a DICOMweb path's UIDs with ``<uid>``. ``configure_logging`` puts it on the
handler every ``hilum`` command logs through. ``install()`` puts it on the root's and uvicorn's handlers (after uvicorn has
configured its own)."""

from __future__ import annotations

import logging
import re
import traceback

OWN_LOGGERS = ("orchestrator", "encoder", "export", "hilum")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|b'[^']*'")
# a URL's query in a third-party record (httpx logs each request's URL: a QIDO-RS search carries a Patient ID there)
_URL_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s?\"'<>]+)\?[^\s\"'<>]*")
QUERY_WITHHELD = "?<query withheld>"
# ... and its path (a DICOMweb URL names the study, series and instance by their UIDs: identifiers, PS3.15)
_DICOMWEB_UID = re.compile(r"(/(?:studies|series|instances)/)[0-9.]+")
UID_WITHHELD = "<uid>"
WITHHELD = "(message withheld: it may quote the input)"


def _scrub_exception(record: logging.LogRecord) -> None:
    etype, exc, tb = record.exc_info  # type: ignore[misc]
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    name = etype.__name__ if etype is not None else type(exc).__name__
    record.exc_text = f"Traceback (most recent call last):\n{frames}{name}: {WITHHELD}"
    record.exc_info = None


class PrivacyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            _scrub_exception(record)
        if not record.name.startswith(OWN_LOGGERS):
            message = _URL_QUERY.sub(lambda m: m.group(1) + QUERY_WITHHELD, record.getMessage())
            message = _DICOMWEB_UID.sub(lambda m: m.group(1) + UID_WITHHELD, message)
            message = _QUOTED.sub("'<redacted>'", message)
            record.msg, record.args = message, None
        return True


def install() -> PrivacyFilter:
    """The filter on every handler of the root and uvicorn loggers; Python warnings into logging."""
    logging.captureWarnings(True)
    privacy = PrivacyFilter()
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "py.warnings"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
                handler.addFilter(privacy)
    return privacy
