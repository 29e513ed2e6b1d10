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


@pytest.fixture(scope="module")
def api_keys() -> dict[str, str]:
    """Tenants and their API keys for ``keyed_service`` (the keys file holds only their SHA-256)."""
    return {"alice": "alice-key-7f3a", "bob": "bob-key-91c2", "carol": "carol-key-05d8", "dave": "dave-key-c4e1"}


@pytest.fixture(scope="module")
def keyed_service(tmp_path_factory: pytest.TempPathFactory, api_keys: dict[str, str]) -> Iterator[Service]:
    """A real service with ``HILUM_API_KEYS_FILE`` holding ``api_keys`` (one key per tenant), at
    most 2 sessions per tenant and 3 in the store."""
    import json

    from orchestrator.tenancy import key_hash

    keys = tmp_path_factory.mktemp("keys") / "keys.json"
    keys.write_text(json.dumps({"tenants": {t: [key_hash(k)] for t, k in api_keys.items()}}))
    settings = Settings(host="127.0.0.1", api_keys_file=keys, max_sessions=3, max_sessions_per_tenant=2)
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc:
        svc.wait_ready()
        yield svc
