"""The event loop's flood of one error (accept failures past the fd limit: 250 MB of log in 35 s) is logged once per
window, with the count of what was dropped."""

from __future__ import annotations

import logging

from orchestrator.log_repeats import RepeatFilter, install


def test_the_same_record_passes_once_per_window_with_the_count_dropped() -> None:
    now = [0.0]
    f = RepeatFilter(window_s=10.0, clock=lambda: now[0])

    def rec(msg: str, name: str = "asyncio") -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)

    assert f.filter(rec("socket.accept() out of system resource"))
    assert not any(f.filter(rec("socket.accept() out of system resource")) for _ in range(500))
    assert f.filter(rec("another error"))  # another kind is not held back
    now[0] = 10.5
    later = rec("socket.accept() out of system resource")
    assert f.filter(later) and "500 more like this in the last 10 s not logged" in later.getMessage()
    again = rec("socket.accept() out of system resource")
    now[0] = 21.0
    assert f.filter(again) and "more like this" not in again.getMessage()


def test_install_puts_one_filter_on_the_asyncio_logger() -> None:
    first, second = install(), install()
    assert first is second and first in logging.getLogger("asyncio").filters
