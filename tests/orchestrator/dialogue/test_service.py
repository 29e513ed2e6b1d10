"""``DialogueService`` (orchestrator/dialogue/service.py) is what the shells need of the engine:
``DialogueEngine`` satisfies it signature by signature, and the shells call nothing else on it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_type_hints

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.service import DialogueService
from orchestrator.ontology.loader import Ontology

ROOT = Path(__file__).resolve().parents[3]
# the shells over the engine; dicom_out is what the REST and gRPC shells and the service CLI build
# over it (DicomObjects(engine)), so what it calls is needed of the service too
SHELLS = (
    "orchestrator/api/routers/*.py", "orchestrator/api/dependencies.py", "orchestrator/api/app.py",
    "orchestrator/grpc_service/*.py", "orchestrator/dicom_scp.py", "orchestrator/service_cli.py",
    "orchestrator/cli.py", "orchestrator/client.py", "orchestrator/pacs_cli.py", "orchestrator/dicom_out/*.py",
)
CALL = re.compile(r"\bengine\.([A-Za-z_]\w*)\b(?!\.py)")


def protocol_methods() -> tuple[str, ...]:
    return tuple(name for name, value in vars(DialogueService).items()
                 if inspect.isfunction(value) and not name.startswith("_"))


def protocol_members() -> set[str]:
    return set(protocol_methods()) | set(DialogueService.__annotations__)


@pytest.fixture(scope="module")
def engine() -> Iterator[DialogueEngine]:
    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    yield build_services(Settings()).engine


def test_the_engine_is_a_dialogue_service(engine: DialogueEngine) -> None:
    service: DialogueService = engine  # what the shells hold
    assert isinstance(service, DialogueService)
    assert isinstance(engine.ontology, Ontology)
    assert get_type_hints(DialogueService)["ontology"] is Ontology


@pytest.mark.parametrize("name", protocol_methods())
def test_each_method_has_the_engines_signature(name: str) -> None:
    wanted = inspect.signature(getattr(DialogueService, name))
    actual = inspect.signature(getattr(DialogueEngine, name))
    assert [(p.name, p.kind, p.default) for p in wanted.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in actual.parameters.values()], name
    assert get_type_hints(getattr(DialogueService, name)) == get_type_hints(getattr(DialogueEngine, name)), name


def test_the_shells_call_exactly_the_protocol() -> None:
    called: dict[str, set[str]] = {}
    for pattern in SHELLS:
        for path in sorted(ROOT.glob(pattern)):
            for name in CALL.findall(path.read_text(encoding="utf-8")):
                called.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert set(called) <= protocol_members(), {k: v for k, v in called.items() if k not in protocol_members()}
    assert protocol_members() <= set(called), protocol_members() - set(called)


def test_a_stand_in_without_a_method_is_not_a_service(engine: DialogueEngine) -> None:
    class Partial:
        ontology = engine.ontology

        def ask(self, session_id: str, question: str, tenant: str = "default") -> object:
            return engine.ask(session_id, question, tenant)

    assert not isinstance(Partial(), DialogueService)
