"""A film uploaded with an earlier film of the same chest, against a real server: REST, gRPC and ``hilum ask``
compare them in the screening turn and answer "has it grown?" from them; what cannot be compared is refused with
its kind. The earlier film is the phantom's (``encoder.phantom.earlier_film``: the SCENARIO's chest 180 days before,
its own positioning, the nodule at 9 mm instead of 12); the truth is used only to check."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from orchestrator.grpc_service.convert import session_from_proto
from orchestrator.grpc_service.proto import dialog_pb2 as pb
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.server import Service

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT/image.dcm (the SCENARIO film, seed 7) and OUT/earlier/image.dcm, as ``hilum phantom --earlier-days``
    writes them; OUT/other.dcm another patient's film."""
    from encoder.phantom import earlier_film, generate_case, scenario_spec
    from encoder.phantom.writer import write_dicom

    out = tmp_path_factory.mktemp("earlier")
    case = generate_case(7, scenario_spec())
    case.write(out)
    earlier_film(case, days=180, scale=0.75).write(out / "earlier")
    write_dicom(generate_case(8), out / "other.dcm")
    return out


@pytest.fixture()
def client(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=180) as c:
        yield c


def upload(client: httpx.Client, films: Path, earlier: Path | None, **data: str) -> httpx.Response:
    files = {"file": ("image.dcm", (films / "image.dcm").read_bytes(), "application/dicom")}
    if earlier is not None:
        files["earlier"] = ("earlier.dcm", earlier.read_bytes(), "application/dicom")
    return client.post("/v1/sessions", files=files, data=data)


def rows(turn: dict) -> dict[str, dict]:
    return {m["from"]: m for m in turn["measurements"] if m["kind"] == "interval_change"}


def test_the_screening_turn_compares_and_has_it_grown_is_answered(client: httpx.Client, films: Path) -> None:
    r = upload(client, films, films / "earlier" / "image.dcm", lang="en")
    assert r.status_code == 201, r.text
    session = r.json()
    screen = session["turns"][0]
    nodule = rows(screen)["A1"]  # the 12 mm nodule, 9 mm on the earlier film: grown past one measurement's error
    assert nodule["status"] == "larger" and nodule["interval_days"] == 180
    assert nodule["doubling_days"] is None  # the phantom's 0.64 mm films are too coarse to give one
    assert nodule["mm"] > nodule["earlier_mm"] and nodule["spacing_source"] == "dicom"
    assert rows(screen)["A2"]["status"] == "seen_on_both"  # the strand: seen, its outline not measured against
    section = next(s for s in screen["answer"]["sections"] if s["kind"] == "interval")
    assert "180 days" in section["text"] and "not a diagnosis" in section["text"]
    # the earlier film's reading of the nodule is only a "possibly": no change in mm and % from it (it had said "larger
    # by 5.0 mm (89%)"), the row keeps both films' sizes and no change
    assert nodule["earlier_uncertain"] and nodule["change_mm"] is None
    assert "larger by" not in section["text"] and "cannot be measured from these films" in section["text"]

    sid = session["session_id"]
    turn = client.post(f"/v1/sessions/{sid}/turns", json={"question": "Has the nodule grown since the last film?"})
    assert turn.status_code == 200
    grown = turn.json()
    assert grown["intent"] == "interval_change" and grown["referenced_anchor_ids"] == ["A1"]
    assert list(rows(grown)) == ["A1"] and "no doubling time is given" in grown["answer"]["text"]
    zh = client.post(f"/v1/sessions/{sid}/turns", json={"question": "和上次比有变化吗?"}).json()
    assert zh["lang"] == "zh" and set(rows(zh)) == {"A1", "A2"} and "相隔180天" in zh["answer"]["text"]
    before = client.post(f"/v1/sessions/{sid}/turns", json={"question": "how big was the nodule before?"}).json()
    assert before["intent"] == "interval_change" and list(rows(before)) == ["A1"]
    term = client.post(f"/v1/sessions/{sid}/turns", json={"question": "what does doubling time mean?"}).json()
    assert term["intent"] == "explain_term" and "ln 2" in term["answer"]["text"]
    value = client.post(f"/v1/sessions/{sid}/turns", json={"question": "what is the doubling time?"}).json()
    assert value["intent"] == "interval_change" and "no doubling time is given" in value["answer"]["text"]
    again = client.get(f"/v1/sessions/{sid}/turns/3", params={"lang": "en"}).json()  # read back, another language
    assert again["intent"] == "interval_change" and "180 days" in again["answer"]["text"]
    image = client.get(f"/v1/sessions/{sid}/earlier.png")  # the earlier film, in the frame of its boxes
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image.content != client.get(f"/v1/sessions/{sid}/image.png").content
    assert len(nodule["earlier_bbox_px"]) == 4
    report = client.get(f"/v1/sessions/{sid}/report").json()
    assert report["comparison"]["comparable"] and report["comparison"]["interval_days"] == 180
    assert {c["finding_id"] for c in report["comparison"]["changes"]} == {"F1", "F2"}


def test_without_an_earlier_film_it_says_how_to_give_one(client: httpx.Client, films: Path) -> None:
    session = upload(client, films, None, lang="en").json()
    assert not rows(session["turns"][0])
    text = client.post(f"/v1/sessions/{session['session_id']}/turns", json={"question": "has A1 grown?"}).json()
    assert "opened without an earlier film" in text["answer"]["text"] and ". Upload" in text["answer"]["text"]
    assert client.get(f"/v1/sessions/{session['session_id']}/report").json()["comparison"] is None
    missing = client.get(f"/v1/sessions/{session['session_id']}/earlier.png")
    assert missing.status_code == 404 and missing.json()["error"]["kind"] == "no_earlier_film"
    turn = client.post(f"/v1/sessions/{session['session_id']}/turns", json={"question": "Has it grown?"}).json()
    assert turn["intent"] == "out_of_scope" and "earlier film" in turn["answer"]["text"]
    assert "`earlier`" in turn["answer"]["text"]


def test_what_cannot_be_compared_is_refused_with_its_kind(client: httpx.Client, films: Path, tmp_path: Path) -> None:
    import numpy as np

    from loadtests.film_corpus import png_bytes

    noise = tmp_path / "noise.png"
    noise.write_bytes(png_bytes(np.random.default_rng(3).random((256, 256)).astype(np.float32)))
    r = upload(client, films, noise, lang="en")
    assert r.status_code == 422 and r.json()["error"]["kind"] == "not_a_chest_film"
    assert r.json()["error"]["message"].startswith("The earlier film: ") and r.json()["error"]["subject"] == "earlier"
    r = upload(client, films, films / "other.dcm")
    assert r.status_code == 422 and r.json()["error"]["kind"] == "not_the_same_patient"
    assert r.json()["error"]["subject"] == "earlier"
    assert "PHANTOM" not in r.json()["error"]["message"]
    r = upload(client, films, films / "earlier" / "image.dcm", earlier_date="2001-01-01")  # after this film's
    assert r.status_code == 422 and r.json()["error"]["kind"] == "invalid_date"
    r = upload(client, films, films / "image.dcm")  # the film as its own earlier film
    assert r.status_code == 422 and r.json()["error"]["kind"] == "same_film"
    r = upload(client, films, films / "earlier" / "image.dcm", study_date="2099-01-01")  # a film of the future
    assert r.status_code == 422 and r.json()["error"]["kind"] == "invalid_date" and "2099" not in r.text
    r = upload(client, films, films / "earlier" / "image.dcm", study_date="31/12/2000")
    assert r.status_code == 422 and r.json()["error"]["kind"] == "invalid_date"
    assert "31/12" not in r.json()["error"]["message"]
    assert client.get("/readyz").status_code == 200


def test_grpc_create_session_with_an_earlier_film(service: Service, films: Path) -> None:
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = pb_grpc.DialogStub(channel)
        session = session_from_proto(stub.CreateSession(pb.CreateSessionRequest(
            image=(films / "image.dcm").read_bytes(), filename="image.dcm", lang="en",
            earlier=(films / "earlier" / "image.dcm").read_bytes(), earlier_date="1999-10-01")))
        nodule = rows(session["turns"][0])["A1"]
        assert nodule["status"] == "larger" and nodule["interval_days"] == 92  # the date given, not the file's
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateSession(pb.CreateSessionRequest(image=(films / "image.dcm").read_bytes(),
                                                       earlier=(films / "other.dcm").read_bytes()))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(info.value.trailing_metadata())["hilum-error-kind"] == "not_the_same_patient"


def test_hilum_ask_with_an_earlier_film(films: Path) -> None:
    # the question after the options, as the README writes it
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "ask", str(films / "image.dcm"), "--earlier",
                           str(films / "earlier" / "image.dcm"), "--lang", "en", "--json", "is it growing?"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    turns = json.loads(done.stdout)["turns"]
    assert rows(turns[0])["A1"]["status"] == "larger" and turns[1]["intent"] == "interval_change"
