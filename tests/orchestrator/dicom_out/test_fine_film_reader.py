"""The lesion reader in the engine (issue 22): one call per first turn, for the focal findings of a
film whose pixels are fine enough, none on coarse films and none on follow-up turns. Here beside
the DICOM-out tests for their resampled phantom DICOM (``conftest.resampled_dicom``); what the
reader reads is scored by ``hilum evaluate-reader``, not here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.encoders.lesion_reader import EmbeddedLesionReader
from orchestrator.findings.lesion_reading import READ_KINDS
from orchestrator.settings import Settings

from .conftest import resampled_dicom


@pytest.fixture(scope="module")
def reading_engine(engine: Any) -> Iterator[DialogueEngine]:
    settings = Settings(lesion_reader_backs_smooth=True)  # every reading applied: the mechanics, not the policy
    reader = EmbeddedLesionReader(settings.lesion_reader_onnx_path)
    yield DialogueEngine(engine.encoder, settings, reader=reader)
    reader.close()


def test_a_detector_resolution_film_has_its_focal_findings_read_once(reading_engine: DialogueEngine,
                                                                     phantom_case: Path) -> None:
    fine = resampled_dicom(phantom_case / "image.dcm", rows=2048, cols=1888)  # ~0.16 mm per pixel
    reader = reading_engine.reader
    before = reader.calls
    view = reading_engine.create_session(fine, filename="film.dcm", lang="en")
    findings = reading_engine.store.get(view.session_id).facts.findings
    focal = [f for f in findings if f.kind in READ_KINDS]
    assert focal, "the scenario film has a nodule"
    assert reader.calls - before == len(focal), "one crop per focal finding, in one first-turn call"
    assert all(f.margin_source == "reader" and "margin" in f.attribute_confidence for f in focal)
    assert all(f.margin_source == "lesion_map" for f in findings if f.kind not in READ_KINDS)
    assert "read" in view.turns[0].timings  # its own stage in the turn's timings and the metrics
    calls = reader.calls
    reading_engine.ask(view.session_id, "is the margin of A1 regular?")
    reading_engine.ask(view.session_id, "how far is A1 from the right hilum?")
    assert reader.calls == calls, "follow-up turns never call the reader"
    reading_engine.close_session(view.session_id)


def test_a_coarse_film_keeps_the_lesion_maps_margin(reading_engine: DialogueEngine, film_dcm: bytes) -> None:
    before = reading_engine.reader.calls
    view = reading_engine.create_session(film_dcm, filename="film.dcm", lang="en")  # ~0.32 mm per pixel
    findings = reading_engine.store.get(view.session_id).facts.findings
    assert findings and all(f.margin_source == "lesion_map" for f in findings)
    assert reading_engine.reader.calls == before
    reading_engine.close_session(view.session_id)


def test_a_letterboxed_film_reads_as_the_film(reading_engine: DialogueEngine, phantom_case: Path) -> None:
    """The same detector-resolution film inside a black border (an export's letterbox): cut back to the film, it gives
    the same findings, read by the reader from the upload's pixels through the session's frame (pads less the cut)."""
    import io

    import numpy as np
    import pydicom

    fine = resampled_dicom(phantom_case / "image.dcm", rows=2048, cols=1888)
    ds = pydicom.dcmread(io.BytesIO(fine))
    film = ds.pixel_array
    boxed = np.zeros((film.shape[0] + 600, film.shape[1] + 900), dtype=film.dtype)
    boxed[250:250 + film.shape[0], 400:400 + film.shape[1]] = film
    ds.Rows, ds.Columns = boxed.shape
    ds.PixelData = boxed.tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)

    def read(data: bytes) -> tuple[Any, Any]:
        view = reading_engine.create_session(data, filename="film.dcm", lang="en")
        state = reading_engine.store.get(view.session_id)
        reading_engine.close_session(view.session_id)
        return state.facts.findings, state.frame

    plain, _ = read(fine)
    cut, frame = read(out.getvalue())
    assert frame.original_size == boxed.shape and frame.pad_px[1] < 0  # the frame is the upload's
    assert [f.kind for f in cut] == [f.kind for f in plain]
    for a, b in zip(cut, plain, strict=True):
        assert np.hypot(a.center_px[0] - b.center_px[0], a.center_px[1] - b.center_px[1]) <= 2.0
        assert a.diameter_mm == pytest.approx(b.diameter_mm, rel=0.1) and a.margin_source == b.margin_source
