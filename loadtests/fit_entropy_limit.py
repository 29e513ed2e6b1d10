"""Fit the plausibility step's certainty limit (``ENTROPY_MAX``) for one set of encoder weights.

    OMP_NUM_THREADS=2 .venv/bin/python -m loadtests.fit_entropy_limit --seeds 70-149 \\
        --out orchestrator/findings/data/entropy_limit.json

The findings layer withholds every localised claim when the encoder's anatomy maps are unsure of
themselves (``orchestrator.findings.plausibility``: the mean binary entropy of the lung, heart,
mediastinum and spine maps). How unsure is too unsure depends on the weights, so the limit is
refitted with them, by one rule: **0.88 of the lowest entropy of a mirrored validation film**. A
mirrored film is a chest the encoder has certainly never seen the like of (every training film is
upright), so the limit sits below the most confident of those; 0.88 is the ratio the first limit
(0.065, stage-D weights) had to that minimum (0.074 on seeds 50-69), kept so that every refit is
the same rule and not a new choice. Reported with it: how many upright validation films pass, in
the phantom's own rendering and drawn through every rendering family
(``encoder.phantom.rendering``; what a film unlike the training set but still a chest looks like).

Each film is ``encoder.phantom.generate_case(seed)`` (and with ``CaseSpec(render="all")``),
encoded by the embedded ONNX Runtime encoder. Validation seeds only: the test ranges (0-49,
200-399) are refused. The output names the weights it was fitted for (``name@sha256[:12]``);
``tests/orchestrator/findings/test_fitted_for_weights.py`` holds the shipped weights to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from encoder.dataset import parse_seeds
from loadtests.calibrate_confidence import check_validation
from orchestrator.findings.fitted import weights_tag

FACTOR = 0.88
DEFAULT_OUT = Path("orchestrator/findings/data/entropy_limit.json")


def entropies(seeds: list[int], onnx: Path | None, families: str) -> dict[str, list[float]]:
    from encoder.phantom import CaseSpec, generate_case
    from orchestrator.contracts.preprocess import prepare_film
    from orchestrator.encoders.factory import build_encoder
    from orchestrator.findings.plausibility import map_entropy
    from orchestrator.settings import Settings

    enc = build_encoder(Settings(onnx_path=onnx) if onnx else Settings())
    out: dict[str, list[float]] = {"upright": [], "mirrored": [], "families": []}
    try:
        for seed in seeds:
            case = generate_case(seed)
            for name, image in (("upright", case.image), ("mirrored", np.ascontiguousarray(case.image[:, ::-1]))):
                film, _ = prepare_film(image)
                out[name].append(map_entropy(enc.encode(film)))
            styled = generate_case(seed, CaseSpec(render=families))
            film, _ = prepare_film(styled.image)
            out["families"].append(map_entropy(enc.encode(film)))
    finally:
        enc.close()
    return out


def fit(values: dict[str, list[float]], factor: float = FACTOR) -> dict[str, Any]:
    """The limit by the rule, and how many films of each kind fall under it."""
    mirrored_min = float(min(values["mirrored"]))
    limit = round(factor * mirrored_min, 3)
    summary = {name: {"n": len(v), "under_limit": int(sum(e <= limit for e in v)),
                      "min": round(float(min(v)), 4), "median": round(float(np.median(v)), 4),
                      "max": round(float(max(v)), 4)} for name, v in values.items()}
    return {"entropy_max": limit, "mirrored_min": round(mirrored_min, 4), "factor": factor, "films": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="70-149", help="validation seeds (test ranges 0-49, 200-399 refused)")
    ap.add_argument("--onnx", type=Path, default=None, help="encoder weights (default: the shipped ONNX)")
    ap.add_argument("--families", default="all", help="rendering families for the styled upright films")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    check_validation(seeds)
    from orchestrator.settings import Settings

    onnx = args.onnx or Settings().onnx_path
    t0 = time.perf_counter()
    result = fit(entropies(seeds, args.onnx, args.families))
    doc = {"_about": "The plausibility step's certainty limit (orchestrator/findings/plausibility.py), fitted for "
                     "these weights by loadtests/fit_entropy_limit.py: 0.88 x the lowest map entropy of a mirrored "
                     "validation film.",
           "weights": weights_tag(Path(onnx)), "seeds": args.seeds, "families": args.families, **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(doc, indent=1))
    print(f"wrote {args.out}; machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}; {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
