"""``GET /v1/sessions/{id}/dicom/{sr|pr|seg|sc}`` against a real server (uvicorn, embedded encoder):
a DICOM upload's results reference its own UIDs; a PNG upload's reference the Secondary Capture
Hilum made of it; bad requests are clear 4xx that never echo what was sent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import highdicom as hd
import httpx
import numpy as np
import pydicom
import pytest

from orchestrator.dicom_out.validate import dciodvfy
from orchestrator.server import Service


@pytest.fixture()
def client(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=180) as c:
        yield c


@pytest.fixture(scope="module")
def upload_dcm(phantom_dir: Path) -> bytes:
    """The phantom DX scaled to 1024 x 1024 and cropped to 944 columns (the mapping must undo both)."""
    ds = pydicom.dcmread(phantom_dir / "image.dcm")
    film = cv2.resize(ds.pixel_array.astype(np.uint16), (1024, 1024), interpolation=cv2.INTER_LINEAR)[:, 40:984]
    ds.Rows, ds.Columns, ds.PixelData = 1024, 944, np.ascontiguousarray(film).tobytes()
    ds.ImagerPixelSpacing = ds.PixelSpacing = [float(v) / 2 for v in ds.ImagerPixelSpacing]
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _dicom(response: httpx.Response) -> pydicom.Dataset:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/dicom"
    return pydicom.dcmread(io.BytesIO(response.content))


def test_dicom_upload_results_reference_the_upload(client: httpx.Client, upload_dcm: bytes) -> None:
    up = pydicom.dcmread(io.BytesIO(upload_dcm))
    r = client.post("/v1/sessions", files={"file": ("film.dcm", upload_dcm)}, data={"lang": "en"})
    assert r.status_code == 201, r.text
    session = r.json()
    sid = session["session_id"]
    first = client.get(f"/v1/sessions/{sid}/dicom/sr")
    assert first.headers["x-hilum-source-image"] == "dicom-upload"
    sr = _dicom(first)
    assert dciodvfy(first.content).errors == []
    assert sr.StudyInstanceUID == up.StudyInstanceUID and sr.PatientID == up.PatientID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == up.SOPInstanceUID
    groups = hd.sr.Comprehensive3DSR.from_dataset(sr).content.get_planar_roi_measurement_groups()
    findings = session["turns"][0]["findings"]
    assert len(groups) == len(findings) >= 1
    for f, g in zip(findings, groups, strict=True):
        outline = np.asarray(g.roi.value, dtype=float)
        expected = ((f["center_px"][0] + 0.5) * 2 - 40, (f["center_px"][1] + 0.5) * 2)
        assert np.hypot(*(outline[:-1].mean(axis=0) - expected)) < 12  # the outline is around the centre
        assert outline[:, 0].max() <= 944 and outline[:, 1].max() <= 1024

    pr = client.get(f"/v1/sessions/{sid}/dicom/pr")
    assert dciodvfy(pr.content).errors == []
    ref = _dicom(pr).ReferencedSeriesSequence[0].ReferencedImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == up.SOPInstanceUID
    assert dciodvfy(client.get(f"/v1/sessions/{sid}/dicom/seg").content).errors == []
    sc = client.get(f"/v1/sessions/{sid}/dicom/sc")
    assert sc.status_code == 404 and sc.json()["error"]["kind"] == "no_such_dicom_object"

    # a follow-up turn: a new SR instance in the same series, numbered by the turns
    assert client.post(f"/v1/sessions/{sid}/turns", json={"question": "How far is this lesion from the right hilum?"}
                       ).status_code == 200
    again = _dicom(client.get(f"/v1/sessions/{sid}/dicom/sr"))
    assert again.SeriesInstanceUID == sr.SeriesInstanceUID and again.SOPInstanceUID != sr.SOPInstanceUID
    assert int(again.InstanceNumber) == int(sr.InstanceNumber) + 1


def test_png_upload_results_reference_a_secondary_capture(client: httpx.Client, phantom_dir: Path) -> None:
    png = (phantom_dir / "image.png").read_bytes()
    r = client.post("/v1/sessions", files={"file": ("film.png", png)})
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    sr_response = client.get(f"/v1/sessions/{sid}/dicom/sr")
    assert sr_response.headers["x-hilum-source-image"] == "secondary-capture"
    sr = _dicom(sr_response)
    sc_response = client.get(f"/v1/sessions/{sid}/dicom/sc")
    sc = _dicom(sc_response)
    assert dciodvfy(sc_response.content).errors == []
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and sr.StudyInstanceUID == sc.StudyInstanceUID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == sc.SOPInstanceUID
    assert _dicom(client.get(f"/v1/sessions/{sid}/dicom/sc")).SOPInstanceUID == sc.SOPInstanceUID  # stable


def test_bad_requests_are_clear_4xx_without_echo(client: httpx.Client, phantom_dir: Path) -> None:
    r = client.post("/v1/sessions", files={"file": ("film.png", (phantom_dir / "image.png").read_bytes())},
                    headers={"X-Hilum-Tenant": "alice"})
    sid = r.json()["session_id"]
    odd = "zz9<script>"
    bad = client.get(f"/v1/sessions/{sid}/dicom/{odd}", headers={"X-Hilum-Tenant": "alice"})
    assert bad.status_code == 422 and odd not in bad.text and "zz9" not in bad.text
    missing = client.get("/v1/sessions/nosuchsessionid123/dicom/sr")
    assert missing.status_code == 404 and "nosuchsessionid123" not in missing.text
    other = client.get(f"/v1/sessions/{sid}/dicom/sr", headers={"X-Hilum-Tenant": "bob"})
    assert other.status_code == 404 and other.json() == missing.json()
    assert client.get(f"/v1/sessions/{sid}/dicom/pr", headers={"X-Hilum-Tenant": "alice"}).status_code == 200
    assert client.delete(f"/v1/sessions/{sid}", headers={"X-Hilum-Tenant": "alice"}).status_code == 200
    gone = client.get(f"/v1/sessions/{sid}/dicom/sr", headers={"X-Hilum-Tenant": "alice"})
    assert gone.status_code == 404


def test_patient_identifiers_stay_in_dicom_and_out_of_json(client: httpx.Client, upload_dcm: bytes) -> None:
    """The header's patient attributes go only into the DICOM objects filed beside the film (they
    must, to be in the same patient's study); no JSON answer carries them, and attributes a result
    never needs (institution, other ids) are not kept at all."""
    ds = pydicom.dcmread(io.BytesIO(upload_dcm))
    ds.PatientName, ds.PatientID = "Doe^Jane^Q", "MRN-55501234"
    ds.InstitutionName, ds.OtherPatientIDs = "St Example Hospital", "ALT-99887766"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    r = client.post("/v1/sessions", files={"file": ("Doe_Jane_MRN-55501234.dcm", buf.getvalue())})
    assert r.status_code == 201
    sid = r.json()["session_id"]
    answers = [r.text, client.get(f"/v1/sessions/{sid}").text, client.get(f"/v1/sessions/{sid}/report").text]
    for text in answers:
        for secret in ("Doe", "MRN-55501234", "St Example", "ALT-99887766"):
            assert secret not in text
    for kind in ("sr", "pr", "seg"):
        obj = _dicom(client.get(f"/v1/sessions/{sid}/dicom/{kind}"))
        assert obj.PatientID == "MRN-55501234" and str(obj.PatientName) == "Doe^Jane^Q"
        assert "InstitutionName" not in obj and "OtherPatientIDs" not in obj
        assert b"St Example" not in obj.to_json().encode() and "ALT-99887766" not in obj.to_json()


def test_the_sr_in_the_language_asked_over_rest_and_grpc(client: httpx.Client, service: Service,
                                                         upload_dcm: bytes) -> None:
    """``?format=sr&lang=zh`` on an English session: the SR's content language and its turns in Chinese (the page's
    Save DICOM SR asks in the page's language; ``lang`` had been ignored for the SR), the same bytes over gRPC
    (``SessionRef.lang``); the session's own language by default; a language Hilum does not speak is refused."""
    import grpc

    from orchestrator.grpc_service.proto import dialog_pb2 as pb
    from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc

    r = client.post("/v1/sessions", files={"file": ("film.dcm", upload_dcm)}, data={"lang": "en"})
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]

    def language(sr: Any) -> str:
        return str(next(item.ConceptCodeSequence[0].CodeValue for item in sr.ContentSequence
                        if item.ConceptNameCodeSequence[0].CodeValue == "121049"))

    zh = client.get(f"/v1/sessions/{sid}/report", params={"format": "sr", "lang": "zh"})
    en = client.get(f"/v1/sessions/{sid}/report", params={"format": "sr"})
    assert language(_dicom(zh)) == "zh-CN" and language(_dicom(en)) == "en-US"
    assert "肺" in zh.content.decode("utf-8", errors="ignore") and "肺" not in en.content.decode("utf-8", errors="ignore")
    assert en.content == client.get(f"/v1/sessions/{sid}/report", params={"format": "sr", "lang": "en"}).content
    refused = client.get(f"/v1/sessions/{sid}/report", params={"format": "sr", "lang": "fr"})
    assert 400 <= refused.status_code < 500 and "fr" not in refused.json()["error"]["message"]
    with grpc.insecure_channel(service.grpc_target) as channel:
        answer = pb_grpc.DialogStub(channel).GetReport(pb.SessionRef(session_id=sid, format="sr", lang="zh"), timeout=180)
        assert answer.dicom == zh.content


def test_report_as_sr_is_the_dicom_routes_sr_over_rest_and_grpc(client: httpx.Client, service: Service,
                                                                 upload_dcm: bytes) -> None:
    """``GET .../report?format=sr`` and gRPC ``GetReport(format="sr")`` answer the same SR, byte for byte,
    as ``GET .../dicom/sr`` (one builder); the JSON report stays the default; an unknown format is a 422
    (INVALID_ARGUMENT) that does not repeat it."""
    import grpc

    from orchestrator.grpc_service.convert import from_struct
    from orchestrator.grpc_service.proto import dialog_pb2 as pb
    from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc

    r = client.post("/v1/sessions", files={"file": ("film.dcm", upload_dcm)}, data={"lang": "en"})
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    as_sr = client.get(f"/v1/sessions/{sid}/report", params={"format": "sr"})
    sr = _dicom(as_sr)
    assert as_sr.content == client.get(f"/v1/sessions/{sid}/dicom/sr").content
    assert as_sr.headers["x-hilum-source-image"] == "dicom-upload"
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    default = client.get(f"/v1/sessions/{sid}/report")
    assert default.headers["content-type"] == "application/json"
    assert default.json() == client.get(f"/v1/sessions/{sid}/report", params={"format": "json"}).json()
    assert len(default.json()["findings"]) == len(
        hd.sr.Comprehensive3DSR.from_dataset(sr).content.get_planar_roi_measurement_groups())
    for odd in ("pdf<x>", "SR", ""):
        bad = client.get(f"/v1/sessions/{sid}/report", params={"format": odd})
        assert bad.status_code == 422 and bad.json()["error"]["kind"] == "invalid_request", bad.text
        assert odd == "" or odd not in bad.json()["error"]["message"]

    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = pb_grpc.DialogStub(channel)
        answer = stub.GetReport(pb.SessionRef(session_id=sid, format="sr"), timeout=180)
        assert answer.dicom == as_sr.content and not answer.HasField("report")
        plain = stub.GetReport(pb.SessionRef(session_id=sid), timeout=180)
        assert plain.dicom == b"" and from_struct(plain.report)["findings"] == default.json()["findings"]
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetReport(pb.SessionRef(session_id=sid, format="pdf<x>"), timeout=180)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "pdf<x>" not in (refused.value.details() or "")
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetReport(pb.SessionRef(session_id="nosuchsession42", format="sr"), timeout=180)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
