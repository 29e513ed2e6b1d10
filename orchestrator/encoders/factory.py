"""``build_encoder``, ``build_second_reader``, ``build_alone_reader`` (both: ``build_other_readers``) and
``build_lesion_reader``: the one place that turns ``settings.encoder`` / ``settings.second_reader`` /
``settings.lesion_reader`` into a client."""

from __future__ import annotations

from pathlib import Path
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


def _embedded(settings: Settings, onnx_path: Path) -> AnatomyEncoder:
    """In-process ONNX Runtime on ``onnx_path``, with the encoder settings' batching, queue and threads."""
    from orchestrator.encoders.embedded import EmbeddedEncoder

    return EmbeddedEncoder(
        onnx_path,
        max_batch=settings.encoder_max_batch,
        max_wait_ms=settings.encoder_max_wait_ms,
        queue_size=settings.encoder_queue_size,
        intra_op_threads=settings.encoder_intra_op_threads,
        workers=settings.encoder_workers,
        timeout_s=settings.encoder_timeout_s,
    )


def build_encoder(settings: Settings) -> AnatomyEncoder:
    """``settings.encoder``: "embedded" (in-process ONNX Runtime) or "triton://HOST:PORT" (gRPC)."""
    spec = settings.encoder.strip()
    if spec == "embedded":
        return _embedded(settings, settings.onnx_path)
    from orchestrator.encoders.triton import TritonEncoder

    return TritonEncoder(
        parse_triton_url(spec), model_name=settings.triton_model_name, timeout_s=settings.encoder_timeout_s,
        shared_memory_slots=settings.triton_shared_memory_slots, max_in_flight=settings.encoder_queue_size,
    )


SECOND_READER_MODEL = "second_reader"  # the second reader's model in a Triton repository (export/cli.py)


def build_second_reader(settings: Settings) -> AnatomyEncoder | None:
    """``settings.second_reader`` (``orchestrator/encoders/second_reader.py``): "off" (None), "embedded"
    (in-process ONNX Runtime on ``second_reader_onnx_path``) or "triton://HOST:PORT" (model ``second_reader``)."""
    if settings.second_reader.strip() == "off":
        return None
    return _second_reader_client(settings, settings.second_reader_onnx_path, SECOND_READER_MODEL)


ALONE_READER_MODEL = "alone_reader"  # the weights that read a film alone, in a Triton repository (export/cli.py)


def alone_weights(settings: Settings) -> Path | None:
    """The ONNX that reads a film alone where it is not the second reader's own (None: the second reader reads
    alone too, or no film is read alone)."""
    path = settings.alone_reader_onnx_path
    if (settings.second_reader.strip() == "off" or not settings.second_reader_reads_alone or path is None
            or path.resolve() == settings.second_reader_onnx_path.resolve()):
        return None
    return path


def reading_alone_weights(settings: Settings) -> Path:
    """The ONNX whose maps a film read alone rests on (its certainty limit and tables lie beside it): the alone
    reader's, else the second reader's own."""
    return alone_weights(settings) or settings.second_reader_onnx_path


def build_alone_reader(settings: Settings) -> AnatomyEncoder | None:
    """The weights that read a film alone (``orchestrator/encoders/second_reader.py``), where the second reader's
    spec says: in process on ``alone_reader_onnx_path``, or Triton's model ``alone_reader`` beside
    ``second_reader``. None where the second reader reads alone itself (``alone_weights``)."""
    path = alone_weights(settings)
    return None if path is None else _second_reader_client(settings, path, ALONE_READER_MODEL)


def build_other_readers(settings: Settings) -> tuple[AnatomyEncoder | None, AnatomyEncoder | None]:
    """The second reader and the alone reader, as a service reads films with them (``DialogueEngine``'s
    ``second_reader`` and ``alone_reader``): an engine given the first without the second reads films alone with the
    second reader's weights, which is not what the service does."""
    return build_second_reader(settings), build_alone_reader(settings)


def _second_reader_client(settings: Settings, onnx_path: Path, model_name: str) -> AnatomyEncoder:
    """Other weights where ``settings.second_reader`` says: in process on ``onnx_path``, or Triton's ``model_name``."""
    spec = settings.second_reader.strip()
    if spec == "embedded":
        return _embedded(settings, onnx_path)
    if urlparse(spec).scheme != TRITON_SCHEME:
        raise EncoderError("second_reader must be 'off', 'embedded' or 'triton://HOST:PORT'")
    from orchestrator.encoders.triton import TritonEncoder

    return TritonEncoder(
        parse_triton_url(spec), model_name=model_name, timeout_s=settings.encoder_timeout_s,
        max_in_flight=settings.encoder_queue_size,
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
