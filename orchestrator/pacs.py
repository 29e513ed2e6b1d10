"""Hilum and a PACS, over DICOMweb (httpx): pull a study's chest films into Hilum sessions, push a
session's results back into the study.

- **pull** (``pull_study``): QIDO-RS lists the study's instances; the DX/CR ones that are not
  lateral views (ViewPosition PA, AP or absent: the film gate decides the rest) are fetched with
  WADO-RS and uploaded to a running Hilum (``POST /v1/sessions``), which runs the screening turn.
  Each session keeps the film's UIDs in its ``source`` record (``orchestrator/dialogue/session.py``).
- **push** (``push_session``): the session's SR (TID 1500) and presentation state (and, asked for,
  the segmentation) come from Hilum (``GET /v1/sessions/{id}/dicom/{kind}``) and are stored into the
  film's study with STOW-RS. A session whose film was not DICOM is refused: its results reference
  a Hilum secondary capture, in a study of its own, and are never filed under a patient.

Settings: ``HILUM_PACS_DICOMWEB_URL``, ``HILUM_PACS_USERNAME``, ``HILUM_PACS_PASSWORD`` (HTTP basic),
``HILUM_PACS_TIMEOUT_S``. Errors name the step and the HTTP status, never a patient attribute.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

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


def pull_study(pacs: DicomWebClient, hilum: httpx.Client, study_uid: str, lang: str | None = None) -> list[PulledFilm]:
    """Each frontal DX/CR film of the study → a Hilum session with its screening turn."""
    items = pacs.instances(check_uid(study_uid, "study UID"))
    chosen, left = select_films(items)
    out = [PulledFilm(study_uid, _first(i, "0020000E"), _first(i, "00080018"), skipped=why) for i, why in left]
    for item in chosen:
        series_uid, instance_uid = _first(item, "0020000E"), _first(item, "00080018")
        data = pacs.retrieve(study_uid, series_uid, instance_uid)
        r = hilum.post("/v1/sessions", files={"file": ("film.dcm", data, "application/dicom")},
                       data={"lang": lang} if lang else {})
        if r.status_code != 201:
            out.append(PulledFilm(study_uid, series_uid, instance_uid, skipped=_hilum_error(r)))
            continue
        session = r.json()
        first = session["turns"][0] if session.get("turns") else {}
        out.append(PulledFilm(study_uid, series_uid, instance_uid, session_id=session["session_id"],
                              findings=len(first.get("findings") or ())))
        log.info("pulled one film into a session (%d findings)", len(first.get("findings") or ()))
    return out


def push_session(pacs: DicomWebClient, hilum: httpx.Client, session_id: str,
                 kinds: tuple[str, ...] = ("sr", "pr"), validate: bool = False) -> list[PushedObject]:
    """The session's DICOM results → STOW-RS into the film's study."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", session_id or ""):
        raise PacsUsageError("the session id is not a Hilum session id")
    objects: list[tuple[str, bytes, pydicom.Dataset]] = []
    for kind in kinds:
        r = hilum.get(f"/v1/sessions/{session_id}/dicom/{kind}")
        if r.status_code == 404 and kind == "seg" and _hilum_error(r) == "no_such_dicom_object":
            continue  # no finding: nothing to segment
        if r.status_code != 200:
            raise PacsUsageError(f"Hilum could not give this session's {kind} ({_hilum_error(r)})")
        if r.headers.get("x-hilum-source-image") != "dicom-upload":
            raise PacsUsageError("this session's film did not come from DICOM (or this Hilum does not know its "
                                 "UIDs): its results reference a Hilum secondary capture and are not filed in a PACS")
        objects.append((kind, r.content, pydicom.dcmread(io.BytesIO(r.content), stop_before_pixels=True)))
    if not objects:
        return []
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
