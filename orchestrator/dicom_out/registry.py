"""Which image each session's DICOM results reference: an in-process map, bounded like the session
store (TTL and a maximum size), keyed by tenant and session id. A session it does not know (made by
another replica, by gRPC, or before a restart) gets a Secondary Capture of its film instead, and the
objects say so."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from orchestrator.dicom_out.source import SourceImage


class SourceRegistry:
    def __init__(self, ttl_s: float = 3600.0, max_items: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._max, self._clock = float(ttl_s), int(max_items), clock
        self._items: OrderedDict[tuple[str, str], tuple[float, SourceImage]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, tenant: str, session_id: str, source: SourceImage) -> None:
        with self._lock:
            self._items[(tenant, session_id)] = (self._clock(), source)
            self._items.move_to_end((tenant, session_id))
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def get(self, tenant: str, session_id: str) -> SourceImage | None:
        with self._lock:
            item = self._items.get((tenant, session_id))
            if item is None:
                return None
            if self._clock() - item[0] > self._ttl:
                del self._items[(tenant, session_id)]
                return None
            return item[1]

    def forget(self, tenant: str, session_id: str) -> None:
        with self._lock:
            self._items.pop((tenant, session_id), None)
