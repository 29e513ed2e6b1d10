"""``build_encoder(settings)`` and ``build_lesion_reader(settings)``: the one place that turns
``settings.encoder`` / ``settings.lesion_reader`` into a client."""

from __future__ import annotations

from urllib.parse import urlparse

from orchestrator.encoders.base import AnatomyEncoder
from orchestrator.encoders.lesion_reader import LesionReader
from orchestrator.errors import EncoderError
from orchestrator.settings import Settings

TRITON_SCHEME = "triton"


def parse_triton_url(spec: str) -> str:
    """``triton://HOST:PORT`` -> ``HOST:PORT`` (the gRPC endpoint)."""
    parsed = urlparse(spec)
    if parsed.scheme != TRITON_SCHEME or not parsed.hostname or not parsed.port:
        raise EncoderError(f"encoder must be 'embedded' or 'triton://HOST:PORT', got {spec!r}")
    return f"{parsed.hostname}:{parsed.port}"


def build_encoder(settings: Settings) -> AnatomyEncoder:
    """``settings.encoder``: "embedded" (in-process ONNX Runtime) or "triton://HOST:PORT" (gRPC)."""
    spec = settings.encoder.strip()
    if spec == "embedded":
        from orchestrator.encoders.embedded import EmbeddedEncoder

        return EmbeddedEncoder(
            settings.onnx_path,
            max_batch=settings.encoder_max_batch,
            max_wait_ms=settings.encoder_max_wait_ms,
            queue_size=settings.encoder_queue_size,
            intra_op_threads=settings.encoder_intra_op_threads,
            workers=settings.encoder_workers,
            timeout_s=settings.encoder_timeout_s,
        )
    from orchestrator.encoders.triton import TritonEncoder

    return TritonEncoder(
        parse_triton_url(spec), model_name=settings.triton_model_name, timeout_s=settings.encoder_timeout_s,
        shared_memory_slots=settings.triton_shared_memory_slots, max_in_flight=settings.encoder_queue_size,
    )


def build_lesion_reader(settings: Settings) -> LesionReader | None:
    """``settings.lesion_reader``: "off" (None), "embedded" or "triton://HOST:PORT"."""
    spec = settings.lesion_reader.strip()
    if spec == "off":
        return None
    if spec == "embedded":
        from orchestrator.encoders.lesion_reader import EmbeddedLesionReader

        return EmbeddedLesionReader(settings.lesion_reader_onnx_path)
    if urlparse(spec).scheme != TRITON_SCHEME:
        raise EncoderError("lesion_reader must be 'off', 'embedded' or 'triton://HOST:PORT'")
    from orchestrator.encoders.lesion_reader import TritonLesionReader

    return TritonLesionReader(parse_triton_url(spec), timeout_s=settings.encoder_timeout_s)
