"""One upload → what a session starts from: decode, the film gate, the anatomy encoder, the findings
layer and the lesion reader (``FilmAnalysis``). The dialogue engine calls an ``Analyser``:

- ``FilmAnalyser`` runs it in the calling thread (the default, ``HILUM_ANALYSIS_PROCESSES=0``).
- ``AnalysisPool`` runs it in worker processes (``HILUM_ANALYSIS_PROCESSES=N``), each with its own
  encoder and lesion reader built from the same settings. A first turn is ~0.3-0.45 s of CPU, most of
  it under the GIL (numpy, OpenCV and SciPy in many small calls), so in threads every upload stalls
  the follow-up turns of its process; in a worker it does not (``BENCHMARKS.md``, ``poisson_mixed``).
  The workers run ``analysis_nice`` below the server (``os.nice``, default 10): on cores the follow-ups
  share, an upload then takes the CPU they leave rather than a fair half of it.
  Admission: at most ``encoder_queue_size`` films in the pool at once, the next is 429
  ``encoder_overloaded`` at once (the same answer the in-process encoder queue gives). A worker that
  dies (killed, out of memory) fails the films it held with 503 ``encoder`` and a fresh
  pool takes the next ones. Errors raised in a worker (``HilumError`` and its kinds) reach the caller
  as raised; the stage timings come back with the analysis.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.lesion_reader import Frame
from orchestrator.dialogue.session import DicomReference, SourceRecord
from orchestrator.encoders.base import AnatomyEncoder
from orchestrator.encoders.lesion_reader import LesionReader
from orchestrator.errors import EncoderError, EncoderOverloadedError
from orchestrator.facts import FilmCheck, ImageFacts, to_jsonable
from orchestrator.imaging import DecodedFilm
from orchestrator.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class FilmAnalysis:
    """What the analysis establishes from an upload (the one encoder pass of a session)."""

    facts: ImageFacts
    display_png: bytes
    source: SourceRecord
    frame: Frame
    heatmap_png: bytes = b""
    # the facts' canonical JSON (the session's film record and the narrator's prompt prefix), made here so that
    # a worker process, not the server's, pays for it (start_session 6.5 -> 1.0 ms in the server: BENCHMARKS.md)
    facts_json: str = ""
    fine_pixels: bool = False  # the upload's pixels are fine enough for the lesion reader (its sizes, where it read)


class Analyser(Protocol):
    def analyse(self, data: bytes, filename: str | None, timings: dict[str, float], lang: str) -> FilmAnalysis:
        """The upload's analysis; each stage's seconds into ``timings`` (decode, gate, encode, findings, read)."""
        ...

    def close(self) -> None: ...


class FilmAnalyser:
    """The analysis in the calling thread."""

    @staticmethod
    def release_memory() -> None:
        """After a large upload: the heap's free pages back to the system (``orchestrator/memory_return.py``)."""
        from orchestrator import memory_return

        memory_return.trim()

    def __init__(self, encoder: AnatomyEncoder, reader: LesionReader | None, settings: Settings,
                 second_reader: AnatomyEncoder | None = None, alone_reader: AnatomyEncoder | None = None) -> None:
        from orchestrator.encoders.factory import reading_alone_weights
        from orchestrator.encoders.second_reader import alone_tables
        from orchestrator.findings.fitted import calibration_for, entropy_limit_for, served_entropy_limit

        self.encoder, self.reader, self.settings = encoder, reader, settings
        self.entropy_max = served_entropy_limit(settings)  # the certainty limit fitted for the weights in use
        # other weights that read every film too and confirm the main weights' lesions, and the weights that read a
        # film alone where the main weights' maps form no chest: ``alone_reader``, or the second reader itself
        # (orchestrator/encoders/second_reader.py); for whichever reads alone, the certainty limit and confidence
        # tables fitted for its weights (on Triton: the shipped ones)
        self.second_reader = second_reader
        self.alone_reader = alone_reader if alone_reader is not None else second_reader
        alone = second_reader is not None and settings.second_reader_reads_alone
        alone_onnx = reading_alone_weights(settings) if alone_reader is not None else settings.second_reader_onnx_path
        self.second_entropy_max = entropy_limit_for(alone_onnx) if alone else self.entropy_max
        self.second_calibration = alone_tables(calibration_for(alone_onnx)) if alone else None

    def close(self) -> None:
        pass  # the encoder and reader belong to whoever made them

    def analyse(self, data: bytes, filename: str | None, timings: dict[str, float], lang: str = "en") -> FilmAnalysis:
        """Decode, gate (refusing what is not an upright frontal chest film before the encoder runs),
        encode, analyse. Raises InputError subclasses, NotAChestFilmError among them."""
        from orchestrator.imaging import decoded_bytes

        held = [len(data), decoded_bytes(data, filename)]  # what decoding it held: the bytes, or its pixels
        try:
            return self._analyse(data, filename, timings, lang, held)
        finally:
            trim_after = self.settings.malloc_trim_after_bytes
            if trim_after and max(held) > trim_after:  # its arrays, freed: back to the system, not kept by the heap
                self.release_memory()

    def _analyse(self, data: bytes, filename: str | None, timings: dict[str, float], lang: str,
                 held: list[int]) -> FilmAnalysis:
        from orchestrator.film_gate import check_film
        from orchestrator.findings import analyse, estimate_spacing, lesion_heatmap
        from orchestrator.findings.lesion_reading import reader_applies
        from orchestrator.imaging import decode_upload
        from orchestrator.narration.prompt import canonical_json

        film = timed("decode", timings, decode_upload, data, filename, self.settings, self.reader is not None)
        held.append(film.upload_bytes)
        check = timed("gate", timings, check_film, film.image, film.resampling, film.info, lang)
        if self.second_reader is not None:
            maps, theirs = timed("encode", timings, self._encode_twice, film.image)
        else:
            maps, theirs = timed("encode", timings, self.encoder.encode, film.image), None
        spacing = film.spacing or estimate_spacing(maps, film.info.get("spacing_rejected"))
        if self.settings.second_look:  # a lesion counts only if found again at two other scales
            from orchestrator.encoders.second_look import second_look

            maps = timed("second_look", timings, second_look, self.encoder, film.image, maps, spacing)
        if theirs is not None:  # a lesion counts only where the second reader sees it too
            from orchestrator.encoders.second_reader import confirmed

            maps = timed("second_reader", timings, confirmed, maps, theirs, spacing)
        facts = timed("findings", timings, analyse, maps, spacing, check, self.entropy_max)
        if theirs is not None and self.settings.second_reader_reads_alone:
            from orchestrator.encoders.second_reader import reads_alone

            if reads_alone(check, facts):
                facts, maps = timed("second_reader_alone", timings, self._read_alone, film, theirs, check)
        if self.reader is not None and facts.findings:
            facts = timed("read", timings, self._read_lesions, film, facts)
        fine = self.reader is not None and reader_applies(film.original_mm_per_px,
                                                          self.settings.lesion_reader_max_mm_per_px)
        return FilmAnalysis(facts, film.display_png, SourceRecord(film.format, self._kept_reference(film.dicom_reference)),
                            film.frame, lesion_heatmap(facts, maps.lesion), canonical_json(to_jsonable(facts)), fine)

    def _encode_twice(self, image: np.ndarray) -> tuple[AnatomyMaps, AnatomyMaps]:
        """The film through the main weights and the second reader at once (each encoder takes concurrent
        calls: an idle machine pays about one pass of latency)."""
        assert self.second_reader is not None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="second-reader") as pool:
            theirs = pool.submit(self.second_reader.encode, image)
            return self.encoder.encode(image), theirs.result()

    def _read_alone(self, film: DecodedFilm, theirs: AnatomyMaps, check: FilmCheck) -> tuple[ImageFacts, AnatomyMaps]:
        """The film the main weights cannot localise, read from the alone reader's maps (the second reader's own,
        ``theirs``, where it reads alone itself) with their second look, their certainty limit and their
        confidence tables (``orchestrator.encoders.second_reader``)."""
        from orchestrator.encoders.second_look import second_look
        from orchestrator.encoders.second_reader import with_warning
        from orchestrator.findings import analyse, estimate_spacing
        from orchestrator.findings.calibration import tables_of

        lone = self.alone_reader
        assert lone is not None
        if lone is not self.second_reader:
            theirs = lone.encode(film.image)
        spacing = film.spacing or estimate_spacing(theirs, film.info.get("spacing_rejected"))
        looked = second_look(lone, film.image, theirs, spacing)
        with tables_of(self.second_calibration):
            facts = analyse(looked, spacing, check, self.second_entropy_max, read_alone=True)
        return (with_warning(facts) if facts.film_check.localisable else facts), looked

    def _read_lesions(self, film: DecodedFilm, facts: ImageFacts) -> ImageFacts:
        """The focal findings' margins read on the upload's own pixels, all in one reader call
        (``orchestrator.findings.lesion_reading``); films with coarse pixels keep the lesion map's."""
        from orchestrator.contracts.lesion_reader import MAX_CROPS
        from orchestrator.encoders.lesion_reader import read_candidates
        from orchestrator.findings.lesion_reading import (
            candidate_masks,
            reader_applies,
            refine_facts,
            to_read,
        )

        if self.reader is None or film.original is None or not reader_applies(
                film.original_mm_per_px, self.settings.lesion_reader_max_mm_per_px):
            return facts
        indices = to_read(facts)[:MAX_CROPS]
        if not indices:
            return facts
        masks = candidate_masks(facts, indices)
        try:
            readings = read_candidates(self.reader, film.original, film.original_mm_per_px, film.frame,
                                       [facts.findings[i].center_px for i in indices], masks)
        except EncoderError as exc:  # the reader down: the lesion map's margins, hedged as ever
            log.warning("lesion reader unavailable, margins from the lesion map: %s", exc.message)
            return facts
        sizes_from = (film.original_mm_per_px, film.frame) if self.settings.lesion_reader_sizes else None
        return refine_facts(facts, indices, readings, back_smooth=self.settings.lesion_reader_backs_smooth,
                            state_spicules=self.settings.lesion_reader_states_spicules, sizes_from=sizes_from)

    def _kept_reference(self, ref: DicomReference | None) -> DicomReference | None:
        """What the session keeps of a DICOM upload's header: as read, or de-identified
        (``Settings.deidentify``: ``orchestrator.deidentify``) before anything is stored."""
        if ref is None or not self.settings.deidentify:
            return ref
        from orchestrator.deidentify import deidentify_header

        return replace(ref, header=tuple(deidentify_header(ref.header_dict()).items()))


def film_outcome(facts: ImageFacts) -> str:
    """What became of a film the gate accepted: "read", "read_alone" or "withheld" (``observer.FILM_OUTCOMES``)."""
    from orchestrator.encoders.second_reader import WARNING

    check = facts.film_check
    if check is not None and not check.localisable:
        return "withheld"
    return "read_alone" if check is not None and WARNING in check.warnings else "read"


def timed(stage: str, timings: dict[str, float], fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)``, its seconds into ``timings[stage]`` (the engine also reports them to its observer)."""
    t0 = time.perf_counter()
    out = fn(*args)
    timings[stage] = round(time.perf_counter() - t0, 6)
    return out


# --- worker processes --------------------------------------------------------------------------------
_worker: FilmAnalyser | None = None


def warm_encoder(encoder: AnatomyEncoder) -> None:
    """One blank working-size film through ``encoder``, so that the first upload does not pay for its start."""
    from orchestrator.contracts.preprocess import WORKING_SIZE

    encoder.encode(np.zeros((WORKING_SIZE, WORKING_SIZE), dtype=np.float32))


def _start_worker(settings: Settings) -> None:
    """A worker's own encoder and reader, warmed with one blank film, at ``settings.analysis_nice`` (set
    before the encoder starts its threads, which inherit it)."""
    global _worker
    if settings.analysis_nice:
        os.nice(settings.analysis_nice)
    from orchestrator.encoders.factory import build_encoder, build_lesion_reader, build_other_readers

    encoder, (second_reader, alone_reader) = build_encoder(settings), build_other_readers(settings)
    _worker = FilmAnalyser(encoder, build_lesion_reader(settings), settings, second_reader, alone_reader)
    try:
        warm_encoder(encoder)
        for other in (second_reader, alone_reader):
            if other is not None:
                warm_encoder(other)
    except Exception:  # noqa: BLE001 - an encoder not up yet (Triton): the first film says so
        log.warning("the analysis worker's encoder did not answer its warm-up film")


def _ping() -> bool:
    return _worker is not None


def _analyse_in_worker(data: bytes, filename: str | None, lang: str) -> tuple[FilmAnalysis, dict[str, float]]:
    assert _worker is not None, "the pool's initializer builds the worker"
    timings: dict[str, float] = {}
    return _worker.analyse(data, filename, timings, lang), timings


class AnalysisPool:
    """The analysis in ``processes`` worker processes (spawned: the server's threads are not forked)."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings, self.processes = settings, max(1, processes)
        self.limit = max(1, settings.encoder_queue_size)
        self._lock = threading.Lock()
        self._inflight = 0
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self.settings,))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def warm(self) -> None:
        """Starts every worker (each builds and warms its encoder) before the service says it is ready."""
        for future in [self._pool.submit(_ping) for _ in range(self.processes)]:
            future.result()

    def worker_pids(self) -> list[int]:
        return [p.pid for p in (getattr(self._pool, "_processes", None) or {}).values() if p.pid is not None]

    def analyse(self, data: bytes, filename: str | None, timings: dict[str, float], lang: str = "en") -> FilmAnalysis:
        with self._lock:
            if self._inflight >= self.limit:
                raise EncoderOverloadedError(f"{self._inflight} films are being analysed, the most this server "
                                             "takes at once: try again shortly")
            self._inflight += 1
            pool = self._pool
        try:
            future = pool.submit(_analyse_in_worker, data, filename, lang)
            film, worker_timings = future.result()
        except BrokenExecutor:
            self._replace(pool)
            raise EncoderError("the film analysis process stopped: try again") from None
        finally:
            with self._lock:
                self._inflight -= 1
        timings.update(worker_timings)
        return film

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A fresh pool for the next films (once, however many films saw the broken one)."""
        with self._lock:
            if self._pool is not broken:
                return
            log.error("an analysis worker process died; starting a new pool")
            self._pool = self._new_pool()
        broken.shutdown(wait=False, cancel_futures=True)
