"""What was fitted on the encoder's maps, and for which weights.

Fitted files name the weights they were fitted for (:func:`weights_tag`: file name and the start of its
sha256): the shipped weights' confidence tables (``data/calibration.json``) and certainty limit
(``data/entropy_limit.json``, ``plausibility.ENTROPY_MAX``), held to the shipped weights by
``tests/orchestrator/findings/test_fitted_for_weights.py``. A candidate's folder under ``encoder/weights/``
keeps its own certainty limit beside its ONNX file (``loadtests/fit_entropy_limit.py --out``; the second reader
also its confidence tables, :func:`calibration_for`), and the
weights a service runs are judged by the limit fitted for them: :func:`served_entropy_limit`, used by
the engine's analyser and by the loadtests that analyse an encoder's maps, so both judge a candidate alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.findings.plausibility import ENTROPY_MAX

if TYPE_CHECKING:
    from orchestrator.settings import Settings

log = logging.getLogger(__name__)

LIMIT_BESIDE_WEIGHTS = "entropy_limit.json"  # a candidate's own limit, in its weights' folder
TABLES_BESIDE_WEIGHTS = "calibration.json"  # other weights' own confidence tables (the second reader's)


def weights_tag(onnx: Path) -> str:
    """``name@sha256[:12]``: how fitted files name the weights they belong to."""
    return f"{onnx.name}@{hashlib.sha256(onnx.read_bytes()).hexdigest()[:12]}"


def fitted_beside(onnx: Path | None, name: str) -> tuple[Path, dict[str, Any]] | None:
    """The fitted file ``name`` beside the weights in ``onnx`` and its document, when it names those weights;
    None when there is none (or ``onnx`` is None: weights served elsewhere) or it names other weights."""
    if onnx is None:
        return None
    beside = Path(onnx).with_name(name)
    if not beside.is_file() or not Path(onnx).is_file():
        return None
    doc = json.loads(beside.read_text(encoding="utf-8"))
    if doc.get("weights") != weights_tag(Path(onnx)):
        log.warning("%s names other weights than %s: the shipped weights' fit applies", beside, onnx)
        return None
    return beside, doc


def entropy_limit_for(onnx: Path | None) -> float:
    """The certainty limit fitted for the weights in ``onnx``: the ``entropy_limit.json`` beside them when
    it names them, else the shipped weights' (``ENTROPY_MAX``; also for ``None``, weights served elsewhere)."""
    found = fitted_beside(onnx, LIMIT_BESIDE_WEIGHTS)
    return float(found[1]["entropy_max"]) if found else ENTROPY_MAX


def calibration_for(onnx: Path | None) -> Path | None:
    """The confidence tables fitted for the weights in ``onnx`` (``calibration.json`` beside them, naming them:
    the second reader's, ``loadtests/calibrate_confidence.py --second-reader-tables``); None: the committed ones."""
    found = fitted_beside(onnx, TABLES_BESIDE_WEIGHTS)
    return found[0] if found else None


def served_entropy_limit(settings: Settings) -> float:
    """The limit for the weights ``settings`` serve: the embedded encoder's ONNX file's own; an encoder on
    Triton serves the repository's weights, the shipped ones."""
    return entropy_limit_for(Path(settings.onnx_path) if settings.encoder == "embedded" else None)
