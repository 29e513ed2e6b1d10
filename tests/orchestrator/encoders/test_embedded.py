"""The embedded encoder: same outputs as direct ONNX Runtime, batching, overload, validation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from orchestrator.contracts.encoder import ANATOMY_CLASSES
from orchestrator.encoders.embedded import EmbeddedEncoder
from orchestrator.encoders.factory import build_encoder, parse_triton_url
from orchestrator.encoders.onnxrt import ort_session
from orchestrator.encoders.postprocess import to_anatomy_maps
from orchestrator.errors import EncoderError, EncoderOverloadedError, InputError
from orchestrator.settings import Settings

ONNX = Settings().onnx_path


def films(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((512, 512), dtype=np.float32) for _ in range(n)]


@pytest.fixture()
def encoder() -> Iterator[EmbeddedEncoder]:
    enc = EmbeddedEncoder(ONNX, max_batch=8, max_wait_ms=20.0, queue_size=64, intra_op_threads=2)
    yield enc
    enc.close()


def test_same_outputs_as_direct_onnxruntime(encoder: EmbeddedEncoder) -> None:
    film = films(1)[0]
    direct = ort_session(ONNX, threads=1).run(None, {"image": film[None, None]})
    maps = encoder.encode(film)
    expected = to_anatomy_maps(film, *(o[0] for o in direct))
    assert maps.anatomy.shape == (len(ANATOMY_CLASSES), 512, 512) and maps.lesion.shape == (512, 512)
    assert float(np.abs(maps.anatomy - expected.anatomy).max()) <= 1e-5
    assert float(np.abs(maps.lesion - expected.lesion).max()) <= 1e-5
    for side in ("right", "left"):
        assert np.allclose(maps.hilum_px[side], expected.hilum_px[side], atol=1e-3)
    assert encoder.calls == 1 and encoder.ready()


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(encoder: EmbeddedEncoder) -> None:
    batch = films(16, seed=1)
    direct = ort_session(ONNX, threads=1).run(None, {"image": np.stack(batch)[:, None]})
    with ThreadPoolExecutor(16) as pool:
        outs = list(pool.map(lambda f: encoder.infer(f[None]), batch))
    for i, out in enumerate(outs):
        for got, want in zip(out, direct, strict=True):
            assert float(np.abs(got[0] - want[i]).max()) <= 1e-4
    assert encoder.calls == 16
    assert encoder.batches < 16, "16 concurrent films were never batched"


def test_batch_listeners_hear_every_batch_with_its_queue_time(encoder: EmbeddedEncoder) -> None:
    heard: list[tuple[int, float]] = []
    encoder.add_batch_listener(lambda size, waited: heard.append((size, waited)))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda f: encoder.infer(f[None]), films(8, seed=2)))
    assert sum(size for size, _ in heard) == 8 == encoder.calls
    assert len(heard) == encoder.batches
    assert all(size >= 1 and waited >= 0.0 for size, waited in heard)


def test_a_full_queue_raises_overloaded() -> None:
    enc = EmbeddedEncoder(ONNX, max_batch=1, max_wait_ms=0.0, queue_size=1, intra_op_threads=1)
    start = threading.Barrier(24)
    errors: list[Exception] = []

    def call(film: np.ndarray) -> None:
        start.wait()
        try:
            enc.infer(film[None])
        except EncoderOverloadedError as exc:
            errors.append(exc)

    try:
        with ThreadPoolExecutor(24) as pool:
            list(pool.map(call, films(24, seed=2)))
    finally:
        enc.close()
    assert errors, "24 simultaneous films never overflowed a queue of 1"
    assert errors[0].http_status == 429


def test_bad_input_is_refused_clearly(encoder: EmbeddedEncoder) -> None:
    with pytest.raises(InputError, match="512x512"):
        encoder.encode(np.zeros((256, 256), np.float32))
    with pytest.raises(InputError, match="float"):
        encoder.encode(np.zeros((512, 512), np.uint8))
    with pytest.raises(InputError, match="NaN"):
        encoder.encode(np.full((512, 512), np.nan, np.float32))
    assert encoder.ready()


def test_closed_encoder_says_so(encoder: EmbeddedEncoder) -> None:
    encoder.close()
    assert not encoder.ready()
    with pytest.raises(EncoderError, match="closed"):
        encoder.encode(films(1)[0])


def test_factory_builds_both_kinds() -> None:
    enc = build_encoder(Settings(encoder="embedded", encoder_max_batch=4))
    try:
        assert enc.name == "embedded" and enc.ready()
    finally:
        enc.close()
    triton = build_encoder(Settings(encoder="triton://127.0.0.1:1", encoder_timeout_s=2.0))
    try:
        assert triton.name == "triton" and not triton.ready()  # nothing listens on port 1
    finally:
        triton.close()
    assert parse_triton_url("triton://localhost:8001") == "localhost:8001"
    with pytest.raises(EncoderError, match="triton://HOST:PORT"):
        parse_triton_url("grpc://localhost")
