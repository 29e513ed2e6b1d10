"""A log that a flood of one error cannot fill: the same record at most once per window.

When the process runs out of file descriptors (thousands of connections held open), asyncio logs
"socket.accept() out of system resource" with its traceback on every retry: a probe filled 250 MB of
log in 35 s, and the CPU spent writing it slowed the recovery. ``RepeatFilter`` lets the first record
of a kind (logger and message template) through, drops the repeats for ``window_s`` and adds to the next
one let through how many were dropped. ``install()`` puts it on the asyncio logger, whose records are
the event loop's own (accept errors, unhandled exceptions in callbacks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

WINDOW_S = 10.0


class RepeatFilter(logging.Filter):
    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # kind -> (when last let through, dropped since)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            last, dropped = self._seen.get(key, (float("-inf"), 0))
            if now - last < self.window_s:
                self._seen[key] = (last, dropped + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 1000:  # kinds seen long ago are forgotten
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window_s}
        if dropped:
            record.msg = f"{record.msg} ({dropped} more like this in the last {self.window_s:g} s not logged)"
        return True


def install(logger_name: str = "asyncio") -> RepeatFilter:
    logger = logging.getLogger(logger_name)
    existing = next((f for f in logger.filters if isinstance(f, RepeatFilter)), None)
    if existing is not None:
        return existing
    repeats = RepeatFilter()
    logger.addFilter(repeats)
    return repeats
