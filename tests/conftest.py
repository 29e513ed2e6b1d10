"""Fixtures shared across the suite's packages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from export.triton_server import TritonPorts, TritonServer
from orchestrator.settings import Settings


@pytest.fixture(scope="module")
def committed_triton() -> Iterator[TritonServer]:
    """A real tritonserver on the committed ``model_repository/``, on free loopback ports; one
    per test module, stopped after it."""
    with TritonServer(Settings().model_repository, TritonPorts.free()) as srv:
        yield srv
