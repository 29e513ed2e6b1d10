"""``hilum pacs pull|push`` and the poller ``hilum pacs --dicomweb URL [--once]`` against a real Orthanc
(Debian ``orthanc`` + its DICOMweb plugin, started here on free loopback ports with its own config and
storage, stopped after) and a real Hilum (uvicorn, embedded encoder): a phantom study goes in, a
session comes out, the SR and presentation state go back into the same study, where Orthanc lists
them and they read back as the session said. The poller's tests have an Orthanc of their own
(``archive``), so that they know every film in it; they follow one archive and one state file
through new films, a kill mid-pass, a failure and its backoff."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
REPO = Path(__file__).resolve().parents[2]


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


@contextlib.contextmanager
def run_orthanc(root: Path) -> Iterator[Orthanc]:
    """A real Orthanc with its DICOMweb plugin on free loopback ports, its config and storage under ``root``."""
    assert Path(ORTHANC).exists(), "Orthanc is missing: apt-get install orthanc orthanc-dicomweb"
    plugin = next((Path(d) / "libOrthancDicomWeb.so" for d in PLUGIN_DIRS if (Path(d) / "libOrthancDicomWeb.so").exists()),
                  None)
    assert plugin is not None, "the Orthanc DICOMweb plugin is missing: apt-get install orthanc-dicomweb"
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
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    with run_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


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


def test_pull_with_the_patients_earlier_film(orthanc: Orthanc, study: pydicom.Dataset, service: Service,
                                            phantom_dir: Path, tmp_path: Path) -> None:
    """``hilum pacs pull --study UID --earlier``: the patient's most recent earlier study (by Patient ID and Study Date
    over QIDO-RS) gives the film its earlier film; the session compares them. A patient with none: pulled alone."""
    from encoder.phantom import earlier_film, load_case

    earlier_film(load_case(phantom_dir), days=180, scale=0.75).write(tmp_path / "earlier")
    before = pydicom.dcmread(tmp_path / "earlier" / "image.dcm")
    assert before.PatientID == study.PatientID and before.StudyDate < study.StudyDate
    with orthanc.client() as c:
        assert c.post("/instances", content=(tmp_path / "earlier" / "image.dcm").read_bytes()).status_code == 200
    uid = str(study.StudyInstanceUID)
    pulled = hilum_cli("pacs", "pull", "--study", uid, "--earlier", "--dicomweb", orthanc.dicomweb, "--server",
                       service.url)
    assert pulled.returncode == 0, pulled.stderr
    made = [f for f in json.loads(pulled.stdout)["films"] if f.get("session_id")]
    assert len(made) == 1 and made[0]["earlier_study_uid"] == before.StudyInstanceUID
    assert str(study.PatientID) not in pulled.stdout + pulled.stderr
    with httpx.Client(base_url=service.url, timeout=180) as hilum:
        screening = hilum.get(f"/v1/sessions/{made[0]['session_id']}").json()["turns"][0]
    rows = [m for m in screening["measurements"] if m["kind"] == "interval_change"]
    assert rows and {m["interval_days"] for m in rows} == {180}
    # the earlier study itself has no earlier one: pulled on its own
    alone = hilum_cli("pacs", "pull", "--study", str(before.StudyInstanceUID), "--earlier", "--dicomweb",
                      orthanc.dicomweb, "--server", service.url)
    assert alone.returncode == 0, alone.stderr
    film = next(f for f in json.loads(alone.stdout)["films"] if f.get("session_id"))
    assert "earlier_study_uid" not in film


def test_multipart_parts_come_back_byte_for_byte() -> None:
    parts = [b"\x00\r\n--x\r\nbinary", b"second"]
    body = b"".join(b"--B0UND\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts) + b"--B0UND--\r\n"
    assert parse_multipart('multipart/related; type="application/dicom"; boundary=B0UND', body) == parts


# --- the poller ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """The poller's own Orthanc: it holds only what these tests put there."""
    with run_orthanc(tmp_path_factory.mktemp("archive")) as server:
        yield server


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state file for the module: the tests follow one archive through its life."""
    return tmp_path_factory.mktemp("poller") / "state.json"


def new_film(phantom_dir: Path, *, study_uid: str | None = None, view: str = "PA") -> pydicom.Dataset:
    ds = pydicom.dcmread(phantom_dir / "image.dcm")
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.ViewPosition = view
    return ds


def store(archive: Orthanc, *films: pydicom.Dataset) -> None:
    with archive.client() as c:
        for ds in films:
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            assert c.post("/instances", content=buf.getvalue()).status_code == 200


def poller_cmd(archive: Orthanc, server: str, state: Path) -> list[str]:
    return [*HILUM, "pacs", "--dicomweb", archive.dicomweb, "--server", server, "--state", str(state), "--once"]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "HILUM_PACS_USERNAME": USER, "HILUM_PACS_PASSWORD": PASSWORD, **extra}


def once(archive: Orthanc, server: str, state: Path, **extra: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(poller_cmd(archive, server, state), capture_output=True, text=True, timeout=900,
                          env=env(**extra), cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr[-3000:]
    return done.returncode, json.loads(lines[-1])


def results(archive: Orthanc, study_uid: str) -> dict[str, list[str]]:
    """The study's instances by modality: SOP Instance UIDs."""
    out: dict[str, list[str]] = {}
    with DicomWebClient(archive.dicomweb, username=USER, password=PASSWORD) as pacs:
        for item in pacs.instances(study_uid):
            out.setdefault(item["00080060"]["Value"][0], []).append(item["00080018"]["Value"][0])
    return out


def check_results(archive: Orthanc, film: pydicom.Dataset, service: Service) -> None:
    """One SR and one PR in the film's study, referencing it, with the session's findings."""
    found = results(archive, str(film.StudyInstanceUID))
    assert len(found.get("SR", [])) == 1 and len(found.get("PR", [])) == 1, found
    with DicomWebClient(archive.dicomweb, username=USER, password=PASSWORD) as pacs:
        sr_item = next(i for i in pacs.instances(str(film.StudyInstanceUID)) if i["00080060"]["Value"][0] == "SR")
        sr_bytes = pacs.retrieve(str(film.StudyInstanceUID), sr_item["0020000E"]["Value"][0],
                                 sr_item["00080018"]["Value"][0])
    sr = pydicom.dcmread(io.BytesIO(sr_bytes))
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == film.SOPInstanceUID
    groups = hd.sr.Comprehensive3DSR.from_dataset(sr).content.get_planar_roi_measurement_groups()
    assert len(groups) >= 1


def session_ids(report: dict[str, Any]) -> dict[str, str]:
    return {p["sop_instance_uid"]: p["session_id"] for p in report["processed"]}


def test_once_processes_new_films_and_only_new_films(archive: Orthanc, service: Service, phantom_dir: Path,
                                                     state_file: Path) -> None:
    a, b = new_film(phantom_dir), new_film(phantom_dir)
    lateral = new_film(phantom_dir, study_uid=str(a.StudyInstanceUID), view="LL")
    store(archive, a, b, lateral)

    rc, first = once(archive, service.url, state_file)
    assert rc == 0 and first["found"] == 3 and not first["failed"], first
    made = session_ids(first)
    assert set(made) == {a.SOPInstanceUID, b.SOPInstanceUID}
    assert [(s["sop_instance_uid"], s["reason"]) for s in first["skipped"]] == [(lateral.SOPInstanceUID, "lateral_view")]
    for film in (a, b):
        check_results(archive, film, service)
        row = next(p for p in first["processed"] if p["sop_instance_uid"] == film.SOPInstanceUID)
        assert {o["kind"] for o in row["stored"]} == {"sr", "pr"}
        with httpx.Client(base_url=service.url, timeout=180) as hilum:  # the session is there for follow-ups
            session = hilum.get(f"/v1/sessions/{made[film.SOPInstanceUID]}").json()
        assert session["turns"][0]["intent"] == "screen"

    rc, second = once(archive, service.url, state_file)
    assert rc == 0 and second == {"found": 0, "processed": [], "skipped": [], "failed": [], "waiting": 0,
                                  "updated": [], "follow_up_failed": []}
    for film in (a, b):
        assert len(results(archive, str(film.StudyInstanceUID))["SR"]) == 1

    c = new_film(phantom_dir)
    store(archive, c)
    rc, third = once(archive, service.url, state_file)
    assert rc == 0 and third["found"] == 1 and list(session_ids(third)) == [c.SOPInstanceUID]
    check_results(archive, c, service)


def test_kill_and_restart_mid_pass_stores_each_result_once(archive: Orthanc, service: Service, phantom_dir: Path,
                                                           state_file: Path) -> None:
    films = [new_film(phantom_dir) for _ in range(3)]
    store(archive, *films)
    proc = subprocess.Popen(poller_cmd(archive, service.url, state_file), env=env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while proc.poll() is None:  # kill it once a film of this pass is past its first step
            try:
                rows = json.loads(state_file.read_text())["films"]
            except (OSError, ValueError):
                rows = {}
            if any(rows.get(f.SOPInstanceUID, {}).get("status") in ("session", "storing", "done") for f in films):
                break
            assert time.monotonic() < deadline, "the poller made no progress"
            time.sleep(0.05)
        assert proc.poll() is None, "the pass ended before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    interrupted = json.loads(state_file.read_text())["films"]
    assert any(interrupted[f.SOPInstanceUID]["status"] != "done" for f in films)  # killed mid-pass
    rc, again = once(archive, service.url, state_file)
    assert rc == 0 and not again["failed"], again
    rows = json.loads(state_file.read_text())["films"]
    for film in films:
        assert rows[film.SOPInstanceUID]["status"] == "done"
        check_results(archive, film, service)  # exactly one SR and one PR each
    rc, idle = once(archive, service.url, state_file)
    assert rc == 0 and idle["found"] == 0 and idle["processed"] == []


def test_a_failed_film_is_retried_after_its_backoff(archive: Orthanc, service: Service, phantom_dir: Path,
                                                    state_file: Path) -> None:
    film = new_film(phantom_dir)
    store(archive, film)
    dead = f"http://127.0.0.1:{free_port()}"  # no Hilum there
    rc, failed = once(archive, dead, state_file, HILUM_PACS_RETRY_BASE_S="3600", HILUM_PACS_RETRY_MAX_S="7200")
    assert rc == 1 and failed["processed"] == [] and len(failed["failed"]) == 1
    assert failed["failed"][0]["sop_instance_uid"] == film.SOPInstanceUID
    assert failed["failed"][0]["error"]["kind"] == "pacs_error" and failed["failed"][0]["attempts"] == 1
    row = json.loads(state_file.read_text())["films"][film.SOPInstanceUID]
    assert row["status"] == "new" and row["next_try"] > time.time() + 3000  # backoff: an hour from now

    rc, waiting = once(archive, service.url, state_file)  # Hilum is back, but the backoff is not over
    assert rc == 1 and waiting["waiting"] == 1 and waiting["processed"] == []
    assert "SR" not in results(archive, str(film.StudyInstanceUID))

    doc = json.loads(state_file.read_text())  # the hour passes
    doc["films"][film.SOPInstanceUID]["next_try"] = time.time() - 1
    state_file.write_text(json.dumps(doc))
    rc, retried = once(archive, service.url, state_file)
    assert rc == 0 and list(session_ids(retried)) == [film.SOPInstanceUID]
    check_results(archive, film, service)


def test_a_second_poller_on_the_same_state_is_refused(archive: Orthanc, state_file: Path) -> None:
    import fcntl

    with (state_file.parent / (state_file.name + ".lock")).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(poller_cmd(archive, "http://127.0.0.1:9", state_file), capture_output=True, text=True,
                              timeout=300, env=env(), cwd=REPO)
    assert done.returncode == 1
    assert json.loads(done.stderr.strip().splitlines()[-1])["error"]["kind"] == "pacs_usage"


def test_a_readers_follow_ups_reach_the_pacs_as_the_next_sr_version(archive: Orthanc, service: Service,
                                                                     phantom_dir: Path, state_file: Path) -> None:
    """The session made for a PACS film, asked more in Hilum: the next pass stores its SR again as a new
    instance in the same series (InstanceNumber = the turn count) holding the new question; a pass with
    nothing new asked stores nothing."""
    film = new_film(phantom_dir)
    store(archive, film)
    rc, first = once(archive, service.url, state_file)
    assert rc == 0 and film.SOPInstanceUID in session_ids(first), first  # (with any film an earlier test left)
    sid = session_ids(first)[film.SOPInstanceUID]
    question = "这个病灶距离右肺门有多远?"
    with httpx.Client(base_url=service.url, timeout=180) as hilum:
        assert hilum.post(f"/v1/sessions/{sid}/turns", json={"question": question}).status_code == 200
    rc, second = once(archive, service.url, state_file)
    assert rc == 0 and second["processed"] == [] and not second["failed"] and not second["follow_up_failed"], second
    assert [(u["sop_instance_uid"], u["turns"], [o["kind"] for o in u["stored"]]) for u in second["updated"]] == \
        [(film.SOPInstanceUID, 2, ["sr"])]
    study = str(film.StudyInstanceUID)
    with DicomWebClient(archive.dicomweb, username=USER, password=PASSWORD) as pacs:
        srs = [i for i in pacs.instances(study) if i["00080060"]["Value"][0] == "SR"]
        assert len(srs) == 2 and len({i["0020000E"]["Value"][0] for i in srs}) == 1  # one series, two versions
        newest = second["updated"][0]["stored"][0]
        data = pacs.retrieve(study, newest["series_uid"], newest["sop_instance_uid"])
    sr = pydicom.dcmread(io.BytesIO(data))
    assert int(sr.InstanceNumber) == 2 and dciodvfy(data).errors == []
    texts = [item.TextValue for item in sr.ContentSequence[-1].ContentSequence if "TextValue" in item]
    assert any(question in t for t in texts)
    rc, idle = once(archive, service.url, state_file)
    assert rc == 0 and idle["updated"] == [] and len(results(archive, study)["SR"]) == 2


def test_a_session_hilum_no_longer_has_is_no_longer_followed(tmp_path: Path) -> None:
    """Follow-ups against doubles of both ends (httpx transports): a done film whose session Hilum has
    lost is marked not followed and asked no more; one Hilum answers 503 for is reported in
    follow_up_failed and asked again next pass; the PACS is never called."""
    from orchestrator.pacs import DONE, FilmRecord, PacsPoller, PassReport, PollerState

    calls: list[str] = []

    def hilum(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if "gone" in request.url.path:
            return httpx.Response(404, json={"error": {"kind": "session_not_found", "message": "no such session"}})
        return httpx.Response(503, json={"error": {"kind": "store_unavailable", "message": "retry"}})

    def pacs(request: httpx.Request) -> httpx.Response:  # pragma: no cover - must not be called
        raise AssertionError(f"the PACS was called: {request.method} {request.url.path}")

    state = PollerState(tmp_path / "state.json", {
        "1.2.3": FilmRecord("1.2", "1.2.1", status=DONE, session_id="a" * 8 + "gone", sr_turns=1),
        "1.2.4": FilmRecord("1.2", "1.2.1", status=DONE, session_id="b" * 12, sr_turns=1),
    })
    client = DicomWebClient("http://pacs.invalid")
    client.http.close()
    client.http = httpx.Client(base_url="http://pacs.invalid", transport=httpx.MockTransport(pacs))
    with client, httpx.Client(base_url="http://hilum.invalid", transport=httpx.MockTransport(hilum)) as h:
        poller = PacsPoller(client, h, state)
        first = PassReport()  # the pass's follow-up step alone (no QIDO)
        poller.follow_up(first)
        assert not state.films["1.2.3"].following and state.films["1.2.4"].following
        assert [f["sop_instance_uid"] for f in first.follow_up_failed] == ["1.2.4"] and not first.failed
        assert not first.ok  # the pass says so (the CLI exits 1)
        second = PassReport()
        poller.follow_up(second)
    assert calls.count("/v1/sessions/" + "a" * 8 + "gone") == 1  # not asked again
    assert calls.count("/v1/sessions/" + "b" * 12) == 2 and len(second.follow_up_failed) == 1
    assert json.loads((tmp_path / "state.json").read_text())["films"]["1.2.3"]["following"] is False


# --- the DICOM node's results (hilum serve --dicom-port with a PACS configured) --------------------
def wait_for(what: str, check: Any, timeout_s: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return found


def instances_of(archive: Orthanc, study_uid: str, modality: str) -> list[dict[str, Any]]:
    with DicomWebClient(archive.dicomweb, username=USER, password=PASSWORD) as pacs:
        return [i for i in pacs.instances(study_uid) if i["00080060"]["Value"][0] == modality]


def test_a_film_pushed_to_the_dicom_node_gets_its_sr_and_pr_in_the_pacs(orthanc: Orthanc, phantom_dir: Path,
                                                                        tmp_path: Path) -> None:
    """A modality sends its film to the PACS and to Hilum's DICOM node (dcmtk's ``storescu``): the
    session's SR and presentation state appear in the film's study in Orthanc, referencing the film and
    holding the session's findings; a follow-up asked in Hilum reaches the PACS as the SR's next version
    in the same series; a restarted node stores nothing twice."""
    import shutil

    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    storescu = shutil.which("storescu") or "/usr/bin/storescu"
    film = new_film(phantom_dir)
    store(orthanc, film)  # the PACS has the film, as it would from the modality
    path = tmp_path / "film.dcm"
    film.save_as(path, enforce_file_format=True)
    study = str(film.StudyInstanceUID)
    settings = Settings(host="127.0.0.1", pacs_dicomweb_url=orthanc.dicomweb, pacs_username=USER,
                        pacs_password=PASSWORD, pacs_poll_interval_s=0.5,
                        dicom_results_state_file=tmp_path / "results.json")
    with Service(build_services(settings), "127.0.0.1", 0, 0, dicom_port=0) as svc:
        svc.wait_ready()
        sent = subprocess.run([storescu, "-aet", "MODALITY", "-aec", "HILUM", "127.0.0.1", str(svc.dicom_port),
                               str(path)], capture_output=True, text=True, timeout=600)
        assert sent.returncode == 0, sent.stderr[-2000:]
        found = wait_for("the SR and PR in the study", lambda: (r := results(orthanc, study)).get("SR") and
                         r.get("PR") and r)
        assert len(found["SR"]) == 1 and len(found["PR"]) == 1 and found["DX"] == [film.SOPInstanceUID]
        sender = svc.dicom_node.results
        done = next(r for r in sender.poller.state.films.values() if r.study_uid == study)
        with httpx.Client(base_url=svc.url, timeout=180) as hilum:
            session = hilum.get(f"/v1/sessions/{done.session_id}").json()
        first = session["turns"][0]
        with DicomWebClient(orthanc.dicomweb, username=USER, password=PASSWORD) as pacs:
            sr_item = instances_of(orthanc, study, "SR")[0]
            sr_bytes = pacs.retrieve(study, sr_item["0020000E"]["Value"][0], found["SR"][0])
        assert dciodvfy(sr_bytes).errors == []
        sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(sr_bytes)))
        groups = sr.content.get_planar_roi_measurement_groups()
        assert len(groups) == len(first["findings"]) >= 1
        for f, g in zip(first["findings"], groups, strict=True):
            assert g.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == film.SOPInstanceUID
            assert g.finding_sites[0].laterality.value == {"right": "24028007", "left": "7771000"}[f["side"]]

        question = "这个病灶距离右肺门有多远?"
        with httpx.Client(base_url=svc.url, timeout=180) as hilum:
            assert hilum.post(f"/v1/sessions/{done.session_id}/turns", json={"question": question}).status_code == 200
        srs = wait_for("the SR's second version", lambda: len(sr := instances_of(orthanc, study, "SR")) == 2 and sr)
        assert len({i["0020000E"]["Value"][0] for i in srs}) == 1  # one series, two versions
        assert not sender.last_report.failed and not sender.last_report.follow_up_failed
        passes = sender.passes
        wait_for("two more passes", lambda: sender.passes >= passes + 2)
        assert len(results(orthanc, study)["SR"]) == 2  # nothing new asked: nothing stored
    # a restarted node, on the same state file: the session is in the store no more (in-process store),
    # its results are in the PACS already, and nothing is stored twice
    with Service(build_services(settings), "127.0.0.1", 0, 0, dicom_port=0) as svc:
        sender = svc.dicom_node.results
        wait_for("a pass", lambda: sender.passes >= 2)
        assert not sender.poller.state.films[film.SOPInstanceUID].following
    assert {k: len(v) for k, v in results(orthanc, study).items()} == {"DX": 1, "SR": 2, "PR": 1}


def test_the_poller_compares_each_film_with_the_patients_earlier_film(service: Service, phantom_dir: Path,
                                                                     tmp_path: Path) -> None:
    """``hilum pacs --dicomweb URL --once --earlier``: the film's session is made with the patient's earlier film (its
    state row names that study), the earlier film's own session with none (it has nothing earlier), and the state file
    and the poller's output carry no patient attribute."""
    from encoder.phantom import earlier_film, load_case

    earlier_film(load_case(phantom_dir), days=180, scale=0.75).write(tmp_path / "earlier")
    now, before = pydicom.dcmread(phantom_dir / "image.dcm"), pydicom.dcmread(tmp_path / "earlier" / "image.dcm")
    state = tmp_path / "state.json"
    (tmp_path / "orthanc").mkdir()
    with run_orthanc(tmp_path / "orthanc") as pacs:
        store(pacs, now, before)
        done = hilum_cli("pacs", "--dicomweb", pacs.dicomweb, "--server", service.url, "--state", str(state), "--once",
                         "--earlier")
    assert done.returncode == 0, done.stderr
    films = json.loads(state.read_text())["films"]
    assert films[str(now.SOPInstanceUID)]["earlier_study_uid"] == str(before.StudyInstanceUID)
    assert films[str(before.SOPInstanceUID)]["earlier_study_uid"] is None
    assert str(now.PatientID) not in state.read_text() + done.stdout + done.stderr
    with httpx.Client(base_url=service.url, timeout=180) as hilum:
        sid = films[str(now.SOPInstanceUID)]["session_id"]
        rows = [m for m in hilum.get(f"/v1/sessions/{sid}").json()["turns"][0]["measurements"]
                if m["kind"] == "interval_change"]
    assert rows and {m["interval_days"] for m in rows} == {180}


def test_a_film_pushed_to_the_dicom_node_is_compared_with_the_patients_earlier_film(phantom_dir: Path,
                                                                                   tmp_path: Path) -> None:
    """``HILUM_PACS_COMPARE_EARLIER=1``: a film a modality pushes to the DICOM node is compared with the patient's
    most recent earlier film in the PACS (fetched over DICOMweb before the C-STORE status is sent)."""
    import shutil

    from encoder.phantom import earlier_film, load_case
    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    storescu = shutil.which("storescu") or "/usr/bin/storescu"
    earlier_film(load_case(phantom_dir), days=180, scale=0.75).write(tmp_path / "earlier")
    before = pydicom.dcmread(tmp_path / "earlier" / "image.dcm")
    (tmp_path / "orthanc").mkdir()
    with run_orthanc(tmp_path / "orthanc") as pacs:
        store(pacs, before)  # the PACS has the earlier study; the new film comes from the modality
        settings = Settings(host="127.0.0.1", pacs_dicomweb_url=pacs.dicomweb, pacs_username=USER,
                            pacs_password=PASSWORD, pacs_poll_interval_s=0.5, pacs_compare_earlier=True,
                            dicom_results_state_file=tmp_path / "results.json")
        with Service(build_services(settings), "127.0.0.1", 0, 0, dicom_port=0) as svc:
            svc.wait_ready()
            sent = subprocess.run([storescu, "-aet", "MODALITY", "-aec", "HILUM", "127.0.0.1", str(svc.dicom_port),
                                   str(phantom_dir / "image.dcm")], capture_output=True, text=True, timeout=600)
            assert sent.returncode == 0, sent.stderr[-2000:]
            sender = svc.dicom_node.results
            record = wait_for("the node's session", lambda: next(iter(sender.poller.state.films.values()), None))
            with httpx.Client(base_url=svc.url, timeout=180) as hilum:
                first = hilum.get(f"/v1/sessions/{record.session_id}").json()["turns"][0]
    rows = [m for m in first["measurements"] if m["kind"] == "interval_change"]
    assert rows and {m["interval_days"] for m in rows} == {180}
