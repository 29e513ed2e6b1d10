"""Fixtures shared by the findings-layer tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def encoder() -> Iterator[Any]:
    pytest.importorskip("encoder.phantom")
    from orchestrator.encoders.factory import build_encoder
    from orchestrator.settings import Settings

    settings = Settings()
    if not settings.onnx_path.exists():
        pytest.skip(f"no encoder weights at {settings.onnx_path}")
    enc = build_encoder(settings)
    yield enc
    enc.close()


@pytest.fixture(scope="module")
def second_reader() -> Iterator[Any]:
    """The second reader as the service builds it (``orchestrator/encoders/second_reader.py``)."""
    from orchestrator.encoders.factory import build_second_reader
    from orchestrator.settings import Settings

    enc = build_second_reader(Settings(second_reader="embedded"))
    yield enc
    enc.close()
