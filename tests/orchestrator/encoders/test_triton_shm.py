"""The Triton encoder over system shared memory, against a real tritonserver on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import numpy as np
import pytest

from export.triton_server import TritonServer
from orchestrator.encoders.triton import TritonEncoder
from orchestrator.errors import EncoderError
from orchestrator.settings import Settings

pytestmark = pytest.mark.triton
SETTINGS = Settings()
MODEL = SETTINGS.triton_model_name


@pytest.fixture(scope="module")
def payload(committed_triton: TritonServer) -> Iterator[TritonEncoder]:
    with closing(TritonEncoder(committed_triton.grpc_url, MODEL, timeout_s=60.0)) as enc:
        yield enc


def film(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((512, 512), dtype=np.float32)


def registered(server: TritonServer) -> list[str]:
    import tritonclient.grpc as grpcclient

    with closing(grpcclient.InferenceServerClient(server.grpc_url)) as client:
        status = client.get_system_shared_memory_status(as_json=True)
    return sorted(status.get("regions", {}))


def test_shared_memory_answers_exactly_like_payloads(committed_triton: TritonServer, payload: TritonEncoder) -> None:
    with closing(TritonEncoder(committed_triton.grpc_url, MODEL, timeout_s=60.0, shared_memory_slots=2)) as enc:
        assert len(registered(committed_triton)) == 2
        for seed in (1, 2, 3):  # more requests than regions: each region is reused
            for a, b in zip(enc.infer(film(seed)[None]), payload.infer(film(seed)[None]), strict=True):
                assert a.shape == b.shape and np.array_equal(a, b)
        two = np.stack([film(4), film(5)])  # two films: sent as payload
        for a, b in zip(enc.infer(two), payload.infer(two), strict=True):
            assert a.shape[0] == 2 and np.array_equal(a, b)
        maps = enc.encode(film(6))
        assert maps.lesion.shape == (512, 512)


def test_more_concurrent_films_than_regions_each_get_their_own_maps(committed_triton: TritonServer, payload: TritonEncoder) -> None:
    films = [film(100 + i) for i in range(16)]
    want = [payload.infer(f[None])[1] for f in films]
    with closing(TritonEncoder(committed_triton.grpc_url, MODEL, timeout_s=60.0, shared_memory_slots=4)) as enc, \
            ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda f: enc.infer(f[None])[1], films))
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_a_refused_film_frees_its_region_and_close_unregisters_all(committed_triton: TritonServer) -> None:
    before = registered(committed_triton)
    enc = TritonEncoder(committed_triton.grpc_url, MODEL, timeout_s=60.0, shared_memory_slots=1)
    names = sorted(set(registered(committed_triton)) - set(before))
    assert len(names) == 1 and os.path.exists(f"/dev/shm/{names[0]}")
    assert enc.shared_memory is not None and enc.shared_memory.free == 1
    with pytest.raises(EncoderError, match="NaN"):
        enc.infer(np.full((1, 512, 512), np.nan, np.float32))
    assert enc.shared_memory.free == 1  # the refused film gave its region back
    assert enc.infer(film(7)[None])[0].shape == (1, 17, 128, 128)
    assert enc.shared_memory.free == 1
    enc.close()
    assert registered(committed_triton) == before
    assert not os.path.exists(f"/dev/shm/{names[0]}")


def test_a_timed_out_request_retires_its_region(committed_triton: TritonServer) -> None:
    """Triton may still write a timed-out request's maps: its region is not handed out again."""
    before = registered(committed_triton)
    enc = TritonEncoder(committed_triton.grpc_url, MODEL, timeout_s=0.001, shared_memory_slots=1)
    assert enc.shared_memory is not None and enc.shared_memory.free == 1
    with pytest.raises(EncoderError, match="(?i)deadline"):
        enc.infer(film(8)[None])
    assert enc.shared_memory.free == 0
    enc.close()
    assert registered(committed_triton) == before


def test_the_setting_reaches_the_encoder(committed_triton: TritonServer) -> None:
    from orchestrator.encoders.factory import build_encoder

    settings = SETTINGS.model_copy(update={"encoder": f"triton://{committed_triton.grpc_url}", "triton_shared_memory_slots": 3})
    enc = build_encoder(settings)
    try:
        assert isinstance(enc, TritonEncoder) and enc.shared_memory is not None
        assert enc.shared_memory.slots == 3 and enc.encode(film(9)).lesion.shape == (512, 512)
    finally:
        enc.close()


def test_an_unknown_model_fails_at_start_with_a_clear_error(committed_triton: TritonServer) -> None:
    before = registered(committed_triton)
    with pytest.raises(EncoderError, match="no_such_model"):
        TritonEncoder(committed_triton.grpc_url, "no_such_model", timeout_s=10.0, shared_memory_slots=2)
    assert registered(committed_triton) == before
