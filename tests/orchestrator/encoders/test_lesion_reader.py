"""The embedded lesion reader on the shipped weights: typed readings with probabilities, one call
per film for all its candidates, clear errors for bad input, no torch in the serving path."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from orchestrator.contracts.lesion_reader import INPUT_SHAPE, MARGINS, Frame, cut_crops
from orchestrator.encoders.lesion_reader import EmbeddedLesionReader, read_candidates, validate_crops
from orchestrator.errors import EncoderError, InputError
from orchestrator.settings import REPO_ROOT

ONNX = REPO_ROOT / "encoder" / "weights" / "lesion-reader" / "lesion_reader.onnx"


@pytest.fixture(scope="module")
def reader() -> EmbeddedLesionReader:
    return EmbeddedLesionReader(ONNX, intra_op_threads=1)


def film_with_discs(size: int = 1800, spacing_mm: float = 0.18) -> tuple[np.ndarray, list[tuple[float, float]]]:
    rng = np.random.default_rng(0)
    film = (900.0 + 60.0 * rng.standard_normal((size, size))).astype(np.float32)
    ys, xs = np.mgrid[0:size, 0:size]
    centres = [(500.0, 700.0), (1300.0, 900.0)]
    for (cx, cy), radius_mm in zip(centres, (6.0, 11.0), strict=True):
        film[np.hypot(xs - cx, ys - cy) * spacing_mm < radius_mm] += 700.0
    return film, centres


def test_all_candidates_of_a_film_are_read_in_one_call_in_their_order(reader: EmbeddedLesionReader) -> None:
    film, centres_orig = film_with_discs()
    frame = Frame((1800, 1800), (512, 512), 1800 / 512, (0.0, 0.0))
    centres = [tuple(float(v) for v in frame.to_working(*c)) for c in centres_orig]
    lesion_map = np.zeros((256, 256), np.float32)
    before = reader.calls
    readings = read_candidates(reader, film, (0.18, 0.18), frame, centres, lesion_map)
    assert reader.calls - before == 2 and len(readings) == 2
    for r in readings:
        assert r.margin in MARGINS and sum(r.margin_probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert all(0.0 <= p <= 1.0 for p in (*r.notch_probs, *r.spicule_probs, r.p_calcified, r.p_cavity))
        assert r.diameter_mm > 0 and r.mask.shape == (128, 128)
        assert all(1 <= h <= 12 for h in (*r.notches_clock, *r.spicule_clock))
    again = read_candidates(reader, film, (0.18, 0.18), frame, centres[::-1], lesion_map)
    probs = [[r.margin_probs[m] for m in MARGINS] for r in readings]
    assert np.allclose([[r.margin_probs[m] for m in MARGINS] for r in again], probs[::-1], atol=1e-6)
    # the two candidates differ (a 12 and a 22 mm disc): their readings are not the same numbers
    assert readings[0].diameter_mm != readings[1].diameter_mm
    assert read_candidates(reader, film, (0.18, 0.18), frame, [], lesion_map) == []
    direct = reader.read(cut_crops(film, (0.18, 0.18), centres, lesion_map, frame))
    assert [r.diameter_mm for r in direct] == [r.diameter_mm for r in readings]


def test_concurrent_callers_get_their_own_answers(reader: EmbeddedLesionReader) -> None:
    rng = np.random.default_rng(1)
    batches = [rng.random((1 + i % 3, *INPUT_SHAPE), dtype=np.float32) for i in range(8)]
    alone = [reader.infer(b)["margin"] for b in batches]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda b: reader.infer(b)["margin"], batches))
    for a, b in zip(alone, together, strict=True):
        assert np.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(("crops", "message"), [
    (np.zeros((1, 1, 256, 256), np.float32), "must be"),
    (np.zeros((0, *INPUT_SHAPE), np.float32), "1-128"),
    (np.zeros((129, *INPUT_SHAPE), np.float32), "1-128"),
    (np.zeros((1, *INPUT_SHAPE), np.int32), "float"),
    (np.full((1, *INPUT_SHAPE), np.inf, np.float32), "NaN or infinite"),
])
def test_bad_crops_are_refused(reader: EmbeddedLesionReader, crops: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        reader.infer(crops)
    with pytest.raises(InputError, match=message):
        validate_crops(crops)


def test_missing_weights_and_a_closed_reader_are_service_errors(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(EncoderError, match="not found"):
        EmbeddedLesionReader(tmp_path / "missing.onnx")
    closed = EmbeddedLesionReader(ONNX)
    closed.close()
    assert not closed.ready()
    with pytest.raises(EncoderError, match="closed"):
        closed.infer(np.zeros((1, *INPUT_SHAPE), np.float32))


def test_the_serving_path_imports_neither_torch_nor_training_code() -> None:
    code = ("import sys; import orchestrator.encoders.lesion_reader, orchestrator.contracts.lesion_reader; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('encoder.lesion_reader')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
