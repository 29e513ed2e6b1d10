"""Memory that goes back to the system after a large upload.

A film's decoding makes arrays of tens to hundreds of MB (a 6000² film in float32 is 144 MB). glibc serves
allocations over its mmap threshold with their own mappings, returned when freed; but the threshold moves up to the
size of the largest such block freed (up to 32 MB), so after one large upload the next ones' arrays come from the heap,
whose freed pages the process keeps: a robustness probe saw a server's resting RSS go from 330 MB to 1.7 GB after six
colour uploads, and stay there. ``trim`` (glibc's ``malloc_trim``) gives the heap's free pages back; the analysis calls
it after an upload of more than ``settings.malloc_trim_after_bytes`` (``orchestrator/film_analysis.py``), refused or
not. Measured (``hilum serve`` on this 2-core machine, six 4500 × 4000 colour JPEGs three at a time, then 15 phantom
DICOMs; two runs each): resting RSS 703-705 MB without, 300-324 MB with, the DICOM uploads (under the size, never
trimmed) as fast.
Fixing the mmap threshold at 8 MB instead returned as much but made every first turn ~15% slower (its 14-channel maps
were mapped and unmapped each time). glibc only; elsewhere ``trim`` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from pathlib import Path


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes, fn.restype = (ctypes.c_size_t,), ctypes.c_int
    return fn


def resident_bytes(pid: int) -> int:
    """A process's resident set size in bytes, from ``/proc`` (Linux): what the tests and the load test weigh a trim
    by; -1 where ``/proc`` does not say."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return -1


def trim() -> bool:
    """Give the heap's free pages back to the system; whether any were (False where glibc is not)."""
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
