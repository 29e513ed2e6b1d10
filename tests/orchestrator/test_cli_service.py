"""``hilum serve`` / ``hilum ask`` / ``hilum status`` as real processes on loopback.

``hilum serve`` is what ``make run`` starts: /healthz answers within 60 s, and SIGTERM lets an
in-flight upload finish before the process exits 0."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

HILUM = [sys.executable, "-m", "orchestrator.cli"]
REPO = Path(__file__).resolve().parents[2]
QUESTIONS_EN = (
    "Is there anything abnormal in the lungs?",
    "Is the margin of the round opacity in the right middle lobe regular?",
    "How far is this lesion from the right hilum? Is it connected to the hilar structures?",
    "If this were early lung cancer, what are the typical X-ray signs, and how many does this image show?",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stable(turn: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in turn.items() if k != "timings"}


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from encoder.phantom import generate_case, scenario_spec

    out = tmp_path_factory.mktemp("phantom7")
    generate_case(7, scenario_spec()).write(out)
    return out / "image.png"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [*HILUM, "serve", "--host", "127.0.0.1", "--port", str(port), "--grpc-port", str(grpc_port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def wait_healthy(proc: subprocess.Popen[str], url: str, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/healthz did not answer within {timeout_s} s")


def test_serve_health_within_60s_then_ready(served: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = served
    assert wait_healthy(proc, url, 60.0) < 60.0
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/readyz", timeout=2).status_code != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.2)


def test_ask_in_process_json_matches_server(served: tuple[subprocess.Popen[str], str], film: Path) -> None:
    proc, url = served
    wait_healthy(proc, url, 60.0)
    local = subprocess.run([*HILUM, "ask", str(film), *QUESTIONS_EN, "--json"], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    doc = json.loads(local.stdout)
    assert set(doc) == {"session_id", "turns"}
    assert [t["turn"] for t in doc["turns"]] == [1, 2, 3, 4, 5]
    assert [t["intent"] for t in doc["turns"]] == ["screen", "screen", "describe_margin", "measure_relation",
                                                   "sign_checklist"]
    remote = subprocess.run([*HILUM, "ask", str(film), *QUESTIONS_EN, "--json", "--server", url], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert remote.returncode == 0, remote.stderr
    remote_doc = json.loads(remote.stdout)
    assert [stable(t) for t in remote_doc["turns"]] == [stable(t) for t in doc["turns"]]

    text = subprocess.run([*HILUM, "ask", str(film), QUESTIONS_EN[1], "--server", url], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "turn 2 · describe_margin" in text.stdout


def test_ask_writes_the_sessions_sr_in_process_and_from_a_server(served: tuple[subprocess.Popen[str], str],
                                                                  film: Path, tmp_path: Path) -> None:
    """``hilum ask FILM Q --sr OUT.dcm``: the session's TID 1500 SR after the last turn, referencing the
    uploaded DICOM, the same from the in-process engine and from ``--server``."""
    import highdicom as hd
    import pydicom

    proc, url = served
    wait_healthy(proc, url, 60.0)
    dcm = film.parent / "image.dcm"
    upload = pydicom.dcmread(dcm, stop_before_pixels=True)
    reports = []
    for where in ([], ["--server", url]):
        out = tmp_path / f"sr{len(reports)}.dcm"
        done = subprocess.run([*HILUM, "ask", str(dcm), "How far is A1 from the right hilum?", "--json", "--sr",
                               str(out), *where],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        turns = json.loads(done.stdout)["turns"]
        sr = pydicom.dcmread(out)
        assert sr.StudyInstanceUID == upload.StudyInstanceUID and int(sr.InstanceNumber) == len(turns) == 2
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == upload.SOPInstanceUID
        content = hd.sr.Comprehensive3DSR.from_dataset(sr).content
        groups = content.get_planar_roi_measurement_groups()
        assert len(groups) == len(turns[0]["findings"]) >= 1
        diameters = [g.get_measurements(name=hd.sr.CodedConcept("81827009", "SCT", "Diameter"))[0].value
                     for g in groups]
        assert diameters == pytest.approx([f["diameter_mm"] for f in turns[0]["findings"]], abs=0.01)
        distances = [m.value for m in content.get_image_measurement_groups()[0].get_measurements()
                     if m.name.value == "121206"]
        assert distances and distances == pytest.approx(
            [m["mm"] for m in turns[1]["measurements"] if m["kind"] == "distance"])
        reports.append(diameters)
    assert reports[0] == pytest.approx(reports[1], abs=0.01)

    nowhere = subprocess.run([*HILUM, "ask", str(dcm), "--sr", str(tmp_path / "no" / "such" / "x.dcm")], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert nowhere.returncode == 2 and "--sr" in nowhere.stderr and "no/such" not in nowhere.stderr


def test_ask_reports_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a film")
    done = subprocess.run([*HILUM, "ask", str(bad), "hello"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "unsupported_media" in done.stderr


def test_ask_refuses_a_question_the_service_would_before_reading_the_film(film: Path) -> None:
    """One empty or overlong question among several is named by its place before any analysis (never echoed), instead
    of costing every answer after the film was read."""
    secret = "x" * 2100
    done = subprocess.run([*HILUM, "ask", str(film), "is it round?", secret], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "invalid_question: question 2 is longer than" in done.stderr
    assert secret not in done.stderr + done.stdout and "turn 1" not in done.stdout


def test_ask_says_when_the_server_does_not_answer(film: Path) -> None:
    done = subprocess.run([*HILUM, "ask", str(film), "is it round?", "--server", f"http://127.0.0.1:{free_port()}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "the server did not answer (ConnectError)" in done.stderr
    assert "Traceback" not in done.stderr


def test_ask_refuses_what_is_not_a_chest_film(tmp_path: Path, film: Path) -> None:
    from loadtests.film_corpus import png_bytes

    turned = tmp_path / "turned.png"
    turned.write_bytes(png_bytes(np.asarray(Image.open(film)).T.copy()))
    done = subprocess.run([*HILUM, "ask", str(turned), "hello"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "not_a_chest_film" in done.stderr and "90 degrees" in done.stderr


def test_serve_refuses_a_public_address_without_api_keys(tmp_path: Path) -> None:
    """No keys file: ``--host 0.0.0.0`` exits non-zero at once, saying why, before binding anything
    (nothing listens on the ports it was given); a broken keys file is refused the same way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HILUM_")}
    port, grpc_port = free_port(), free_port()
    serve = [*HILUM, "serve", "--host", "0.0.0.0", "--port", str(port), "--grpc-port", str(grpc_port)]  # noqa: S104
    done = subprocess.run(serve, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "refusing to listen on '0.0.0.0'" in said and "HILUM_API_KEYS_FILE" in said
    assert "Traceback" not in said and "serving" not in said
    broken = tmp_path / "keys.json"
    broken.write_text('{"tenants": {"alice": ["md5:abc"]}}')
    done = subprocess.run([*serve, "--api-keys-file", str(broken)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "sha256:<64 hex digits>" in done.stdout + done.stderr


def test_status_one_screen(served: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = served
    wait_healthy(proc, url, 60.0)
    done = subprocess.run([*HILUM, "status", "--server", url], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"OK\s+orchestrator\s+ready", done.stdout)
    for part in ("triton", "narrator", "gpu", "sessions"):
        assert part in done.stdout
    as_json = subprocess.run([*HILUM, "status", "--server", url, "--json"], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
    report = json.loads(as_json.stdout)
    assert report["orchestrator"]["ok"] is True and report["triton"]["ok"] is None
    assert "sessions_active" in report["orchestrator"]["detail"]

    down = subprocess.run([*HILUM, "status", "--server", f"http://127.0.0.1:{free_port()}"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and "unreachable" in down.stdout


def big_film() -> bytes:
    """A valid 4000 x 4000 PNG of a chest film (the gate accepts it), with a little noise so that
    it compresses badly: slow enough to decode that it is surely in flight at SIGTERM."""
    import cv2

    from encoder.phantom import generate_case

    rng = np.random.default_rng(3)
    film = cv2.resize(generate_case(7).image, (4000, 4000), interpolation=cv2.INTER_LINEAR) * 235
    pixels = np.clip(film + rng.random((4000, 4000)) * 20, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def inflight(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    m = re.search(r'^hilum_inflight_requests\{transport="http"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_sigterm_drains_inflight_turn(served: tuple[subprocess.Popen[str], str]) -> None:
    """Last in this module: it stops the server."""
    proc, url = served
    wait_healthy(proc, url, 60.0)
    payload = big_film()
    result: dict[str, Any] = {}

    def upload() -> None:
        try:
            r = httpx.post(f"{url}/v1/sessions", files={"file": ("big.png", payload, "image/png")}, timeout=120)
            result["status"] = r.status_code
        except httpx.HTTPError as exc:
            result["error"] = repr(exc)

    worker = threading.Thread(target=upload)
    worker.start()
    deadline = time.monotonic() + 30
    while inflight(url) < 2:  # the /metrics request itself is one
        assert time.monotonic() < deadline and worker.is_alive(), result
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    worker.join(timeout=120)
    assert result.get("status") == 201, result
    assert proc.wait(timeout=60) == 0
    output = proc.stdout.read() if proc.stdout else ""
    assert "Traceback" not in output, output


def test_status_gpu_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GPU use comes from Triton's nv_gpu_* series, else nvidia-smi. Neither exists on this
    CPU-only machine, so a Triton metrics text and an nvidia-smi double (a script printing the
    CSV that ``--query-gpu=... --format=csv,noheader,nounits`` prints) stand in."""
    from orchestrator.fleet_status import parse_metrics, probe_gpu

    triton_text = ('nv_gpu_utilization{gpu_uuid="GPU-1"} 0.42\n'
                   'nv_gpu_memory_used_bytes{gpu_uuid="GPU-1"} 2147483648\n# HELP x y\n')
    from_triton = probe_gpu(parse_metrics(triton_text))
    assert from_triton.ok and "util 42%" in from_triton.summary and "2.0 GiB" in from_triton.summary

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 37, 1024, 81559'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    from_smi = probe_gpu({})
    assert from_smi.ok and from_smi.detail["gpus"][0]["util_pct"] == "37"
    assert "NVIDIA H100 80GB HBM3: 37% · 1024/81559 MiB" in from_smi.summary

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert probe_gpu({}).ok is None



def test_the_printed_turn_gives_a_findings_one_size() -> None:
    """``hilum ask`` printed a strand's equivalent diameter under a text that states its two axes."""
    from orchestrator.service_cli import render_turn

    turn = {"turn": 2, "intent": "size", "lang": "en", "answer": {"text": "A2: about 25.0 × 18.0 mm"},
            "measurements": [{"kind": "diameter", "of": "A2", "mm": 21.1, "size_kind": "axes", "size_mm": [25.0, 18.0],
                              "spacing_source": "dicom"},
                             {"kind": "diameter", "of": "A1", "mm": 12.0, "size_kind": "diameter", "size_mm": [12.0],
                              "spacing_source": "dicom"}]}
    text = render_turn(turn)
    assert "[size] A2→ 25.0 × 18.0 mm (dicom)" in text and "21.1" not in text
    assert "[diameter] A1→ 12.0 mm (dicom)" in text


def test_the_printed_turn_gives_an_earlier_films_comparison() -> None:
    """A comparison row prints both sizes and what was called; one seen only on the earlier film has no size now."""
    from orchestrator.service_cli import render_turn

    turn = {"turn": 1, "intent": "screen", "lang": "en", "answer": {"text": "Compared with the earlier film"},
            "measurements": [{"kind": "interval_change", "from": "A1", "mm": 12.0, "earlier_mm": 9.0,
                              "status": "larger", "interval_days": 180, "spacing_source": "dicom"},
                             {"kind": "interval_change", "from": None, "mm": None, "earlier_mm": 8.0,
                              "status": "not_seen_now", "interval_days": None, "spacing_source": "estimated"}]}
    text = render_turn(turn)
    assert "[earlier film, 180 days] A1 12.0 <- 9.0 mm: larger (dicom)" in text
    assert "[earlier film] - - <- 8.0 mm: not seen now (estimated)" in text
