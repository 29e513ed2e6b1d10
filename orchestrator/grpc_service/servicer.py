"""``hilum.v1.Dialog``: a thin shell over the engine. Every RPC is timed and counted, and every
error leaves through ``grpc_status`` (one mapping). The tenant comes from the metadata
``authorization: Bearer <key>`` (``x-hilum-tenant`` only on a loopback server without keys),
through the same ``Tenancy`` as REST: UNAUTHENTICATED (also for more than one ``authorization`` entry),
RESOURCE_EXHAUSTED for the tenant's limits."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from orchestrator.dialogue.service import DialogueService
from orchestrator.dicom_out.objects import DicomObjects, report_format
from orchestrator.errors import HilumError
from orchestrator.grpc_service import convert
from orchestrator.grpc_service.errors import grpc_status
from orchestrator.grpc_service.interceptors import KIND_KEY, PUSHBACK_KEY
from orchestrator.grpc_service.proto import dialog_pb2 as pb
from orchestrator.grpc_service.proto import dialog_pb2_grpc as pb_grpc
from orchestrator.metrics import ServiceMetrics
from orchestrator.tenancy import Tenancy

log = logging.getLogger(__name__)

TENANT_KEY = "x-hilum-tenant"
AUTH_KEY = "authorization"
R = TypeVar("R")


def metadata_value(context: grpc.ServicerContext, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return str(value)
    return None


def metadata_values(context: grpc.ServicerContext, name: str) -> list[str]:
    return [str(value) for key, value in context.invocation_metadata() or () if key == name]


class _Call:
    """Times one RPC and turns an exception into its status (aborts the call)."""

    def __init__(self, servicer: DialogServicer, name: str, context: grpc.ServicerContext) -> None:
        self.metrics = servicer.metrics
        self.name = name
        self.context = context
        self.started = time.perf_counter()
        self.finished = False
        self.metrics.inflight.labels("grpc").inc()

    def done(self, code: grpc.StatusCode = grpc.StatusCode.OK) -> None:
        if self.finished:
            return
        self.finished = True
        self.metrics.inflight.labels("grpc").dec()
        self.metrics.request("grpc", self.name, code.name, time.perf_counter() - self.started)

    def fail(self, exc: Exception) -> None:
        code, kind, message = grpc_status(exc)
        if code == grpc.StatusCode.INTERNAL:
            log.error("rpc %s failed", self.name, exc_info=exc)
        if not isinstance(exc, HilumError):
            self.metrics.error(kind)  # the engine counts the HilumErrors it raises
        self.done(code)
        trailers = [(KIND_KEY, kind)]  # the error envelope's kind, as REST's {"error": {"kind"}} carries it
        retry_after_s = getattr(exc, "retry_after_s", None)
        if retry_after_s is not None:  # gRPC's server pushback: a client's retry policy waits this long
            trailers.append((PUSHBACK_KEY, str(int(retry_after_s * 1000))))
        self.context.set_trailing_metadata(tuple(trailers))
        self.context.abort(code, message)


def unary(method: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(method)
    def wrapper(self: DialogServicer, request: Any, context: grpc.ServicerContext) -> R:
        call = _Call(self, method.__name__, context)
        try:
            result = method(self, request, context)
        except Exception as exc:  # noqa: BLE001 - every error maps to a status
            call.fail(exc)
            raise  # unreachable: abort raises
        call.done()
        return result

    return wrapper


def streaming(method: Callable[..., Iterator[R]]) -> Callable[..., Iterator[R]]:
    @functools.wraps(method)
    def wrapper(self: DialogServicer, request: Any, context: grpc.ServicerContext) -> Iterator[R]:
        call = _Call(self, method.__name__, context)
        completed = False
        try:
            yield from method(self, request, context)
            completed = True
        except Exception as exc:  # noqa: BLE001 - every error maps to a status
            call.fail(exc)
            raise
        finally:
            # OK when the stream ran out; CANCELLED when the client went away (no-op after fail)
            call.done(grpc.StatusCode.OK if completed else grpc.StatusCode.CANCELLED)

    return wrapper


class DialogServicer(pb_grpc.DialogServicer):
    def __init__(self, engine: DialogueService, metrics: ServiceMetrics, tenancy: Tenancy) -> None:
        self.engine = engine
        self.metrics = metrics
        self.tenancy = tenancy

    def tenant_of(self, context: grpc.ServicerContext) -> str:
        """The caller's tenant, after the tenant's rate (once per RPC)."""
        authorization = self.tenancy.one_credential(metadata_values(context, AUTH_KEY))  # two: UNAUTHENTICATED
        return self.tenancy.enter(authorization, metadata_value(context, TENANT_KEY))

    @unary
    def CreateSession(self, request: pb.CreateSessionRequest, context: grpc.ServicerContext) -> pb.Session:  # noqa: N802
        tenant = self.tenant_of(context)
        with self.tenancy.first_turn(tenant):
            view = self.engine.create_session(
                request.image, filename=request.filename or None, lang=request.lang or None, tenant=tenant,
                earlier=request.earlier or None, earlier_filename=request.earlier_filename or None,
                study_date=request.study_date or None, earlier_date=request.earlier_date or None)
        return convert.session_to_proto(view)

    @unary
    def Ask(self, request: pb.AskRequest, context: grpc.ServicerContext) -> pb.Turn:  # noqa: N802
        turn = self.engine.ask(request.session_id, request.question, tenant=self.tenant_of(context))
        return convert.turn_to_proto(turn)

    @streaming
    def StreamAsk(self, request: pb.AskRequest, context: grpc.ServicerContext) -> Iterator[pb.AskEvent]:  # noqa: N802
        for event in self.engine.ask_stream(request.session_id, request.question, tenant=self.tenant_of(context)):
            yield convert.event_to_proto(event)

    @unary
    def Fork(self, request: pb.ForkRequest, context: grpc.ServicerContext) -> pb.Session:  # noqa: N802
        view = self.engine.fork(request.session_id, int(request.turn), request.question, tenant=self.tenant_of(context))
        return convert.session_to_proto(view)

    @unary
    def GetTurn(self, request: pb.GetTurnRequest, context: grpc.ServicerContext) -> pb.Turn:  # noqa: N802
        turn = self.engine.turn_in_language(request.session_id, int(request.turn), request.lang,
                                            tenant=self.tenant_of(context))
        return convert.turn_to_proto(turn)

    @unary
    def GetReport(self, request: pb.SessionRef, context: grpc.ServicerContext) -> pb.Report:  # noqa: N802
        tenant = self.tenant_of(context)
        if report_format(request.format) == "sr":
            return pb.Report(session_id=request.session_id,
                             dicom=DicomObjects(self.engine).bytes("sr", request.session_id, tenant, request.lang or None))
        report = self.engine.report(request.session_id, tenant=tenant, lang=request.lang or None)
        return pb.Report(session_id=request.session_id, report=convert.to_struct(report))

    @unary
    def CloseSession(self, request: pb.SessionRef, context: grpc.ServicerContext) -> pb.CloseSessionResponse:  # noqa: N802
        self.engine.close_session(request.session_id, tenant=self.tenant_of(context))
        return pb.CloseSessionResponse(session_id=request.session_id, closed=True)
