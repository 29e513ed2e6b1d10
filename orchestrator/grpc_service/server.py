"""Builds the gRPC server (``hilum.v1.Dialog``) on a port; the caller starts and stops it."""

from __future__ import annotations

from concurrent import futures

import grpc

from orchestrator.dialogue.service import DialogueService
from orchestrator.grpc_service.interceptors import AdmissionInterceptor, MalformedRequestInterceptor
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.grpc_service.servicer import DialogServicer
from orchestrator.metrics import ServiceMetrics
from orchestrator.settings import Settings
from orchestrator.tenancy import Tenancy

# the film travels inside CreateSessionRequest: allow the upload limit plus framing
MESSAGE_SLACK_BYTES = 64 * 1024
REFUSAL_THREADS = 4  # threads beyond grpc_workers: they only ever answer server_busy refusals


def build_grpc_server(
    settings: Settings, engine: DialogueService, metrics: ServiceMetrics, *, host: str | None = None, port: int | None = None,
    tenancy: Tenancy | None = None,
) -> tuple[grpc.Server, int]:
    """A server bound to ``host:port`` (``port=0``: a free one); returns it and the bound port.
    Messages over ``max_upload_bytes`` are refused by gRPC itself with RESOURCE_EXHAUSTED. An RPC past
    ``grpc_workers`` running ones is refused at once (``AdmissionInterceptor``: RESOURCE_EXHAUSTED with
    the ``server_busy`` kind and a retry pushback; a 10 ms GetReport is refused, not queued): the pool
    has ``REFUSAL_THREADS`` more threads than that for those refusals, and past all of them gRPC's own
    ``maximum_concurrent_rpcs`` refuses (RESOURCE_EXHAUSTED without the trailers).
    ``tenancy`` (keys and limits per tenant) should be the REST app's, so limits are shared."""
    tenancy = tenancy if tenancy is not None else Tenancy(settings, observe=metrics.error)
    limit = settings.max_upload_bytes + MESSAGE_SLACK_BYTES
    workers = settings.worker_count(settings.grpc_workers)
    threads = workers + REFUSAL_THREADS
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hilum-grpc"),
        maximum_concurrent_rpcs=threads,
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
        # admission first (refused before anything else runs), then a request that does not parse: INVALID_ARGUMENT
        interceptors=[AdmissionInterceptor(workers, observe=metrics.error), MalformedRequestInterceptor()],
    )
    pb_grpc.add_DialogServicer_to_server(DialogServicer(engine, metrics, tenancy), server)
    address = f"{host or settings.host}:{settings.grpc_port if port is None else port}"
    bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"gRPC could not bind {address}")
    return server, bound
