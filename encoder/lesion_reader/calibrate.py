"""The margin head's temperature, fitted on validation seeds (never the test seeds 0-49).

    hilum calibrate-reader --seeds 100-149 --weights encoder/weights/lesion-reader/lesion_reader.pt

A single temperature T divides the margin logits (Guo et al. 2017, temperature scaling): it
changes no decision (the argmax stays), only how sure the probabilities are, which is what the
dialogue reads (a smooth read is stated only when P(smooth) reaches the calibration threshold).
T minimises the negative log-likelihood of the true margin class over the validation crops of
nodules and masses (the lesions whose margin is graded), on a grid then refined. The fitted T is
written into the checkpoint's config (``ReaderConfig.margin_temperature``: the exported ONNX
divides by it) and the expected calibration error of P(irregular) is reported before and after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from encoder.lesion_reader.evaluate import NODULE_TYPES, ece
from orchestrator.contracts.lesion_reader import MARGINS

GRID = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = _softmax(logits / temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T on ``GRID`` with the lowest NLL, refined by a golden-section search around it."""
    scores = [nll(logits, labels, t) for t in GRID]
    i = int(np.argmin(scores))
    lo, hi = GRID[max(i - 1, 0)], GRID[min(i + 1, len(GRID) - 1)]
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(40):
        if nll(logits, labels, a) < nll(logits, labels, b):
            hi = b
        else:
            lo = a
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    return float((lo + hi) / 2)


def margin_logits(weights: Path, paths: list[Path], threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Raw margin logits (temperature 1) and true classes of the graded lesions in ``paths``."""
    import torch

    from encoder.lesion_reader.crops import load_examples
    from encoder.lesion_reader.network import load_reader

    torch.set_num_threads(threads)
    model = load_reader(weights)
    t0 = model.config.margin_temperature
    crops, _, truths = load_examples(paths)
    keep = [i for i, t in enumerate(truths) if t["type"] in NODULE_TYPES]
    out = []
    with torch.no_grad():
        for i in range(0, len(keep), 32):
            batch = torch.from_numpy(crops[keep[i:i + 32]].astype(np.float32))
            out.append(model.named_outputs(batch)["margin"].numpy() * t0)
    labels = np.array([MARGINS.index(truths[i]["margin"]) for i in keep], np.int64)
    return (np.concatenate(out) if out else np.zeros((0, len(MARGINS)), np.float32)), labels


def calibrate(weights: Path, paths: list[Path], threads: int = 2) -> dict[str, Any]:
    """Fit T on ``paths`` and write it into the checkpoint at ``weights``."""
    import torch

    logits, labels = margin_logits(weights, paths, threads)
    if len(labels) < 20:
        raise ValueError(f"too few graded lesions to fit a temperature: {len(labels)}")
    t = fit_temperature(logits, labels)
    irregular = labels != MARGINS.index("smooth")

    def p_irr(temp: float) -> list[float]:
        return [float(1.0 - p[0]) for p in _softmax(logits / temp)]

    blob = torch.load(weights, map_location="cpu", weights_only=False)
    blob["config"]["margin_temperature"] = t
    blob.setdefault("meta", {})["margin_temperature_fit"] = {"lesions": int(len(labels)), "seeds": len(paths)}
    torch.save(blob, weights)
    return {"lesions": int(len(labels)), "temperature": round(t, 4),
            "nll_before": round(nll(logits, labels, 1.0), 4), "nll_after": round(nll(logits, labels, t), 4),
            "ece_irregular_before": ece(p_irr(1.0), list(irregular)),
            "ece_irregular_after": ece(p_irr(t), list(irregular))}
