"""The Triton encoder's admission limit, against a real tritonserver on loopback: at most
``max_in_flight`` films wait on Triton from one process; the next is refused at once (429)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import closing

import numpy as np
import pytest

from export.triton_server import TritonServer
from orchestrator.encoders.factory import build_encoder
from orchestrator.encoders.triton import TritonEncoder
from orchestrator.errors import EncoderError, EncoderOverloadedError
from orchestrator.settings import Settings

pytestmark = pytest.mark.triton
MODEL = Settings().triton_model_name


@pytest.fixture(scope="module")
def limited(committed_triton: TritonServer) -> Iterator[TritonEncoder]:
    with closing(TritonEncoder(committed_triton.grpc_url, MODEL, timeout_s=60.0, max_in_flight=2)) as enc:
        yield enc


def film(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((512, 512), dtype=np.float32)


async def encode_all(enc: TritonEncoder, count: int) -> list[object]:
    return await asyncio.gather(*(enc.encode_async(film(i)) for i in range(count)), return_exceptions=True)


def test_films_past_the_limit_are_refused_at_once_and_the_rest_served(limited: TritonEncoder) -> None:
    results = asyncio.run(encode_all(limited, 8))
    served = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, EncoderOverloadedError)]
    assert len(served) + len(refused) == 8, results
    # eight films sent together: two go to Triton, the others find the limit taken
    assert len(served) >= 2 and refused, f"{len(served)} served, {len(refused)} refused"
    assert refused[0].http_status == 429 and refused[0].grpc_code == "RESOURCE_EXHAUSTED"
    assert "limit 2" in refused[0].message and "retry later" in refused[0].message
    assert limited.pending == 0  # every admitted film gave its place back
    assert limited.encode(film(99)).shape == (512, 512)  # and the next one is served


def test_a_failed_request_gives_its_place_back(limited: TritonEncoder) -> None:
    for _ in range(3):  # more failures than the limit: a leaked place would refuse the next film
        with pytest.raises(EncoderError) as caught:
            limited.infer(np.zeros((1, 256, 256), np.float32))  # the wrong shape: Triton refuses it
        assert not isinstance(caught.value, EncoderOverloadedError)
    assert limited.pending == 0
    assert limited.encode(film(7)).shape == (512, 512)


def test_a_batch_larger_than_the_limit_goes_when_nothing_waits(limited: TritonEncoder) -> None:
    anatomy, _, _ = limited.infer(np.stack([film(i) for i in range(3)]))
    assert anatomy.shape[0] == 3 and limited.pending == 0


def test_the_queue_setting_is_the_limit(committed_triton: TritonServer) -> None:
    settings = Settings(encoder=f"triton://{committed_triton.grpc_url}", encoder_queue_size=5)
    enc = build_encoder(settings)
    try:
        assert isinstance(enc, TritonEncoder) and enc.max_in_flight == 5
    finally:
        enc.close()
