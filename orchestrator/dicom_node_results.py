"""The DICOM node's results into a PACS: a film pushed to ``hilum serve --dicom-port`` becomes a session
(``orchestrator/dicom_scp.py``); when a PACS is configured (``HILUM_PACS_DICOMWEB_URL``), that session's
SR and presentation state are stored into the film's study (STOW-RS), and each later version of the SR
after a reader's follow-ups, the same way ``hilum pacs`` does for the films it pulls.

It is the poller's own machinery (``orchestrator/pacs.py``: ``PacsPoller``, its state file, exactly-once
storing, backoff, follow-ups) with two differences: the films are announced by the node instead of found
by QIDO-RS, and the sessions are read from the engine in this process (``EngineResults``), not over
HTTP. The C-STORE answer does not wait for the PACS: the node queues the session and a background
thread stores its results, retrying a PACS that is down with the poller's backoff.

State: ``HILUM_DICOM_RESULTS_STATE_FILE``, else one file per PACS under the cache folder; one node per
state file (its lock is held while the node runs). A restarted node keeps what it stored; a session it
had not finished storing and that the engine no longer has (in-process sessions die with the process;
Redis-backed ones do not) is recorded as skipped (``session_gone``). Logs name the session, never a
patient attribute.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from pathlib import Path

from orchestrator.dialogue.service import DialogueService
from orchestrator.dicom_out.objects import DicomObjects, encode
from orchestrator.errors import HilumError, SessionNotFoundError
from orchestrator.pacs import (
    SKIPPED,
    DicomWebClient,
    FilmRecord,
    PacsError,
    PacsPoller,
    PacsUsageError,
    PassReport,
    PollerState,
    SessionGoneError,
    SessionObject,
    state_path,
)
from orchestrator.settings import Settings
from orchestrator.tenancy import DEFAULT_TENANT

log = logging.getLogger(__name__)


class EngineResults:
    """A session's turn count and DICOM results from the engine in this process (``ResultSource``)."""

    def __init__(self, engine: DialogueService) -> None:
        self.engine = engine
        self.objects_of = DicomObjects(engine)

    def turn_count(self, record: FilmRecord) -> int:
        try:
            return len(self.engine.get_session(str(record.session_id), record.tenant or DEFAULT_TENANT).turns)
        except SessionNotFoundError:
            raise SessionGoneError("Hilum no longer has this session (session_not_found)") from None
        except HilumError as exc:  # the session store unreachable, and the like: tried again later
            raise PacsError(f"the session could not be read ({exc.kind})") from None

    def objects(self, record: FilmRecord, kinds: tuple[str, ...]) -> list[SessionObject]:
        out: list[SessionObject] = []
        for kind in kinds:
            try:
                ds, source = self.objects_of.build_with_source(kind, str(record.session_id),  # type: ignore[arg-type]
                                                               record.tenant or DEFAULT_TENANT)
            except SessionNotFoundError:
                raise SessionGoneError("Hilum no longer has this session (session_not_found)") from None
            except HilumError as exc:
                raise PacsError(f"Hilum could not build this session's {kind} ({exc.kind})") from None
            if source.kind != "dicom":  # never: the node only announces DICOM films
                raise PacsUsageError("this session's film did not come from DICOM: its results are not filed in a PACS")
            out.append((kind, encode(ds), ds))
        return out


class NodePoller(PacsPoller):
    """A ``PacsPoller`` whose films come from the node: a session the engine lost before its results were
    stored cannot be made again here (the film is not in the PACS to fetch), so it is skipped."""

    def _first_turn(self, sop: str, record: FilmRecord) -> None:
        record.status, record.reason, record.session_id, record.error = SKIPPED, "session_gone", None, None
        self.state.save()
        log.warning("a DICOM node session was gone before its results were stored; skipped")


def default_state_path(settings: Settings, dicomweb_url: str) -> Path:
    return state_path(settings.dicom_results_state_file, settings.cache_dir / "dicom-node-results", dicomweb_url)


class ResultSender:
    """A background thread that stores the node's sessions' results into the PACS (see the module)."""

    def __init__(self, engine: DialogueService, settings: Settings, pacs: DicomWebClient,
                 state_path: Path | None = None) -> None:
        self.settings, self.pacs = settings, pacs
        self.state_path = state_path or default_state_path(settings, str(pacs.http.base_url))
        self.engine = engine
        self._incoming: queue.SimpleQueue[tuple[str, FilmRecord]] = queue.SimpleQueue()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._lock = contextlib.ExitStack()
        self._thread: threading.Thread | None = None
        self.poller: NodePoller | None = None
        self.passes = 0  # completed passes (tests wait on it)
        self.last_report = PassReport()

    @staticmethod
    def from_settings(engine: DialogueService, settings: Settings) -> ResultSender | None:
        """A sender when ``HILUM_PACS_DICOMWEB_URL`` is set, else None (results stay in Hilum)."""
        if not settings.pacs_dicomweb_url:
            return None
        return ResultSender(engine, settings, DicomWebClient.from_settings(settings))

    def start(self) -> ResultSender:
        """Takes the state file's lock (another node on it: ``PacsUsageError``), loads it, starts the thread."""
        self._lock.enter_context(PollerState(self.state_path).locked())
        try:
            state = PollerState.load(self.state_path)
        except BaseException:
            self._lock.close()
            raise
        s = self.settings
        self.poller = NodePoller(self.pacs, None, state, results=EngineResults(self.engine),
                                 retry_base_s=s.pacs_retry_base_s, retry_max_s=s.pacs_retry_max_s)
        self._thread = threading.Thread(target=self._run, name="hilum-dicom-results", daemon=True)
        self._thread.start()
        return self

    def add(self, sop_uid: str, study_uid: str, series_uid: str, session_id: str, tenant: str) -> None:
        """A film the node made a session of: its results are stored on the next pass (soon)."""
        self._incoming.put((sop_uid, FilmRecord(study_uid, series_uid, status="session", session_id=session_id,
                                                tenant=tenant)))
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._lock.close()
        self.pacs.close()

    def _run(self) -> None:
        assert self.poller is not None
        poller = self.poller
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._take_incoming(poller)
                report = poller.run_pending()
            except Exception:  # noqa: BLE001 - the thread outlives any one pass; the next pass tries again
                log.exception("a pass storing the DICOM node's results failed")
                report = PassReport()
            self.last_report, self.passes = report, self.passes + 1
            for row in report.processed:
                log.info("session %s: SR and presentation state stored in the PACS", row["session_id"])
            for row in report.updated:
                log.info("session %s: SR version for %d turns stored in the PACS", row["session_id"], row["turns"])
            for row in report.failed + report.follow_up_failed:
                log.warning("storing a DICOM node result failed (%s); tried again later", row["error"]["kind"])
            self._wake.wait(poller.next_wake(self.settings.pacs_poll_interval_s))

    def _take_incoming(self, poller: NodePoller) -> None:
        taken = False
        while True:
            try:
                sop, record = self._incoming.get_nowait()
            except queue.Empty:
                break
            if sop not in poller.state.films:  # the same film sent twice: its first session stands
                poller.state.films[sop] = record
                taken = True
        if taken:
            poller.state.save()
