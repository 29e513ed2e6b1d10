"""Margins through the whole pipeline on detector-resolution films, with and without the lesion reader.

    .venv/bin/python -m loadtests.score_reader_pipeline --seeds 0-29 [--onnx READER.onnx] [--json OUT]

For each held-out seed, ``encoder.lesion_reader.crops.render_seed(keep_film=True)`` draws its
lesions, each on its own detector film (0.15-0.2 mm pixels). Each film is written as a DX DICOM at
its true spacing (``encoder.phantom.writer.write_dx``) and uploaded twice through
``DialogueEngine.create_session`` (decode, gate, encoder, findings, as any upload): once with the
lesion reader (``orchestrator/findings/lesion_reading.py``) and once without it (the lesion map's
margin). The finding nearest the truth centre, within 10 mm, is graded; the truth only scores.

Reported per path, for nodules and masses >= 10 mm: found, margin class right, smooth vs irregular
right, how many smooth calls are stated flatly (backed) and how many of those are right, and the
first turn's seconds per stage (the reader's share of the first turn's cost); for every round lesion
>= 8 mm found, the stated diameter against the truth's (``size``: the reader's paths state the reader
mask's size, ``Settings.lesion_reader_sizes``; the lesion map's path its own).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from encoder.lesion_reader.cli import parse_seeds

MATCH_MM = 10.0
GRADED = ("nodule", "mass")
ROUND = ("nodule", "mass", "calcified_nodule", "cavity")  # the round lesions the size criterion grades


def films(seeds: list[int], per_film: int) -> Any:
    """(truth, DICOM bytes) per lesion, rendered on its own detector film."""
    from encoder.lesion_reader.crops import render_seed
    from encoder.phantom.writer import write_dx

    for seed in seeds:
        for k, ex in enumerate(render_seed(seed, per_film, keep_film=True)):
            original = np.clip(ex.film["original"], 0.0, 1.0)
            buf = io.BytesIO()
            write_dx(np.rint(original * 65535.0).astype(np.uint16), ex.film["spacing_mm"], seed * 100 + k, buf)
            yield ex.truth, buf.getvalue()


def grade(engine: Any, data: bytes, truth: dict[str, Any]) -> dict[str, Any]:
    view = engine.create_session(data, filename="film.dcm", lang="en")
    try:
        facts = engine.store.get(view.session_id).facts
        timings = dict(view.turns[0].timings)
    finally:
        engine.close_session(view.session_id)
    sp = math.sqrt(facts.spacing.row_mm * facts.spacing.col_mm)
    cx, cy = truth["center_px"]
    best, best_d = None, MATCH_MM
    for f in facts.findings:
        d = math.dist(f.center_px, (cx, cy)) * sp
        if d <= best_d:
            best, best_d = f, d
    out: dict[str, Any] = {"found": best is not None, "timings": timings}
    if best is not None:
        p = best.attribute_confidence.get("margin")
        out.update(margin=best.margin, source=best.margin_source, p_margin=p, kind=best.kind,
                   centre_error_mm=round(best_d, 2),
                   diameter_ratio=round(best.diameter_mm / max(float(truth["diameter_mm"]), 1e-3), 3))
    return out


def _quantiles(values: list[float]) -> list[float] | None:
    return [round(float(q), 2) for q in np.percentile(values, [50, 90])] if values else None


def size_tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stated diameter against the truth's, round lesions >= 8 mm found (issue 22's size criterion)."""
    found = [r for r in rows if r["truth_type"] in ROUND and r["truth_diameter_mm"] >= 8.0 and r["found"]]
    n = len(found) or 1
    within = {p: sum(abs(r["diameter_ratio"] - 1.0) <= p / 100 for r in found) for p in (15, 20)}
    return {"round_ge8mm_found": len(found),
            **{f"diameter_within_{p}pct": f"{k}/{len(found)} ({k / n:.1%})" for p, k in within.items()},
            "diameter_ratio_p10_p50_p90": [round(float(q), 3) for q in np.percentile(
                [r["diameter_ratio"] for r in found], [10, 50, 90])] if found else None}


def tally(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    graded = [r for r in rows if r["truth_type"] in GRADED and r["truth_diameter_mm"] >= 10.0]
    found = [r for r in graded if r["found"]]
    right = [r for r in found if r["margin"] == r["truth_margin"]]
    si = [r for r in found if (r["margin"] == "smooth") == (r["truth_margin"] == "smooth")]
    smooth_calls = [r for r in found if r["margin"] == "smooth"]
    backed = [r for r in smooth_calls if r.get("source") == "reader" and (r.get("p_margin") or 0) >= threshold]
    n = len(found) or 1
    stages: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r["timings"].items():
            stages.setdefault(k, []).append(v)
    return {
        "nodules_ge10mm": len(graded), "found": len(found),
        "margin_right": f"{len(right)}/{len(found)} ({len(right) / n:.1%})",
        "smooth_vs_irregular_right": f"{len(si)}/{len(found)} ({len(si) / n:.1%})",
        "smooth_calls": len(smooth_calls),
        "smooth_stated_flatly": len(backed),
        "smooth_stated_flatly_right": sum(r["truth_margin"] == "smooth" for r in backed),
        "read_by_reader": sum(r.get("source") == "reader" for r in found),
        # what the reader's training draws its candidates with (encoder/lesion_reader/crops.py)
        "candidate_centre_error_mm_p50_p90": _quantiles([r["centre_error_mm"] for r in found]),
        "candidate_log_diameter_ratio_sd": round(float(np.std(np.log([r["diameter_ratio"] for r in found]))), 3)
        if found else None,
        "first_turn_s_mean": {k: round(float(np.mean(v)), 4) for k, v in sorted(stages.items())},
        "size": size_tally(rows),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-29", help="held-out seeds (the reader trains on 3000+)")
    p.add_argument("--per-film", type=int, default=6)
    p.add_argument("--onnx", type=Path, default=None, help="the reader's ONNX (default: settings')")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.encoders.factory import build_encoder
    from orchestrator.encoders.lesion_reader import EmbeddedLesionReader
    from orchestrator.findings.calibration import THRESHOLD
    from orchestrator.settings import Settings

    settings = Settings()
    encoder = build_encoder(settings)
    reader = EmbeddedLesionReader(args.onnx or settings.lesion_reader_onnx_path)
    engines = {  # the same encoder; the reader as configured (a smooth reading left to the lesion map unless
        # lesion_reader_backs_smooth), the reader backing its smooth readings, and no reader
        "reader": DialogueEngine(encoder, settings, reader=reader),
        "reader_backing_smooth": DialogueEngine(encoder, settings.model_copy(update={"lesion_reader_backs_smooth": True}),
                                                reader=reader),
        "lesion_map": DialogueEngine(encoder, settings),
    }
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in engines}
    try:
        for truth, data in films(parse_seeds(args.seeds), args.per_film):
            base = {"truth_type": truth["type"], "truth_margin": truth["margin"],
                    "truth_diameter_mm": float(truth["diameter_mm"])}
            for name, engine in engines.items():
                rows[name].append({**base, **grade(engine, data, truth)})
    finally:
        encoder.close()
        reader.close()
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "seeds": args.seeds,
              "reader": str(args.onnx or settings.lesion_reader_onnx_path), "threshold": THRESHOLD,
              **{k: tally(v, THRESHOLD) for k, v in rows.items()}}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
