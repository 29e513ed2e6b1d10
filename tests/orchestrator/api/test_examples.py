"""``/v1/examples`` against a real server: the committed example films are small DICOM files
with their true pixel spacing, served as committed (no phantom at request time), and a session
on one measures in true millimetres (spacing source ``dicom``, not ``estimated``)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.api.examples import EXAMPLES_DIR, MANIFEST, ExampleLibrary, load_manifest
from orchestrator.server import Service
from orchestrator.settings import Settings

MANIFEST_ENTRIES = json.loads((EXAMPLES_DIR / MANIFEST).read_text(encoding="utf-8"))["examples"]
MAX_FILM_BYTES = 300_000  # "a few hundred kB at most"


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=120) as c:
        yield c


def test_committed_films_are_small_lossless_dicom_with_their_spacing() -> None:
    import pydicom
    from pydicom.uid import JPEGLSLossless

    from orchestrator.imaging import decode_upload

    assert len(MANIFEST_ENTRIES) >= 3 and any(e["scenario"] for e in MANIFEST_ENTRIES)
    for entry in MANIFEST_ENTRIES:
        data = (EXAMPLES_DIR / entry["file"]).read_bytes()
        assert len(data) <= MAX_FILM_BYTES, entry["file"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        ds = pydicom.dcmread(io.BytesIO(data))
        assert ds.file_meta.TransferSyntaxUID == JPEGLSLossless and ds.LossyImageCompression == "00"
        assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx(entry["truth"]["pixel_spacing_mm"])
        assert (ds.Rows, ds.Columns) == tuple(entry["size"]) and ds.Modality == "DX"
        assert int(ds.pixel_array.max()) < (1 << ds.BitsStored) and int(ds.pixel_array.max()) > 0
        film = decode_upload(data, entry["file"], Settings())
        assert film.spacing is not None and film.spacing.source == "dicom"
        scale = entry["size"][1] / film.image.shape[1]
        assert film.spacing.col_mm == pytest.approx(entry["pixel_spacing_mm"][1] * scale, rel=1e-4)


def test_list_and_files_over_http(client: httpx.Client) -> None:
    listed = client.get("/v1/examples").json()
    assert [e["seed"] for e in listed] == [e["seed"] for e in MANIFEST_ENTRIES]
    for item, entry in zip(listed, MANIFEST_ENTRIES, strict=True):
        assert item["dicom_url"] == f"/v1/examples/{entry['seed']}.dcm"
        assert item["pixel_spacing_mm"] == pytest.approx(entry["pixel_spacing_mm"])
        assert item["scenario"] is entry["scenario"]
        dcm = client.get(item["dicom_url"])
        assert dcm.status_code == 200 and dcm.headers["content-type"] == "application/dicom"
        assert dcm.content == (EXAMPLES_DIR / entry["file"]).read_bytes()  # the committed bytes, as they are
        png = client.get(item["image_url"])
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        from PIL import Image

        assert Image.open(io.BytesIO(png.content)).size == tuple(entry["size"][::-1])
    for unknown in ("/v1/examples/999999.dcm", "/v1/examples/999999.png"):
        r = client.get(unknown)
        assert r.status_code == 404 and r.json()["error"]["kind"] == "example_not_found"
        assert "999999" not in r.json()["error"]["message"]  # messages never echo input


def test_session_on_the_scenario_example_measures_in_true_mm(client: httpx.Client) -> None:
    entry = next(e for e in MANIFEST_ENTRIES if e["scenario"])
    data = client.get(f"/v1/examples/{entry['seed']}.dcm").content
    r = client.post("/v1/sessions", files={"file": (entry["file"], data, "application/dicom")}, data={"lang": "en"})
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["image"]["spacing_source"] == "dicom"
    assert session["image"]["pixel_spacing_mm"] == pytest.approx(entry["pixel_spacing_mm"], rel=1e-4)
    sid = session["session_id"]
    rml = next(lesion for lesion in entry["truth"]["lesions"] if lesion["lobe"] == "RML")
    turn = client.post(f"/v1/sessions/{sid}/turns",
                       json={"question": "Is the margin of the round opacity in the right middle lobe regular?"}).json()
    assert turn["intent"] == "describe_margin"
    turn = client.post(f"/v1/sessions/{sid}/turns",
                       json={"question": "How far is this lesion from the right hilum?"}).json()
    distances = [m for m in turn["measurements"] if m["kind"] == "distance"]
    assert distances and all(m["spacing_source"] == "dicom" for m in distances)
    assert distances[0]["mm"] == pytest.approx(rml["distance_to_hilum_mm"], abs=5.0)  # SCENARIO: within 5 mm
    client.delete(f"/v1/sessions/{sid}")


def test_library_reads_only_what_is_committed(tmp_path: Path) -> None:
    assert ExampleLibrary(tmp_path, folder=tmp_path).list() == []  # no manifest: no examples, nothing generated
    assert not any(tmp_path.iterdir())
    library = ExampleLibrary()
    assert [c.seed for c in library.list()] == [c.seed for c in load_manifest()]


def test_generator_reproduces_the_committed_film(tmp_path: Path) -> None:
    """The committed films are what ``python -m loadtests.make_examples`` writes today: when the
    phantom changes, this fails until the films are regenerated and committed. The same header and
    truth; the pixels equal but for floating-point rounding across CPUs (an AMD EPYC renders 13 of
    the 262,144 pixels one unit apart from the machine that committed them; a phantom change moves
    thousands)."""
    import numpy as np
    import pydicom

    from loadtests.make_examples import EXAMPLE_SPECS, make_examples

    spec = next(s for s in EXAMPLE_SPECS if s.scenario)
    (entry,) = make_examples(tmp_path, (spec,))
    committed = next(e for e in MANIFEST_ENTRIES if e["seed"] == spec.seed)
    assert {k: v for k, v in entry.items() if k != "sha256"} == {k: v for k, v in committed.items() if k != "sha256"}
    made, kept = pydicom.dcmread(tmp_path / entry["file"]), pydicom.dcmread(EXAMPLES_DIR / committed["file"])
    pixel_data = (0x7FE0, 0x0010)
    assert [(e.tag, e.value) for e in made if e.tag != pixel_data] == [(e.tag, e.value) for e in kept if e.tag != pixel_data]
    diff = np.abs(made.pixel_array.astype(np.int32) - kept.pixel_array.astype(np.int32))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= diff.size // 1000, (int(diff.max()), np.count_nonzero(diff))
