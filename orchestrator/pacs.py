"""Hilum and a PACS, over DICOMweb (httpx): pull a study's chest films into Hilum sessions, push a
session's results back into the study.

- **pull** (``pull_study``): QIDO-RS lists the study's instances; the DX/CR ones that are not
  lateral views (ViewPosition PA, AP or absent: the film gate decides the rest) are fetched with
  WADO-RS and uploaded to a running Hilum (``POST /v1/sessions``), which runs the screening turn.
  Each session keeps the film's UIDs in its ``source`` record (``orchestrator/dialogue/session.py``).
  ``--earlier``: the patient's most recent earlier study with a frontal film (QIDO-RS by Patient ID and Study Date,
  ``earlier_film``) is fetched too and uploaded with each film as its earlier film, to be compared.
- **push** (``push_session``): the session's SR (TID 1500) and presentation state (and, asked for,
  the segmentation) come from Hilum (``GET /v1/sessions/{id}/dicom/{kind}``) and are stored into the
  film's study with STOW-RS. A session whose film was not DICOM is refused: its results reference
  a Hilum secondary capture, in a study of its own, and are never filed under a patient.

- **poll** (``PacsPoller``, ``hilum pacs --dicomweb URL [--once]``): QIDO-RS over the whole archive for
  DX/CR instances the poller's state file does not know; each frontal one is pulled into a session and
  its SR and presentation state pushed into its study, exactly once across kills and restarts (see
  the class); failures are retried with backoff on later passes.

Settings: ``HILUM_PACS_DICOMWEB_URL``, ``HILUM_PACS_USERNAME``, ``HILUM_PACS_PASSWORD`` (HTTP basic),
``HILUM_PACS_TIMEOUT_S``; the poller's ``HILUM_PACS_STATE_FILE``, ``HILUM_PACS_POLL_INTERVAL_S``,
``HILUM_PACS_RETRY_BASE_S``, ``HILUM_PACS_RETRY_MAX_S``, ``HILUM_PACS_PAGE_SIZE``. Errors name the step
and the HTTP status, never a patient attribute.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pydicom

from orchestrator.dicom_out.source import valid_uid
from orchestrator.errors import HilumError
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

CHEST_MODALITIES = frozenset({"DX", "CR"})
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"})
QIDO_FIELDS = ("00080016", "00080060", "00185101", "0020000E")  # SOP class, modality, view, series


class PacsError(HilumError):
    http_status = 502
    grpc_code = "UNAVAILABLE"
    kind = "pacs_error"


class PacsUsageError(HilumError):
    http_status = 400
    grpc_code = "INVALID_ARGUMENT"
    kind = "pacs_usage"


class DeidentifiedResultsError(PacsUsageError):
    """A session's results are de-identified (``HILUM_DEIDENTIFY``): never filed in a PACS. Filed by the film's
    UIDs under no patient, they made a second, nameless patient in the identified study, and every de-identified
    study one patient (``ANONYMIZED``). The poller and the DICOM node skip such a film for good."""

    kind = "deidentified_results"


def check_uid(value: str, what: str) -> str:
    if not valid_uid(value):
        raise PacsUsageError(f"the {what} is not a valid DICOM UID")
    return value


def _first(item: dict[str, Any], tag: str) -> str:
    values = (item.get(tag) or {}).get("Value") or []
    return str(values[0]) if values else ""


def parse_multipart(content_type: str, body: bytes) -> list[bytes]:
    """The parts of a ``multipart/related`` body (RFC 2387), their headers dropped."""
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not m:
        raise PacsError("the PACS answered WADO-RS without a multipart boundary")
    delimiter = b"--" + m.group(1).encode("latin-1")
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        parts.append(payload[:-2] if payload.endswith(b"\r\n") else payload)
    return parts


class DicomWebClient:
    """QIDO-RS, WADO-RS and STOW-RS against one DICOMweb root."""

    def __init__(self, base_url: str, *, username: str | None = None, password: str | None = None,
                 timeout_s: float = 60.0) -> None:
        auth = httpx.BasicAuth(username, password or "") if username else None
        self.http = httpx.Client(base_url=base_url.rstrip("/"), auth=auth, timeout=timeout_s)

    @staticmethod
    def from_settings(settings: Settings, url: str | None = None) -> DicomWebClient:
        base = url or settings.pacs_dicomweb_url
        if not base:
            raise PacsUsageError("no PACS: set HILUM_PACS_DICOMWEB_URL or pass --dicomweb URL")
        password = settings.pacs_password.get_secret_value() if settings.pacs_password else None
        return DicomWebClient(base, username=settings.pacs_username, password=password,
                              timeout_s=settings.pacs_timeout_s)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DicomWebClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, step: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise PacsError(f"the PACS could not be reached for {step} ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise PacsError(f"the PACS refused {step} ({response.status_code}): check HILUM_PACS_USERNAME / "
                            "HILUM_PACS_PASSWORD")
        if response.status_code >= 400:
            raise PacsError(f"the PACS answered {step} with HTTP {response.status_code}")
        return response

    def instances(self, study_uid: str) -> list[dict[str, Any]]:
        """QIDO-RS: the study's instances (DICOM JSON), with SOP class, modality, view and series."""
        check_uid(study_uid, "study UID")
        params = [("includefield", f) for f in QIDO_FIELDS]
        r = self._send("QIDO-RS", "GET", f"/studies/{study_uid}/instances", params=params,
                       headers={"Accept": "application/dicom+json"})
        if r.status_code == 204 or not r.content:
            return []
        items = r.json()
        return items if isinstance(items, list) else []

    def search(self, modality: str, *, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """QIDO-RS over the whole archive: one page of the instances of ``modality``."""
        params: list[tuple[str, str | int]] = [("Modality", modality), ("offset", offset), ("limit", limit)]
        params += [("includefield", f) for f in ("0020000D", *QIDO_FIELDS)]
        r = self._send("QIDO-RS", "GET", "/instances", params=params, headers={"Accept": "application/dicom+json"})
        if r.status_code == 204 or not r.content:
            return []
        items = r.json()
        return items if isinstance(items, list) else []

    def studies(self, **match: str) -> list[dict[str, Any]]:
        """QIDO-RS over studies matching ``match`` (keyword -> value), with their patient ID and study date."""
        params: list[tuple[str, str]] = [(k, v) for k, v in match.items()]
        params += [("includefield", f) for f in ("00100020", "00080020")]
        r = self._send("QIDO-RS", "GET", "/studies", params=params, headers={"Accept": "application/dicom+json"})
        if r.status_code == 204 or not r.content:
            return []
        items = r.json()
        return items if isinstance(items, list) else []

    def retrieve(self, study_uid: str, series_uid: str, instance_uid: str) -> bytes:
        """WADO-RS: one instance as a DICOM file."""
        for uid, what in ((study_uid, "study UID"), (series_uid, "series UID"), (instance_uid, "instance UID")):
            check_uid(uid, what)
        r = self._send("WADO-RS", "GET", f"/studies/{study_uid}/series/{series_uid}/instances/{instance_uid}",
                       headers={"Accept": 'multipart/related; type="application/dicom"'})
        parts = parse_multipart(r.headers.get("content-type", ""), r.content)
        if len(parts) != 1:
            raise PacsError(f"the PACS answered WADO-RS with {len(parts)} parts, expected 1")
        return parts[0]

    def store(self, objects: list[bytes], study_uid: str) -> list[str]:
        """STOW-RS into ``study_uid``; the SOP Instance UIDs the PACS stored. Raises when it failed any."""
        check_uid(study_uid, "study UID")
        boundary = uuid.uuid4().hex
        body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + o + b"\r\n"
                        for o in objects) + b"--" + boundary.encode() + b"--\r\n"
        r = self._send("STOW-RS", "POST", f"/studies/{study_uid}", content=body, headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json"})
        answer = r.json() if r.content else {}
        failed = (answer.get("00081198") or {}).get("Value") or []
        if failed:
            raise PacsError(f"the PACS refused {len(failed)} of {len(objects)} objects (STOW-RS)")
        stored = (answer.get("00081199") or {}).get("Value") or []
        return [_first(item, "00081155") for item in stored]


@dataclass(frozen=True)
class PulledFilm:
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    session_id: str | None = None
    findings: int = 0
    skipped: str | None = None  # why no session was made: not_chest_modality, lateral_view, or Hilum's error kind
    earlier_study_uid: str | None = None  # the patient's earlier study whose film the session was compared with
    earlier_skipped: str | None = None  # why the earlier film found was not compared (Hilum's error kind)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class PushedObject:
    kind: str
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    dciodvfy_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def hilum_http(base_url: str, api_key: str | None, tenant: str | None, timeout_s: float = 300.0) -> httpx.Client:
    headers = {"X-Hilum-Tenant": tenant} if tenant else {}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)


def _hilum_error(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["kind"])
    except (ValueError, KeyError, TypeError):
        return f"http_{response.status_code}"


def select_films(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """The study's DX/CR instances that are not lateral views; the others with why they were left."""
    chosen, left = [], []
    for item in items:
        modality, view = _first(item, "00080060").upper(), _first(item, "00185101").upper()
        if modality not in CHEST_MODALITIES:
            left.append((item, "not_chest_modality"))
        elif view in LATERAL_VIEWS:
            left.append((item, "lateral_view"))
        else:
            chosen.append(item)
    return chosen, left


# a QIDO-RS match value with these matches more than itself (wildcards, a value list): never sent as a patient ID
_QIDO_SPECIAL = re.compile(r"[*?\\,]")


def earlier_film(pacs: DicomWebClient, study_uid: str, patient: str = "", date: str = "") -> tuple[str, bytes] | None:
    """The same patient's most recent earlier study with a frontal DX/CR film: (its study UID, the film); None when
    the study names no patient ID or date, or the patient has no such study. Studies are matched by Patient ID in
    the same archive (a study on the same day counts as earlier: films minutes apart are compared too). ``patient``
    and ``date`` (YYYYMMDD): the film's own, where it is not in the archive yet (a film pushed to the DICOM node);
    else the archive is asked for them."""
    check_uid(study_uid, "study UID")
    if not (patient and date):
        found = pacs.studies(StudyInstanceUID=study_uid)
        patient = _first(found[0], "00100020") if found else ""
        date = _first(found[0], "00080020") if found else ""
    if not patient or not re.fullmatch(r"\d{8}", date) or _QIDO_SPECIAL.search(patient):
        return None
    earlier = [s for s in pacs.studies(PatientID=patient, StudyDate=f"-{date}")
               if _first(s, "0020000D") != study_uid and _first(s, "00100020") == patient]
    for study in sorted(earlier, key=lambda s: _first(s, "00080020"), reverse=True):
        uid = _first(study, "0020000D")
        if not valid_uid(uid):
            continue
        chosen, _ = select_films(pacs.instances(uid))
        if chosen:
            return uid, pacs.retrieve(uid, _first(chosen[0], "0020000E"), _first(chosen[0], "00080018"))
    return None


def upload_film(hilum: httpx.Client, data: bytes, lang: str | None, earlier: bytes | None = None
                ) -> tuple[httpx.Response, str | None]:
    """``POST /v1/sessions`` with the film, and its earlier film where one is given: (Hilum's answer, why the earlier
    film was not compared). An earlier film Hilum refuses (its error's ``subject`` is ``earlier``) leaves the film
    uploaded on its own."""
    files = {"file": ("film.dcm", data, "application/dicom")}
    form = {"lang": lang} if lang else {}
    if earlier is None:
        return hilum.post("/v1/sessions", files=files, data=form), None
    r = hilum.post("/v1/sessions", files={**files, "earlier": ("earlier.dcm", earlier, "application/dicom")},
                   data=form)
    if r.status_code >= 400 and _error_subject(r) == "earlier":
        return hilum.post("/v1/sessions", files=files, data=form), _hilum_error(r)
    return r, None


def _error_subject(response: httpx.Response) -> str | None:
    try:
        return response.json()["error"].get("subject")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def pull_study(pacs: DicomWebClient, hilum: httpx.Client, study_uid: str, lang: str | None = None,
               with_earlier: bool = False) -> list[PulledFilm]:
    """Each frontal DX/CR film of the study → a Hilum session with its screening turn; ``with_earlier``: uploaded
    with the patient's most recent earlier frontal film (``earlier_film``), which the session compares it with."""
    items = pacs.instances(check_uid(study_uid, "study UID"))
    chosen, left = select_films(items)
    out = [PulledFilm(study_uid, _first(i, "0020000E"), _first(i, "00080018"), skipped=why) for i, why in left]
    before = earlier_film(pacs, study_uid) if with_earlier and chosen else None
    for item in chosen:
        series_uid, instance_uid = _first(item, "0020000E"), _first(item, "00080018")
        data = pacs.retrieve(study_uid, series_uid, instance_uid)
        r, earlier_skipped = upload_film(hilum, data, lang, before[1] if before is not None else None)
        if r.status_code != 201:
            out.append(PulledFilm(study_uid, series_uid, instance_uid, skipped=_hilum_error(r)))
            continue
        session = r.json()
        first = session["turns"][0] if session.get("turns") else {}
        compared = before is not None and earlier_skipped is None
        out.append(PulledFilm(study_uid, series_uid, instance_uid, session_id=session["session_id"],
                              findings=len(first.get("findings") or ()),
                              earlier_study_uid=before[0] if compared and before is not None else None,
                              earlier_skipped=earlier_skipped))
        log.info("pulled one film into a session (%d findings%s)", len(first.get("findings") or ()),
                 ", compared with an earlier film" if compared else "")
    return out


SessionObject = tuple[str, bytes, pydicom.Dataset]  # kind, the Part 10 file, its header


def session_objects(hilum: httpx.Client, session_id: str, kinds: tuple[str, ...] = ("sr", "pr")) -> list[SessionObject]:
    """The session's DICOM results from Hilum (``GET /v1/sessions/{id}/dicom/{kind}``); refused for a
    session whose film did not come from DICOM."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", session_id or ""):
        raise PacsUsageError("the session id is not a Hilum session id")
    objects: list[SessionObject] = []
    for kind in kinds:
        r = hilum.get(f"/v1/sessions/{session_id}/dicom/{kind}")
        if r.status_code == 404 and kind == "seg" and _hilum_error(r) == "no_such_dicom_object":
            continue  # no finding: nothing to segment
        if r.status_code == 404 and _hilum_error(r) == "session_not_found":
            raise SessionGoneError("Hilum no longer has this session (session_not_found)")
        if r.status_code != 200:
            raise PacsUsageError(f"Hilum could not give this session's {kind} ({_hilum_error(r)})")
        if r.headers.get("x-hilum-source-image") != "dicom-upload":
            raise PacsUsageError("this session's film did not come from DICOM (or this Hilum does not know its "
                                 "UIDs): its results reference a Hilum secondary capture and are not filed in a PACS")
        objects.append((kind, r.content, pydicom.dcmread(io.BytesIO(r.content), stop_before_pixels=True)))
    return objects


def push_session(pacs: DicomWebClient, hilum: httpx.Client, session_id: str,
                 kinds: tuple[str, ...] = ("sr", "pr"), validate: bool = False) -> list[PushedObject]:
    """The session's DICOM results → STOW-RS into the film's study."""
    return store_objects(pacs, session_objects(hilum, session_id, kinds), validate)


def store_objects(pacs: DicomWebClient, objects: list[SessionObject], validate: bool = False) -> list[PushedObject]:
    """STOW-RS of one session's objects into their (one) study; raises unless the PACS confirms each."""
    if not objects:
        return []
    if any(str(ds.get("PatientIdentityRemoved", "")).upper() == "YES" for _, _, ds in objects):
        raise DeidentifiedResultsError("the session's results are de-identified: they carry no patient identity and "
                                       "are not filed in a PACS (export them from Hilum instead)")
    studies = {str(ds.StudyInstanceUID) for _, _, ds in objects}
    if len(studies) != 1:
        raise PacsError("the session's objects name more than one study")
    errors: dict[str, list[str]] = {}
    if validate:
        from orchestrator.dicom_out.validate import dciodvfy

        errors = {kind: dciodvfy(data).errors for kind, data, _ in objects}
        if any(errors.values()):
            raise PacsError("dciodvfy found errors in the objects; nothing was stored")
    study_uid = studies.pop()
    stored = set(pacs.store([data for _, data, _ in objects], study_uid))
    missing = [kind for kind, _, ds in objects if str(ds.SOPInstanceUID) not in stored]
    if missing:
        raise PacsError(f"the PACS did not confirm storing: {', '.join(missing)}")
    return [PushedObject(kind, study_uid, str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), errors.get(kind, []))
            for kind, _, ds in objects]


# --- the poller: ``hilum pacs --dicomweb URL [--once]`` ------------------------------------------------
RETRIED_HILUM_STATUSES = frozenset({408, 409, 429})  # and every 5xx or no answer: tried again later
DONE, SKIPPED = "done", "skipped"


class SessionGoneError(PacsUsageError):
    """Hilum has no such session (any more: expired, closed, or a restarted Hilum without Redis)."""

    kind = "session_not_found"


class HilumUnreachableError(PacsError):
    """Hilum did not answer (no connection, a timeout): every other session would wait for it too."""


class ResultSource(Protocol):
    """Where a done film's session is read from: its turn count and its DICOM results. ``HttpResults``
    asks a running Hilum (the poller, ``hilum pacs``); ``orchestrator/dicom_node_results.py`` asks the
    engine in its own process (the DICOM node, ``hilum serve --dicom-port``). Both raise
    ``SessionGoneError`` for a session Hilum no longer has, ``HilumUnreachableError`` when Hilum does
    not answer, and ``PacsUsageError`` / ``PacsError`` for the rest."""

    def turn_count(self, record: FilmRecord) -> int: ...

    def objects(self, record: FilmRecord, kinds: tuple[str, ...]) -> list[SessionObject]: ...


class HttpResults:
    """A running Hilum over HTTP (its client carries the API key and tenant)."""

    def __init__(self, hilum: httpx.Client) -> None:
        self.hilum = hilum

    def turn_count(self, record: FilmRecord) -> int:
        try:
            r = self.hilum.get(f"/v1/sessions/{record.session_id}")
        except httpx.HTTPError as exc:
            raise HilumUnreachableError(f"Hilum could not be reached ({type(exc).__name__})") from None
        if r.status_code == 404 and _hilum_error(r) == "session_not_found":
            raise SessionGoneError("Hilum no longer has this session (session_not_found)")
        if r.status_code != 200:
            raise PacsError(f"Hilum answered HTTP {r.status_code} for the session ({_hilum_error(r)})")
        return len(r.json().get("turns") or ())

    def objects(self, record: FilmRecord, kinds: tuple[str, ...]) -> list[SessionObject]:
        try:
            return session_objects(self.hilum, str(record.session_id), kinds)
        except httpx.HTTPError as exc:
            raise HilumUnreachableError(f"Hilum could not be reached for the results ({type(exc).__name__})") from None


@dataclass
class FilmRecord:
    """The state file's row for one instance (keyed by its SOP Instance UID). ``status`` moves
    new → session (Hilum has its first turn) → storing (the SR/PR UIDs written down before STOW-RS)
    → done; or skipped (lateral, not a chest modality, refused by Hilum: never tried again)."""

    study_uid: str
    series_uid: str
    status: str = "new"
    session_id: str | None = None
    objects: list[str] = field(default_factory=list)  # SOP Instance UIDs being / been stored
    stored: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0  # failed tries so far
    next_try: float = 0.0  # epoch seconds before which a failed film waits (backoff)
    error: str | None = None  # the last failure's kind (never a patient attribute)
    reason: str | None = None  # why it was skipped
    sr_turns: int = 0  # the session's turn count when its last SR version was stored (the SR's InstanceNumber)
    following: bool = True  # done, and its session still there: a reader's follow-ups get a new SR version
    tenant: str | None = None  # the session's tenant, where the results are read in process (the DICOM node)
    earlier_study_uid: str | None = None  # the patient's earlier study the session compared the film with
    earlier_skipped: str | None = None  # why an earlier film found was not compared (Hilum's refusal's kind)

    @property
    def settled(self) -> bool:
        return self.status in (DONE, SKIPPED)


class PollerState:
    """The poller's memory: ``{"version": 1, "films": {sop_uid: FilmRecord}}``, rewritten whole and
    atomically (temporary file, fsync, rename) after every step, so a kill at any point leaves the
    last step's state. One poller per state file (an advisory lock beside it)."""

    VERSION = 1

    def __init__(self, path: Path, films: dict[str, FilmRecord] | None = None) -> None:
        self.path = Path(path)
        self.films: dict[str, FilmRecord] = films or {}

    @classmethod
    def load(cls, path: Path) -> PollerState:
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            films = {uid: FilmRecord(**row) for uid, row in doc["films"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # starting over would process every film again: refuse, and say which file
            raise PacsUsageError(f"the poller's state file {str(path)!r} cannot be read: fix or move it") from None
        return cls(path, films)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps({"version": self.VERSION, "films": {k: asdict(v) for k, v in self.films.items()}},
                          indent=1, sort_keys=True)
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[PollerState]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_name(self.path.name + ".lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise PacsUsageError("another hilum pacs poller is using this state file") from None
            try:
                yield self
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def default_state_path(settings: Settings, dicomweb_url: str) -> Path:
    """The poller's state: ``settings.pacs_state_file``, else one file per PACS under the cache folder."""
    return state_path(settings.pacs_state_file, settings.cache_dir / "pacs-poller", dicomweb_url)


def state_path(configured: Path | None, folder: Path, dicomweb_url: str) -> Path:
    """``configured``, else ``folder``/<a digest of the PACS's URL>.json (one state per PACS)."""
    if configured is not None:
        return configured
    return folder / f"{uuid.uuid5(uuid.NAMESPACE_URL, dicomweb_url.rstrip('/')).hex[:16]}.json"


@dataclass
class PassReport:
    """One pass: what was new, what became a session with its results stored, what was left and why."""

    found: int = 0
    processed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    waiting: int = 0  # failed before, backoff not over yet
    updated: list[dict[str, Any]] = field(default_factory=list)  # a new SR version stored after follow-ups
    follow_up_failed: list[dict[str, Any]] = field(default_factory=list)  # tried again next pass

    @property
    def ok(self) -> bool:
        return not self.failed and not self.waiting and not self.follow_up_failed

    def to_dict(self) -> dict[str, Any]:
        return {"found": self.found, "processed": self.processed, "skipped": self.skipped, "failed": self.failed,
                "waiting": self.waiting, "updated": self.updated, "follow_up_failed": self.follow_up_failed}


class PacsPoller:
    """QIDO-RS for the DX/CR instances the state file does not know yet; each frontal one → WADO-RS →
    a Hilum session (first turn) → its SR and presentation state → STOW-RS into the film's study.

    Exactly once in the PACS: the SR/PR UIDs derive from the session and its turn count, are written
    down before STOW-RS, and after a restart the study is asked whether they arrived before anything
    is stored again. A kill between Hilum's answer to the upload and the state write can leave one
    extra Hilum session (never a second result in the PACS). A failure (PACS or Hilum unreachable,
    5xx, 429) is retried on later passes with exponential backoff; Hilum's refusal of a film (4xx:
    not a chest film, corrupt) marks it skipped.

    Follow-ups: a session the reader went on to ask more of (in the page, over REST or gRPC) gets its
    SR again, as a new instance in the same series (UID and InstanceNumber from its turn count), on the
    next pass; a session Hilum no longer has is no longer followed."""

    def __init__(self, pacs: DicomWebClient, hilum: httpx.Client | None, state: PollerState, *, lang: str | None = None,
                 retry_base_s: float = 5.0, retry_max_s: float = 600.0, page_size: int = 100,
                 clock: Callable[[], float] = time.time, results: ResultSource | None = None,
                 with_earlier: bool = False) -> None:
        self.pacs, self.hilum, self.state, self.lang = pacs, hilum, state, lang
        self.with_earlier = with_earlier  # each film's session compares it with the patient's earlier film
        if results is None:
            assert hilum is not None, "a poller reads its sessions from a Hilum client or a ResultSource"
            results = HttpResults(hilum)
        self.results = results
        self.retry_base_s, self.retry_max_s, self.page_size = retry_base_s, retry_max_s, max(1, page_size)
        self.clock = clock

    def discover(self, report: PassReport | None = None) -> int:
        """New DX/CR instances into the state file (lateral views as skipped, into ``report``); how many."""
        new = 0
        for modality in sorted(CHEST_MODALITIES):
            offset = 0
            while True:
                page = self.pacs.search(modality, offset=offset, limit=self.page_size)
                for item in page:
                    study, series, sop = _first(item, "0020000D"), _first(item, "0020000E"), _first(item, "00080018")
                    if sop in self.state.films or not all(valid_uid(u) for u in (study, series, sop)):
                        continue
                    record = FilmRecord(study, series)
                    chosen, _left = select_films([item])
                    if not chosen:
                        record.status, record.reason = SKIPPED, _left[0][1]
                        if report is not None:
                            report.skipped.append({"sop_instance_uid": sop, "study_uid": study, "reason": record.reason})
                    self.state.films[sop] = record
                    new += 1
                if len(page) < self.page_size:
                    break
                offset += len(page)
        if new:
            self.state.save()
        return new

    def run_once(self) -> PassReport:
        report = PassReport()
        report.found = self.discover(report)
        return self.run_pending(report)

    def run_pending(self, report: PassReport | None = None) -> PassReport:
        """The films the state knows and has not settled (their backoff over), then the follow-ups."""
        report = report if report is not None else PassReport()
        now = self.clock()
        for sop in sorted(self.state.films, key=lambda k: (self.state.films[k].study_uid, k)):
            record = self.state.films[sop]
            if record.settled:
                continue
            if record.next_try > now:
                report.waiting += 1
                continue
            try:
                self.process(sop, record)
            except (PacsError, PacsUsageError) as exc:
                record.attempts += 1
                record.error = exc.kind
                record.next_try = self.clock() + min(self.retry_max_s, self.retry_base_s * 2 ** (record.attempts - 1))
                self.state.save()
                log.warning("a film failed at step %s (%s); try %d, next in %.0f s", record.status, exc.kind,
                            record.attempts, record.next_try - self.clock())
                report.failed.append({"sop_instance_uid": sop, "study_uid": record.study_uid, "step": record.status,
                                      "error": {"kind": exc.kind, "message": exc.message},
                                      "attempts": record.attempts})
                continue
            row = {"sop_instance_uid": sop, "study_uid": record.study_uid}
            if record.status == SKIPPED:
                report.skipped.append({**row, "reason": record.reason})
            else:
                report.processed.append({**row, "session_id": record.session_id, "stored": record.stored})
        self.follow_up(report)
        return report

    def follow_up(self, report: PassReport) -> None:
        """Every done film whose session has more turns than its stored SR: the SR's next version → STOW-RS
        (the same UID for the same turn count, so a pass killed mid-store stores it once). A failure is
        reported in ``follow_up_failed`` and tried again next pass; Hilum unreachable ends the step."""
        for sop in sorted(self.state.films, key=lambda k: (self.state.films[k].study_uid, k)):
            record = self.state.films[sop]
            if record.status != DONE or not record.session_id or not record.following:
                continue
            row = {"sop_instance_uid": sop, "study_uid": record.study_uid, "session_id": record.session_id}
            try:
                turns = self.results.turn_count(record)
                if turns <= record.sr_turns:
                    continue
                stored = store_objects(self.pacs, self.results.objects(record, ("sr",)))
            except (SessionGoneError, DeidentifiedResultsError):  # nothing more of it will be filed
                record.following = False
                self.state.save()
                continue
            except HilumUnreachableError as exc:  # the others would wait for it too
                report.follow_up_failed.append({**row, "error": {"kind": exc.kind, "message": exc.message}})
                break
            except (PacsError, PacsUsageError) as exc:
                report.follow_up_failed.append({**row, "error": {"kind": exc.kind, "message": exc.message}})
                continue
            record.sr_turns = turns
            record.stored += [p.to_dict() for p in stored]
            self.state.save()
            report.updated.append({**row, "turns": turns, "stored": [p.to_dict() for p in stored]})

    def process(self, sop: str, record: FilmRecord) -> None:
        if record.status == "storing" and self._in_pacs(record):
            return self._done(record)
        if record.status in ("session", "storing"):
            try:
                return self._store(record)
            except SessionGoneError:
                if record.status == "storing" and self._in_pacs(record):
                    return self._done(record)
                record.status, record.session_id, record.objects = "new", None, []  # Hilum lost it: again
                self.state.save()
        self._first_turn(sop, record)
        if record.status == "session":
            self._store(record)
        return None

    def _first_turn(self, sop: str, record: FilmRecord) -> None:
        assert self.hilum is not None, "only a poller with a Hilum client makes first turns"
        data = self.pacs.retrieve(record.study_uid, record.series_uid, sop)
        before = earlier_film(self.pacs, record.study_uid) if self.with_earlier else None
        try:
            r, earlier_skipped = upload_film(self.hilum, data, self.lang, before[1] if before is not None else None)
        except httpx.HTTPError as exc:
            raise PacsError(f"Hilum could not be reached for the first turn ({type(exc).__name__})") from None
        if r.status_code != 201:
            kind = _hilum_error(r)
            if r.status_code < 500 and r.status_code not in RETRIED_HILUM_STATUSES:
                record.status, record.reason, record.error = SKIPPED, kind, None
                self.state.save()
                return
            raise PacsError(f"Hilum answered the first turn with HTTP {r.status_code} ({kind})")
        record.session_id, record.status, record.error = str(r.json()["session_id"]), "session", None
        record.earlier_skipped = earlier_skipped
        record.earlier_study_uid = before[0] if before is not None and earlier_skipped is None else None
        self.state.save()

    def _store(self, record: FilmRecord) -> None:
        objects = self.results.objects(record, ("sr", "pr"))
        record.objects, record.status = [str(ds.SOPInstanceUID) for _, _, ds in objects], "storing"
        record.sr_turns = next((int(ds.InstanceNumber) for kind, _, ds in objects if kind == "sr"), 0)
        self.state.save()  # written down before STOW-RS: a restart asks the study before storing again
        try:
            record.stored = [p.to_dict() for p in store_objects(self.pacs, objects)]
        except DeidentifiedResultsError as exc:  # never filed: skipped for good, not tried again
            record.status, record.reason, record.error, record.objects = SKIPPED, exc.kind, None, []
            self.state.save()
            return
        self._done(record)

    def _in_pacs(self, record: FilmRecord) -> bool:
        present = {_first(i, "00080018") for i in self.pacs.instances(record.study_uid)}
        return bool(record.objects) and set(record.objects) <= present

    def _done(self, record: FilmRecord) -> None:
        record.status, record.error, record.next_try = DONE, None, 0.0
        self.state.save()

    def next_wake(self, interval_s: float) -> float:
        """Seconds until the next pass: the poll interval, or sooner when a retry falls due."""
        waits = [r.next_try - self.clock() for r in self.state.films.values() if not r.settled and r.next_try]
        return max(0.0, min([interval_s, *waits]))
