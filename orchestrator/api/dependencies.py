"""Request-scoped lookups: the services on ``app.state`` and the caller's tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from orchestrator.api.examples import ExampleLibrary
from orchestrator.api.readiness import Readiness
from orchestrator.metrics import ServiceMetrics

DEFAULT_TENANT = "default"


def engine(request: Request) -> Any:
    return request.app.state.engine


def metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


def readiness(request: Request) -> Readiness:
    return request.app.state.readiness


def examples(request: Request) -> ExampleLibrary:
    return request.app.state.examples


def tenant(x_hilum_tenant: Annotated[str | None, Header()] = None) -> str:
    return (x_hilum_tenant or "").strip() or DEFAULT_TENANT


Engine = Annotated[Any, Depends(engine)]
Metrics = Annotated[ServiceMetrics, Depends(metrics)]
Ready = Annotated[Readiness, Depends(readiness)]
Examples = Annotated[ExampleLibrary, Depends(examples)]
Tenant = Annotated[str, Depends(tenant)]
