"""Shared by the service tests (api, grpc_service, web): a real service (embedded encoder, REST + gRPC on loopback) and the SCENARIO phantom film."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.server import Service, build_services
from orchestrator.settings import Settings


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from encoder.phantom import generate_case, scenario_spec

    out = tmp_path_factory.mktemp("phantom7")
    generate_case(7, scenario_spec()).write(out)
    return out


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    settings = Settings(host="127.0.0.1")
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc:
        svc.wait_ready()
        yield svc
