"""``hilum serve --dicom-port P``: a real ``hilum serve`` process on loopback with its C-STORE SCP, and
dcmtk's ``storescu`` (Debian ``dcmtk``) sending it films: the phantom's DX (uncompressed and RLE)
becomes a session with its screening turn, in the tenant its calling AE title maps to; a lateral
view and an object without an image get DICOM failure statuses; an unknown AE is rejected; the
node keeps serving after each refusal."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless, generate_uid

HILUM = [sys.executable, "-m", "orchestrator.cli"]
REPO = Path(__file__).resolve().parents[2]
STORESCU = shutil.which("storescu") or "/usr/bin/storescu"
AE_TENANTS = {"CR_ROOM1": "alice"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


IDLE_S = 2.0  # the node's wait for a connection to ask for an association (HILUM_DICOM_IDLE_TIMEOUT_S)


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    url: str
    dicom_port: int
    log: Path

    def sessions_made(self) -> list[str]:
        return re.findall(r"became session ([0-9a-f]{32})", self.log.read_text(errors="replace"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    assert Path(STORESCU).exists(), "storescu is missing: apt-get install dcmtk"
    root = tmp_path_factory.mktemp("scp")
    port, grpc_port, dicom_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HILUM_")}
    env["HILUM_DICOM_AE_TENANTS"] = json.dumps(AE_TENANTS)
    env["HILUM_DICOM_IDLE_TIMEOUT_S"] = str(IDLE_S)
    log = root / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*HILUM, "serve", "--host", "127.0.0.1", "--port", str(port), "--grpc-port",
                                 str(grpc_port), "--dicom-port", str(dicom_port)], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "hilum serve did not become ready"
            time.sleep(0.3)
        yield Node(proc, url, dicom_port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def storescu(node: Node, path: Path, calling: str = "CR_ROOM1", *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STORESCU, "-v", *extra, "-aet", calling, "-aec", "HILUM", "127.0.0.1", str(node.dicom_port),
                           str(path)], capture_output=True, text=True, timeout=600)


def response_status(done: subprocess.CompletedProcess[str]) -> str:
    """The C-STORE response storescu reports (its -v log), e.g. ``Success``, ``Error: CannotUnderstand``."""
    said = done.stdout + done.stderr
    m = re.search(r"Received Store Response \(([^)]*)\)", said)
    assert m, said[-2000:]
    return m.group(1)


def variant(phantom_dir: Path, out: Path, **changes: object) -> Path:
    ds = pydicom.dcmread(phantom_dir / "image.dcm")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for key, value in changes.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(out, enforce_file_format=True)
    return out


def test_a_frontal_film_becomes_a_session_in_the_ae_titles_tenant(node: Node, phantom_dir: Path) -> None:
    before = node.sessions_made()
    done = storescu(node, phantom_dir / "image.dcm")
    assert done.returncode == 0 and response_status(done) == "Success", done.stderr[-2000:]
    made = node.sessions_made()
    assert len(made) == len(before) + 1
    sid = made[-1]
    with httpx.Client(base_url=node.url, timeout=180) as c:
        session = c.get(f"/v1/sessions/{sid}", headers={"X-Hilum-Tenant": "alice"})
        assert session.status_code == 200
        first = session.json()["turns"][0]
        assert first["intent"] == "screen" and first["findings"]
        assert c.get(f"/v1/sessions/{sid}").status_code == 404  # not the default tenant's
        sr = c.get(f"/v1/sessions/{sid}/report", params={"format": "sr"}, headers={"X-Hilum-Tenant": "alice"})
        assert sr.status_code == 200 and sr.headers["x-hilum-source-image"] == "dicom-upload"
    upload = pydicom.dcmread(phantom_dir / "image.dcm", stop_before_pixels=True)
    for secret in (str(upload.PatientID), str(upload.PatientName)):
        assert not secret or secret not in node.log.read_text(errors="replace")


def test_a_compressed_film_is_accepted(node: Node, phantom_dir: Path, tmp_path: Path) -> None:
    ds = pydicom.dcmread(phantom_dir / "image.dcm")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "rle.dcm", enforce_file_format=True)
    before = len(node.sessions_made())
    done = storescu(node, tmp_path / "rle.dcm", "CR_ROOM1", "--propose-rle")  # sent as RLE, not converted
    assert "RLE Lossless -> RLE Lossless" in done.stdout + done.stderr
    assert done.returncode == 0 and response_status(done) == "Success", done.stderr[-2000:]
    assert len(node.sessions_made()) == before + 1


def test_a_lateral_is_received_unread_refusals_fail_and_the_node_keeps_serving(node: Node, phantom_dir: Path,
                                                                   tmp_path: Path) -> None:
    """A film Hilum does not read (a lateral view) is received and not read: Success, no session, one log line (a
    PACS sending a PA + lateral study stops at the first failure, and the PA after it was never sent); an object
    with no image, or from an AE not allowed, is refused; the node keeps serving."""
    before = len(node.sessions_made())
    lateral = storescu(node, variant(phantom_dir, tmp_path / "lateral.dcm", ViewPosition="LL"))
    assert response_status(lateral) == "Success" and len(node.sessions_made()) == before
    assert "not read: a lateral view" in node.log.read_text(errors="replace")
    no_image = storescu(node, variant(phantom_dir, tmp_path / "noimage.dcm", PixelData=None))
    assert response_status(no_image) == "Error: DataSetDoesNotMatchSOPClass", no_image.stderr  # 0xA900
    stranger = storescu(node, phantom_dir / "image.dcm", calling="SOMEONE")
    assert stranger.returncode != 0 and "Association Rejected" in stranger.stdout + stranger.stderr
    assert len(node.sessions_made()) == before and node.proc.poll() is None
    again = storescu(node, phantom_dir / "image.dcm")  # still serving
    assert response_status(again) == "Success" and len(node.sessions_made()) == before + 1
    assert "Traceback" not in node.log.read_text(errors="replace")


def dx_header(phantom_dir: Path, side: int, syntax: str) -> tuple[bytes, bytes]:
    """(preamble + file meta, data set up to the pixel data) of a DX object of side² 16-bit pixels in
    ``syntax``: the big objects below write their pixels after it stream-wise."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    ds = pydicom.dcmread(phantom_dir / "image.dcm", stop_before_pixels=True)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.Rows = ds.Columns = side
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    meta, body = DicomBytesIO(), DicomBytesIO()
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    return b"\0" * 128 + b"DICM" + meta.getvalue(), body.getvalue()


def zero_chunks(length: int) -> Iterator[bytes]:
    zeros = b"\0" * (1 << 20)
    for start in range(0, length, len(zeros)):
        yield zeros[: min(len(zeros), length - start)]


def deflate_bomb(phantom_dir: Path, out: Path, side: int = 7000) -> Path:
    """A deflated DX object of ~100 kB whose data set inflates to side² 16-bit pixels (98 MB for 7000):
    written stream-wise, so the test never holds the inflated bytes."""
    head, body = dx_header(phantom_dir, side, DeflatedExplicitVRLittleEndian)
    length = side * side * 2
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    with out.open("wb") as fh:
        fh.write(head)
        fh.write(deflate.compress(body + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, length)))
        for chunk in zero_chunks(length):
            fh.write(deflate.compress(chunk))
        fh.write(deflate.flush())
    return out


def test_a_deflated_object_that_inflates_past_the_limit_is_refused_unread(node: Node, phantom_dir: Path,
                                                                          tmp_path: Path) -> None:
    bomb = deflate_bomb(phantom_dir, tmp_path / "bomb.dcm")
    assert bomb.stat().st_size < 1 << 20  # < 1 MB on the wire, ~98 MB inflated
    before = len(node.sessions_made())
    done = storescu(node, bomb, "CR_ROOM1", "--propose-deflated")
    assert response_status(done) == "Refused: OutOfResources", (done.stdout + done.stderr)[-2000:]  # 0xA700
    assert len(node.sessions_made()) == before and node.proc.poll() is None
    assert "Traceback" not in node.log.read_text(errors="replace")


def oversized_object(phantom_dir: Path, out: Path, side: int = 6000) -> Path:
    """An uncompressed DX object of side² 16-bit pixels (72 MB for 6000, over the 64 MB upload limit),
    written stream-wise."""
    head, body = dx_header(phantom_dir, side, ExplicitVRLittleEndian)
    length = side * side * 2
    with out.open("wb") as fh:
        fh.write(head + body + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length))
        for chunk in zero_chunks(length):
            fh.write(chunk)
    return out


def peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def test_an_object_over_the_limit_is_refused_without_being_held_in_memory(node: Node, phantom_dir: Path,
                                                                          tmp_path: Path) -> None:
    """72 MB on the wire against a 64 MB limit: 0xA700, and the node's peak memory does not grow by the
    object (it goes to a temporary file as it arrives and is judged by its size)."""
    big = oversized_object(phantom_dir, tmp_path / "big.dcm")
    assert big.stat().st_size > 64 << 20
    assert response_status(storescu(node, phantom_dir / "image.dcm")) == "Success"  # the node's usual peak
    before, made = peak_rss_kb(node.proc.pid), len(node.sessions_made())
    done = storescu(node, big)
    assert response_status(done) == "Refused: OutOfResources", (done.stdout + done.stderr)[-2000:]
    grown_mb = (peak_rss_kb(node.proc.pid) - before) / 1024
    assert grown_mb < 32, f"the node's peak memory grew by {grown_mb:.0f} MB for a refused object"
    assert len(node.sessions_made()) == made and node.proc.poll() is None
    assert "Traceback" not in node.log.read_text(errors="replace")


def test_bare_connections_do_not_hold_the_node(node: Node) -> None:
    """Twenty connections that never ask for an association refused every other sender for half a minute (pynetdicom's
    10 associations and 30 s): they are dropped after ``dicom_idle_timeout_s``, and a C-ECHO then goes through."""
    import socket

    held = [socket.create_connection(("127.0.0.1", node.dicom_port), timeout=30) for _ in range(40)]
    try:
        time.sleep(IDLE_S + 1.5)
        echo = subprocess.run(["echoscu", "-aet", "CR_ROOM1", "-aec", "HILUM", "-to", "20", "127.0.0.1",
                               str(node.dicom_port)], capture_output=True, text=True, timeout=120)
        assert echo.returncode == 0, echo.stdout + echo.stderr
        dropped = 0
        for sock in held:
            sock.settimeout(5)
            try:
                dropped += sock.recv(1024) == b""  # closed by the node (an A-ABORT or nothing, then EOF)
            except OSError:
                dropped += 1
        assert dropped == len(held)
    finally:
        for sock in held:
            sock.close()


def test_the_node_makes_its_sessions_in_the_sites_language(phantom_dir: Path) -> None:
    """Node-made sessions were always English; ``HILUM_DICOM_LANG=zh`` makes them Chinese (their screening turn,
    SR and presentation state), for a Chinese-speaking site."""
    from types import SimpleNamespace

    from orchestrator.dicom_scp import SUCCESS, DicomNode
    from orchestrator.settings import Settings
    from orchestrator.tenancy import Tenancy

    asked: list[str | None] = []

    class Engine:
        def create_session(self, data: bytes, filename: str | None = None, lang: str | None = None,
                           tenant: str = "default", **kw: Any) -> Any:
            asked.append(lang)
            return SimpleNamespace(session_id="0" * 32, turns=())

    for lang in ("zh", "en"):
        settings = Settings(dicom_lang=lang)
        services = SimpleNamespace(settings=settings, engine=Engine(), tenancy=Tenancy(settings))
        node = DicomNode(services, "127.0.0.1", 0)
        assert node.store((phantom_dir / "image.dcm").read_bytes(), "default", "CR_ROOM1") == SUCCESS
    assert asked == ["zh", "en"]
