"""Scoring the lesion reader on held-out seeds, through crops cut the way serving cuts them.

The saved examples (``crops.py``) were cut by ``orchestrator.contracts.lesion_reader.cut_crop``
from the detector film around a jittered candidate centre, with the candidate's disc; the
readings are decoded by the contract's ``decode_outputs`` (the serving decoder). The ONNX path
runs the embedded client (``orchestrator/encoders/lesion_reader.py``), as serving would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.contracts.lesion_reader import LesionReading, decode_outputs

NODULE_TYPES = ("nodule", "mass")
ROUND_TYPES = ("nodule", "mass", "calcified_nodule", "cavity")
Predict = Callable[[np.ndarray], dict[str, np.ndarray]]


def torch_predictor(weights: Path, threads: int = 2) -> Predict:
    import torch

    from encoder.lesion_reader.network import load_reader

    torch.set_num_threads(threads)
    model = load_reader(weights)

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {k: v.numpy() for k, v in model.named_outputs(torch.from_numpy(batch.astype(np.float32))).items()}

    return run


def onnx_predictor(onnx_path: Path, threads: int = 2) -> Predict:
    from orchestrator.encoders.lesion_reader import EmbeddedLesionReader

    reader = EmbeddedLesionReader(onnx_path, intra_op_threads=threads)
    return reader.infer


def read_all(crops: np.ndarray, predict: Predict, batch: int = 32) -> list[LesionReading]:
    out: list[LesionReading] = []
    for i in range(0, len(crops), batch):
        out.extend(decode_outputs(predict(np.asarray(crops[i : i + batch], dtype=np.float32))))
    return out


def _hour_dist(a: int, b: int) -> int:
    d = abs(a - b) % 12
    return min(d, 12 - d)


def _rate(hits: list[bool]) -> dict[str, Any]:
    return {"rate": round(float(np.mean(hits)), 3) if hits else None, "n": len(hits), "hits": int(sum(hits))}


def _dice(pred: np.ndarray, truth: np.ndarray) -> float:
    p = pred > 0.5
    denom = p.sum() + truth.sum()
    return 1.0 if denom == 0 else float(2 * (p & truth).sum() / denom)


def ece(probs: list[float], outcomes: list[bool], bins: int = 10) -> float | None:
    if not probs:
        return None
    p, y = np.asarray(probs), np.asarray(outcomes, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return round(float(sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).sum()
                           for b in range(bins) if (idx == b).any()) / len(p)), 3)


def score(readings: list[LesionReading], truths: list[dict[str, Any]], masks: np.ndarray | None = None,
          min_nodule_mm: float = 10.0, min_round_mm: float = 8.0) -> dict[str, Any]:
    """The issue's numbers: margin class and smooth-vs-irregular for nodules >= 10 mm, spicule
    count within +-1 for the spiculated ones, notch hours within +-1, diameter within 15% for
    round lesions >= 8 mm; calcification, cavity, mask Dice and the margin probability's ECE."""
    margin, irregular, count, notch_recall, notch_precision, diam15, diam_mask = [], [], [], [], [], [], []
    p_irr, irr_truth, calc, cav, dice, spic_hours = [], [], [], [], [], []
    for i, (r, t) in enumerate(zip(readings, truths, strict=True)):
        d = float(t["diameter_mm"])
        if t["type"] in NODULE_TYPES and d >= min_nodule_mm:
            margin.append(r.margin == t["margin"])
            irregular.append((r.margin != "smooth") == (t["margin"] != "smooth"))
            p_irr.append(r.p_irregular)
            irr_truth.append(t["margin"] != "smooth")
            if t["margin"] == "spiculated":
                count.append(abs(r.spicules - int(t["spicule_count"])) <= 1)
                spic_hours.extend(any(_hour_dist(h, p) <= 1 for p in r.spicule_clock) for h in t["spicule_clock"])
            if t["notches_clock"]:
                notch_recall.extend(any(_hour_dist(h, p) <= 1 for p in r.notches_clock) for h in t["notches_clock"])
                notch_precision.extend(any(_hour_dist(h, p) <= 1 for p in t["notches_clock"]) for h in r.notches_clock)
        if t["type"] in ROUND_TYPES and d >= min_round_mm:
            diam15.append(abs(r.diameter_mm - d) <= 0.15 * d)
            if masks is not None:
                area_mm2 = float((r.mask > 0.5).sum()) * 0.25  # 0.5 mm pixels
                diam_mask.append(abs(2 * np.sqrt(area_mm2 / np.pi) - d) <= 0.15 * d)
        calc.append(r.calcified == bool(t["calcified"]))
        cav.append(r.cavitation == bool(t["cavitation"]))
        if masks is not None:
            dice.append(_dice(r.mask, masks[i]))
    return {
        f"margin_class_nodules_ge{min_nodule_mm:g}mm": _rate(margin),
        f"smooth_vs_irregular_nodules_ge{min_nodule_mm:g}mm": _rate(irregular),
        "spicule_count_within_1": _rate(count),
        "spicule_hours_found_within_1h": _rate(spic_hours),
        "notch_hours_found_within_1h": _rate(notch_recall),
        "notch_hours_named_right_within_1h": _rate(notch_precision),
        f"diameter_within_15pct_round_ge{min_round_mm:g}mm": _rate(diam15),
        "diameter_from_mask_within_15pct": _rate(diam_mask),
        "calcification_right": _rate(calc),
        "cavity_right": _rate(cav),
        "mask_dice_mean": round(float(np.mean(dice)), 3) if dice else None,
        "margin_irregular_ece": ece(p_irr, irr_truth),
    }


def evaluate(paths: list[Path], predict: Predict) -> dict[str, Any]:
    from encoder.lesion_reader.crops import load_examples

    crops, masks, truths = load_examples(paths)
    readings = read_all(crops, predict)
    return {"examples": len(truths), **score(readings, truths, masks)}
