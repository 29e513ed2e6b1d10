"""Request-scoped lookups: the services on ``app.state`` and the caller's tenant (from the API
key; from ``X-Hilum-Tenant`` only on a loopback server without keys), after the tenant's rate.

Every dependency is ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, where
it would queue behind uploads (``/healthz`` and ``/readyz`` must never wait there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from orchestrator.api.examples import ExampleLibrary
from orchestrator.api.readiness import Readiness
from orchestrator.dialogue.service import DialogueService
from orchestrator.metrics import ServiceMetrics
from orchestrator.tenancy import Tenancy


async def engine(request: Request) -> DialogueService:
    return request.app.state.engine


async def metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


async def readiness(request: Request) -> Readiness:
    return request.app.state.readiness


async def examples(request: Request) -> ExampleLibrary:
    return request.app.state.examples


async def tenancy(request: Request) -> Tenancy:
    return request.app.state.tenancy


async def tenant(request: Request) -> str:
    """``TenantMiddleware`` has identified the caller (before the body was read); an app without
    it identifies here (async: never waits behind the thread pool). The headers are read only then,
    not declared as parameters: FastAPI would parse and validate them on every request."""
    known = getattr(request.state, "tenant", None)
    if known is not None:
        return known
    tenancy = request.app.state.tenancy
    authorization = tenancy.one_credential(request.headers.getlist("authorization"))  # 401 for two
    return tenancy.enter(authorization, request.headers.get("x-hilum-tenant"))


Engine = Annotated[DialogueService, Depends(engine)]
Metrics = Annotated[ServiceMetrics, Depends(metrics)]
Ready = Annotated[Readiness, Depends(readiness)]
Examples = Annotated[ExampleLibrary, Depends(examples)]
Tenant = Annotated[str, Depends(tenant)]
Tenants = Annotated[Tenancy, Depends(tenancy)]
