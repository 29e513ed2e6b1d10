"""No patient data in the logs: a real ``hilum serve`` (DEBUG logging) gets uploads and questions
carrying a patient's name, ID and a filename made of them, over REST and gRPC, good and broken,
and its whole log output is grepped for them afterwards. ``PrivacyFilter`` is also checked on
its own against the two ways such text gets into a log: an exception's message and a
third-party warning."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pydicom
import pytest

from orchestrator.log_privacy import WITHHELD, PrivacyFilter

REPO = Path(__file__).resolve().parents[2]
PHI = ("Hawthorne^Evangeline", "Hawthorne", "Evangeline", "MRN4471902", "19470312")
FILENAME = "Hawthorne_Evangeline_MRN4471902.dcm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phi_dicom(source: Path, *, broken: bool = False) -> bytes:
    ds = pydicom.dcmread(source)
    ds.PatientName = PHI[0]
    ds.PatientID = PHI[3]
    ds.PatientBirthDate = PHI[4]
    ds.add_new((0x0010, 0x1040), "LO", f"{PHI[1]} street, {PHI[3]}")  # PatientAddress
    ds.add_new((0x0010, 0x0032), "TM", f"{PHI[3]}x")  # PatientBirthTime: invalid TM (a reader may warn)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    data = out.getvalue()
    return data[: len(data) // 2] if broken else data  # broken: the pixel data cut short


@pytest.fixture(scope="module")
def served(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    port, grpc_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("logs") / "serve.log"
    env = {**os.environ, "HILUM_LOG_LEVEL": "DEBUG", "PYTHONWARNINGS": "always"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--grpc-port", str(grpc_port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "hilum serve never became ready"
            time.sleep(0.2)
        yield url, f"127.0.0.1:{grpc_port}", log
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_logs_carry_no_filename_or_patient_data(served: tuple[str, str, Path], phantom_dir: Path) -> None:
    from orchestrator.grpc_service.proto import dialog_pb2 as pb
    from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc

    url, target, log = served
    good = phi_dicom(phantom_dir / "image.dcm")
    broken = phi_dicom(phantom_dir / "image.dcm", broken=True)
    statuses = []
    with httpx.Client(base_url=url, timeout=120) as http:
        for data in (good, broken, b"%s is not a film" % PHI[3].encode()):
            r = http.post("/v1/sessions", files={"file": (FILENAME, data, "application/dicom")})
            statuses.append(r.status_code)
            assert not any(p in r.text for p in PHI), r.text
            if r.status_code == 201:
                sid = r.json()["session_id"]
                assert not any(p in http.get(f"/v1/sessions/{sid}/report").text for p in PHI)
                turn = http.post(f"/v1/sessions/{sid}/turns",  # (the report then quotes it: the user's own words)
                                 json={"question": f"Is {PHI[0]} ({PHI[3]}) normal?"})
                assert turn.status_code == 200
        assert http.post("/v1/sessions/x/turns", json={"question": PHI[3]}).status_code == 404
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.DialogStub(channel)
        for data in (good, broken):
            try:
                stub.CreateSession(pb.CreateSessionRequest(image=data, filename=FILENAME, lang="en"), timeout=120)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert not any(p in (exc.details() or "") for p in PHI)
    assert statuses[0] == 201 and all(400 <= s < 500 for s in statuses[1:]), statuses

    text = log.read_text(errors="replace")
    assert "serving REST" in text  # the log was captured (DEBUG level, the serve process's own output)
    leaked = [p for p in PHI + (FILENAME,) if p in text]
    assert not leaked, [line for line in text.splitlines() if any(p in line for p in leaked)][:5]


def _record(name: str, msg: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None, exc_info)


def test_the_filter_withholds_exception_messages_and_third_party_values() -> None:
    try:
        raise ValueError(f"bad tag value {PHI[0]!r} in {FILENAME}")
    except ValueError as exc:
        record = _record("orchestrator.api.errors", "request POST /v1/sessions failed", exc)
    assert PrivacyFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "ValueError" in formatted and WITHHELD in formatted and "test_log_privacy.py" in formatted
    assert not any(p in formatted for p in PHI)

    third = _record("pydicom", f"Invalid value for VR PN: '{PHI[0]}'")
    PrivacyFilter().filter(third)
    assert logging.Formatter().format(third) == "Invalid value for VR PN: '<redacted>'"

    # httpx logs each DICOMweb request: its path names the study, series and instance by their UIDs
    url = _record("httpx", 'HTTP Request: GET http://pacs:8042/dicom-web/studies/1.2.826.0.1.3680043.8.498.1/series/'
                           '2.25.12345/instances/1.2.3.4.5/metadata?PatientID=X "HTTP/1.1 200 OK"')
    PrivacyFilter().filter(url)
    assert url.getMessage() == ("HTTP Request: GET http://pacs:8042/dicom-web/studies/<uid>/series/<uid>/instances/"
                                "<uid>/metadata?<query withheld> '<redacted>'")
    own = _record("orchestrator.server", "encoder 'embedded' ready")
    PrivacyFilter().filter(own)
    assert own.getMessage() == "encoder 'embedded' ready"  # Hilum's own lines are left as written
