"""``/healthz`` (the process answers), ``/readyz`` (the encoder answers, the session store is
reachable, not draining), ``/metrics``.

All three are ``async``: they run on the event loop, never in the thread pool where uploads and
turns run, so a probe answers however busy the workers are (``Readiness.probe`` keeps the
checks that may touch the network on its own threads)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orchestrator.api.dependencies import Metrics, Ready
from orchestrator.api.protocol import Health
from orchestrator.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(readiness: Ready, response: Response) -> Health:
    ready, detail = await readiness.probe()
    response.status_code = 200 if ready else 503
    return Health(status="ready" if ready else "not_ready", detail=detail)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(service_metrics: Metrics) -> Response:
    return Response(service_metrics.render(), media_type=CONTENT_TYPE)
