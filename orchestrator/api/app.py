"""The REST app factory: ``create_app(settings, engine)``; every service lives on ``app.state``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from orchestrator.api.errors import install_error_handlers
from orchestrator.api.examples import ExampleLibrary
from orchestrator.api.middleware import (
    AdmissionMiddleware,
    BodyLimitMiddleware,
    RequestMetricsMiddleware,
    SecurityHeadersMiddleware,
    TenantMiddleware,
)
from orchestrator.api.readiness import Readiness
from orchestrator.api.routers import dicom, examples, health, sessions, web
from orchestrator.dialogue.service import DialogueService
from orchestrator.metrics import ServiceMetrics
from orchestrator.settings import Settings
from orchestrator.tenancy import Tenancy


def create_app(
    settings: Settings, engine: DialogueService, *, metrics: ServiceMetrics | None = None,
    readiness: Readiness | None = None, examples_library: ExampleLibrary | None = None,
    tenancy: Tenancy | None = None,
) -> FastAPI:
    """The REST + web app over ``engine``. ``metrics`` should be the engine's observer so that one
    registry carries every series; ``readiness`` is shared with the server for draining;
    ``tenancy`` (keys and limits per tenant) with the gRPC server."""
    workers = settings.worker_count(settings.http_workers)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the sync handlers' thread pool (anyio's default limiter, per event loop), from the settings
        anyio.to_thread.current_default_thread_limiter().total_tokens = workers
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Hilum",
        version="0.1.0",
        description="Multi-turn, spatially anchored dialogue about chest radiographs.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = metrics if metrics is not None else ServiceMetrics()
    if readiness is None:  # no server warm-up behind this app: ready as soon as the encoder is
        readiness = Readiness(getattr(engine, "encoder", None), getattr(engine, "store", None),
                              getattr(engine, "second_reader", None), getattr(engine, "alone_reader", None))
        readiness.warmed.set()
    app.state.readiness = readiness
    app.state.tenancy = tenancy if tenancy is not None else Tenancy(settings, observe=app.state.metrics.error)
    app.state.examples = examples_library if examples_library is not None else ExampleLibrary(settings.cache_dir)
    install_error_handlers(app)
    for router in (health.router, sessions.router, examples.router, web.router):
        app.include_router(router)
    app.include_router(dicom.router)  # /v1/sessions/{id}/dicom/{sr|pr|seg|sc}: the session keeps its source image
    app.mount("/static", StaticFiles(directory=web.WEB_DIR), name="static")
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes, metrics=app.state.metrics,
                       timeout_s=settings.http_body_timeout_s)  # 413 / 408
    app.add_middleware(AdmissionMiddleware, limit=workers, observe=app.state.metrics.error)  # 429 server_busy
    app.add_middleware(TenantMiddleware, tenancy=app.state.tenancy)  # 401 / 429 before the body is read
    app.add_middleware(SecurityHeadersMiddleware)  # the page's CSP & co; no-store on all under /v1/sessions
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)  # outermost: counts 413s too
    return app
