"""The freed heap goes back to the system after a large upload (orchestrator/memory_return.py)."""

from __future__ import annotations

import io
import platform

import numpy as np
from PIL import Image

from orchestrator import memory_return
from orchestrator.film_analysis import FilmAnalyser
from orchestrator.settings import Settings


class CountingAnalyser(FilmAnalyser):
    """The analyser with its memory release counted (no encoder: the uploads here are refused before it)."""

    released = 0

    def release_memory(self) -> None:  # type: ignore[override]
        CountingAnalyser.released += 1


def _refused(analyser: FilmAnalyser, data: bytes) -> None:
    try:
        analyser.analyse(data, "photo.png", {}, "en")
    except Exception:  # noqa: BLE001 - a colour photo is refused at the gate: refused or not, the release follows
        return
    raise AssertionError("a colour photo was read as a chest film")


def test_trim_runs_here() -> None:
    assert isinstance(memory_return.trim(), bool)
    if platform.libc_ver()[0] == "glibc":
        assert memory_return._malloc_trim() is not None


def test_a_large_upload_is_followed_by_a_release_refused_or_not() -> None:
    photo = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (900, 700, 3), dtype=np.uint8)).save(photo, format="PNG")
    data = photo.getvalue()
    assert len(data) > Settings().malloc_trim_after_bytes
    CountingAnalyser.released = 0
    _refused(CountingAnalyser(None, None, Settings()), data)  # type: ignore[arg-type]
    assert CountingAnalyser.released == 1
    _refused(CountingAnalyser(None, None, Settings(malloc_trim_after_bytes=0)), data)  # type: ignore[arg-type]
    decoded = 900 * 700 * 4  # the film as float32, more than the PNG's bytes
    _refused(CountingAnalyser(None, None, Settings(malloc_trim_after_bytes=decoded)), data)  # type: ignore[arg-type]
    assert CountingAnalyser.released == 1  # 0: never; an upload that held no more than the setting: not released


def test_a_small_file_that_decodes_large_is_followed_by_a_release() -> None:
    """A 280 KB PNG declaring 36 million pixels held 600 MB while it was read, and kept most of it after (a release
    followed only uploads of more than 1 MB of their own bytes); now what its pixels hold decides, refused or not."""
    film = io.BytesIO()
    Image.fromarray(np.full((1500, 1500), 128, dtype=np.uint8)).save(film, format="PNG")
    data = film.getvalue()
    assert len(data) < 64 * 1024 < 1500 * 1500 * 4
    CountingAnalyser.released = 0
    _refused(CountingAnalyser(None, None, Settings(malloc_trim_after_bytes=1 << 20)), data)  # type: ignore[arg-type]
    assert CountingAnalyser.released == 1


def test_resident_bytes_reads_a_process_resident_set() -> None:
    """What the hostile-input test and the memory load test weigh a trim by: this process's RSS, and more of it after
    touching 64 MB."""
    import os

    import numpy as np

    from orchestrator.memory_return import resident_bytes

    before = resident_bytes(os.getpid())
    block = np.ones(64 * 1024 * 1024, dtype=np.uint8)
    assert before > 10 * 1024 * 1024 and resident_bytes(os.getpid()) > before + 32 * 1024 * 1024
    del block
