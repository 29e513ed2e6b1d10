"""The lesion reader's clients: embedded ONNX Runtime and Triton gRPC, behind one interface.

The reader (issue 22) takes a batch of crops ``[N, 2, 256, 256]`` (the contract:
``orchestrator/contracts/lesion_reader.py``) and answers per crop a :class:`LesionReading`
(margin class with probabilities, notch and spicule clock hours, spicule count and lengths,
calcification, cavity, diameter, fine mask). All the candidates of a film go in one call, so on
Triton crops from many films and sessions batch together (``model_repository/lesion_reader``).

:func:`read_candidates` is the one function the findings layer calls on a first turn: the
upload's original pixels, its spacing, the frame, the candidates' centres and the encoder's
lesion map in -> one reading per candidate out. Follow-up turns never call it.

No torch here, nothing from ``encoder/``: numpy, onnxruntime, tritonclient.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from orchestrator.contracts.lesion_reader import (
    INPUT_NAME,
    INPUT_SHAPE,
    MAX_CROPS,
    OUTPUT_NAMES,
    Frame,
    LesionReading,
    check_outputs,
    cut_crops,
    decode_outputs,
)
from orchestrator.errors import EncoderError, InputError

Outputs = dict[str, np.ndarray]


def validate_crops(crops: np.ndarray) -> np.ndarray:
    """``[N, 2, 256, 256]`` finite floats, 1 <= N <= MAX_CROPS -> float32; else ``InputError``."""
    arr = np.asarray(crops)
    if arr.ndim != 4 or tuple(arr.shape[1:]) != INPUT_SHAPE:
        raise InputError(f"lesion reader input must be [N, {', '.join(map(str, INPUT_SHAPE))}], got {list(arr.shape)}")
    if not 1 <= arr.shape[0] <= MAX_CROPS:
        raise InputError(f"lesion reader takes 1-{MAX_CROPS} crops per call, got {arr.shape[0]}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"lesion reader input must be float, got {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InputError("lesion reader input has NaN or infinite values")
    return arr


class LesionReader(Protocol):
    """Thread-safe; ``calls`` counts crops read (tests assert follow-up turns add none)."""

    name: str
    calls: int

    def infer(self, crops: np.ndarray) -> Outputs: ...

    def read(self, crops: np.ndarray) -> list[LesionReading]: ...

    def ready(self) -> bool: ...

    def close(self) -> None: ...


class _Base:
    name = "base"

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def _run(self, crops: np.ndarray) -> Outputs:
        raise NotImplementedError

    def infer(self, crops: np.ndarray) -> Outputs:
        arr = validate_crops(crops)
        out = self._run(arr)
        try:
            n = check_outputs(out)
        except InputError as exc:
            raise EncoderError(f"lesion reader answered malformed outputs: {exc.message}") from None
        if n != arr.shape[0]:
            raise EncoderError(f"lesion reader answered {n} readings for {arr.shape[0]} crops")
        with self._lock:
            self.calls += n
        return out

    def read(self, crops: np.ndarray) -> list[LesionReading]:
        return decode_outputs(self.infer(crops))


class EmbeddedLesionReader(_Base):
    """In-process ONNX Runtime (the default). One session; ORT runs concurrent calls safely."""

    name = "embedded"

    def __init__(self, onnx_path: Path, intra_op_threads: int = 1) -> None:
        super().__init__()
        import onnxruntime as ort

        if not Path(onnx_path).is_file():
            raise EncoderError(f"lesion reader weights not found: {onnx_path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, intra_op_threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.onnx_path = Path(onnx_path)
        self._session: Any = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._closed = False

    def _run(self, crops: np.ndarray) -> Outputs:
        if self._closed:
            raise EncoderError("lesion reader is closed")
        try:
            values = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: crops})
        except Exception as exc:  # noqa: BLE001 - ORT's own failure: the service's, not the caller's
            raise EncoderError(f"lesion reader failed: {exc}") from None
        return dict(zip(OUTPUT_NAMES, values, strict=True))

    def ready(self) -> bool:
        return not self._closed

    def close(self) -> None:
        self._closed = True


class TritonLesionReader(_Base):
    """Triton gRPC (``model_repository/lesion_reader``): one request per call with all its crops;
    Triton's dynamic batcher joins requests from concurrent callers. One client per thread."""

    name = "triton"

    def __init__(self, url: str, model_name: str = "lesion_reader", timeout_s: float = 30.0) -> None:
        super().__init__()
        self.url = url
        self.model_name = model_name
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._closed = False

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            import tritonclient.grpc as grpcclient

            client = grpcclient.InferenceServerClient(self.url)
            self._local.client = client
        return client

    def _run(self, crops: np.ndarray) -> Outputs:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        if self._closed:
            raise EncoderError("lesion reader is closed")
        inp = grpcclient.InferInput(INPUT_NAME, list(crops.shape), "FP32")
        inp.set_data_from_numpy(crops)
        outputs = [grpcclient.InferRequestedOutput(name) for name in OUTPUT_NAMES]
        try:
            result = self._client().infer(self.model_name, [inp], outputs=outputs, client_timeout=self.timeout_s)
        except InferenceServerException as exc:
            text = str(exc)
            if "NaN" in text or "must have shape" in text or "must be" in text:
                raise InputError(f"lesion reader refused the crops: {text}") from None
            raise EncoderError(f"Triton lesion reader failed: {text}") from None
        return {name: result.as_numpy(name) for name in OUTPUT_NAMES}

    def ready(self) -> bool:
        if self._closed:
            return False
        try:
            return bool(self._client().is_model_ready(self.model_name))
        except Exception:  # noqa: BLE001 - not reachable is not ready
            return False

    def close(self) -> None:
        self._closed = True


def read_candidates(
    reader: LesionReader, original: np.ndarray, spacing_mm: tuple[float, float], frame: Frame,
    centres_px: list[tuple[float, float]], lesion_map: np.ndarray | list[np.ndarray],
) -> list[LesionReading]:
    """Every candidate of one film in one call (the first turn's only reader call).

    ``original``: the upload's decoded pixels (before ``prepare_film``); ``spacing_mm``: mm per
    ORIGINAL pixel (``contracts.lesion_reader.original_spacing`` turns the working spacing into it;
    an estimated spacing works the same way); ``frame``: the session's frame; ``centres_px``:
    candidate centres in the working frame; ``lesion_map``: one map per candidate (its
    ``contracts.lesion_reader.candidate_disc``: what the reader was trained on), or one map over the
    working frame for all. Readings come back in the order of ``centres_px``; clock
    hours are in the film's display frame (12 up, 3 the image's right)."""
    if not centres_px:
        return []
    crops = cut_crops(original, spacing_mm, centres_px, lesion_map, frame)
    return reader.read(crops)
