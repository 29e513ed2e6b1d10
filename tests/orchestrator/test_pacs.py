"""``hilum pacs pull|push`` against a real Orthanc (Debian ``orthanc`` + its DICOMweb plugin, started
here on free loopback ports with its own config and storage, stopped after) and a real Hilum
(uvicorn, embedded encoder): a phantom study goes in, a session comes out, the SR and presentation
state go back into the same study, where Orthanc lists them and they read back as the session said."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import httpx
import pydicom
import pytest
from pydicom.uid import generate_uid

from orchestrator.dicom_out.validate import dciodvfy
from orchestrator.pacs import DicomWebClient, parse_multipart
from orchestrator.server import Service

ORTHANC = "/usr/sbin/Orthanc"
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")
USER, PASSWORD = "hilum", "pacs-secret-7d1e"
HILUM = [sys.executable, "-m", "orchestrator.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Orthanc:
    url: str

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(USER, PASSWORD), timeout=60)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    assert Path(ORTHANC).exists(), "Orthanc is missing: apt-get install orthanc orthanc-dicomweb"
    plugin = next((Path(d) / "libOrthancDicomWeb.so" for d in PLUGIN_DIRS if (Path(d) / "libOrthancDicomWeb.so").exists()),
                  None)
    assert plugin is not None, "the Orthanc DICOMweb plugin is missing: apt-get install orthanc-dicomweb"
    root = tmp_path_factory.mktemp("orthanc")
    http_port = free_port()
    config = {
        "Name": "HILUMTEST", "StorageDirectory": str(root / "db"), "IndexDirectory": str(root / "db"),
        "HttpPort": http_port, "DicomPort": free_port(), "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD}, "Plugins": [str(plugin)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    log = (root / "orthanc.log").open("wb")
    proc = subprocess.Popen([ORTHANC, str(root / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    server = Orthanc(f"http://127.0.0.1:{http_port}")
    try:
        deadline = time.monotonic() + 90
        with server.client() as c:
            while True:
                assert proc.poll() is None, (root / "orthanc.log").read_text()[-2000:]
                try:
                    if c.get("/system").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "Orthanc did not start"
                time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def study(orthanc: Orthanc, phantom_dir: Path) -> pydicom.Dataset:
    """The phantom DX stored into Orthanc (its REST API), with a lateral view of it in the same study."""
    frontal = (phantom_dir / "image.dcm").read_bytes()
    ds = pydicom.dcmread(io.BytesIO(frontal))
    lateral = pydicom.dcmread(io.BytesIO(frontal))
    lateral.SOPInstanceUID = lateral.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    lateral.SeriesInstanceUID = generate_uid()
    lateral.ViewPosition = "LL"
    buf = io.BytesIO()
    lateral.save_as(buf, enforce_file_format=True)
    with orthanc.client() as c:
        for data in (frontal, buf.getvalue()):
            assert c.post("/instances", content=data).status_code == 200
    return ds


def hilum_cli(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HILUM_PACS_USERNAME": USER, "HILUM_PACS_PASSWORD": password}
    return subprocess.run([*HILUM, *args], capture_output=True, text=True, timeout=600, env=env,
                          cwd=Path(__file__).resolve().parents[2])


def test_pull_first_turn_push_and_find_the_results_in_the_study(orthanc: Orthanc, study: pydicom.Dataset,
                                                                service: Service) -> None:
    uid = str(study.StudyInstanceUID)
    pulled = hilum_cli("pacs", "pull", "--study", uid, "--dicomweb", orthanc.dicomweb, "--server", service.url)
    assert pulled.returncode == 0, pulled.stderr
    films = json.loads(pulled.stdout)["films"]
    made = [f for f in films if f.get("session_id")]
    assert len(made) == 1 and made[0]["sop_instance_uid"] == study.SOPInstanceUID
    assert [f["skipped"] for f in films if not f.get("session_id")] == ["lateral_view"]
    sid = made[0]["session_id"]

    with httpx.Client(base_url=service.url, timeout=180) as hilum:
        session = hilum.get(f"/v1/sessions/{sid}").json()
        screening = session["turns"][0]
        assert screening["intent"] == "screen" and made[0]["findings"] == len(screening["findings"]) >= 1
        hilum.post(f"/v1/sessions/{sid}/turns", json={"question": "右肺中叶那个圆形影,边缘是否规则?"})
        turn = hilum.post(f"/v1/sessions/{sid}/turns", json={"question": "这个病灶距离右肺门有多远?"}).json()
        report = hilum.get(f"/v1/sessions/{sid}/report").json()
    assert turn["measurements"], "the follow-up should measure a distance"

    pushed = hilum_cli("pacs", "push", "--session", sid, "--validate", "--dicomweb", orthanc.dicomweb,
                       "--server", service.url)
    assert pushed.returncode == 0, pushed.stderr
    stored = {o["kind"]: o for o in json.loads(pushed.stdout)["stored"]}
    assert set(stored) == {"sr", "pr"} and all(o["study_uid"] == uid for o in stored.values())

    with DicomWebClient(orthanc.dicomweb, username=USER, password=PASSWORD) as pacs:
        items = pacs.instances(uid)
        by_uid = {i["00080018"]["Value"][0]: i["00080060"]["Value"][0] for i in items}
        assert by_uid[stored["sr"]["sop_instance_uid"]] == "SR" and by_uid[stored["pr"]["sop_instance_uid"]] == "PR"
        assert by_uid[str(study.SOPInstanceUID)] == "DX"
        sr_bytes = pacs.retrieve(uid, stored["sr"]["series_uid"], stored["sr"]["sop_instance_uid"])
        pr_bytes = pacs.retrieve(uid, stored["pr"]["series_uid"], stored["pr"]["sop_instance_uid"])
    assert dciodvfy(sr_bytes).errors == [] and dciodvfy(pr_bytes).errors == []
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(sr_bytes)))
    assert sr.PatientID == study.PatientID
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == len(report["findings"])
    for f, g in zip(report["findings"], groups, strict=True):
        assert g.get_measurements(name=hd.sr.CodedConcept("81827009", "SCT", "Diameter"))[0].value == \
            pytest.approx(f["diameter_mm"], abs=0.01)
        assert g.finding_sites[0].laterality.value == {"right": "24028007", "left": "7771000"}[f["side"]]
        assert g.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == study.SOPInstanceUID
    distances = [m.value for m in sr.content.get_image_measurement_groups()[0].get_measurements()
                 if m.name.value == "121206"]
    assert [m["mm"] for m in turn["measurements"] if m["kind"] == "distance"] == pytest.approx(distances)
    pr = pydicom.dcmread(io.BytesIO(pr_bytes))
    assert pr.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == study.SOPInstanceUID


def test_refusals_are_clear_and_never_echo_secrets(orthanc: Orthanc, study: pydicom.Dataset, service: Service,
                                                   phantom_dir: Path) -> None:
    uid = str(study.StudyInstanceUID)
    wrong = hilum_cli("pacs", "pull", "--study", uid, "--dicomweb", orthanc.dicomweb, "--server", service.url,
                      password="not-the-password")
    assert wrong.returncode == 1
    err = json.loads(wrong.stderr.strip().splitlines()[-1])["error"]
    assert err["kind"] == "pacs_error" and "401" in err["message"] and "not-the-password" not in wrong.stderr
    bad = hilum_cli("pacs", "pull", "--study", "1.2.<bad>", "--dicomweb", orthanc.dicomweb, "--server", service.url)
    assert bad.returncode == 1 and "<bad>" not in bad.stderr
    assert json.loads(bad.stderr.strip().splitlines()[-1])["error"]["kind"] == "pacs_usage"
    with httpx.Client(base_url=service.url, timeout=180) as hilum:
        png = hilum.post("/v1/sessions", files={"file": ("f.png", (phantom_dir / "image.png").read_bytes())}).json()
    refused = hilum_cli("pacs", "push", "--session", png["session_id"], "--dicomweb", orthanc.dicomweb,
                        "--server", service.url)
    assert refused.returncode == 1 and "secondary capture" in refused.stderr
    with DicomWebClient(orthanc.dicomweb, username=USER, password=PASSWORD) as pacs:
        assert all(i["00080060"]["Value"][0] != "OT" for i in pacs.instances(uid))


def test_multipart_parts_come_back_byte_for_byte() -> None:
    parts = [b"\x00\r\n--x\r\nbinary", b"second"]
    body = b"".join(b"--B0UND\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts) + b"--B0UND--\r\n"
    assert parse_multipart('multipart/related; type="application/dicom"; boundary=B0UND', body) == parts
