"""Score the findings layer on phantom films: truth maps, and the trained encoder's maps.

    .venv/bin/python -m loadtests.score_findings --films 60             # both columns
    .venv/bin/python -m loadtests.score_findings --films 60 --no-encoder  # truth maps only
    .venv/bin/python -m loadtests.score_findings --seeds 4,7 --scenario   # docs/SCENARIO.md's case
    .venv/bin/python -m loadtests.score_findings --seed0 50 --films 30 --render anatomy   # a rendering family

Each film is ``encoder.phantom.generate_case(seed)`` for seeds ``--seed0 ..``. The truth maps
column feeds the phantom's own anatomy masks, lesion mask and hilum points to ``analyse``;
the encoder column feeds the maps the embedded ONNX Runtime encoder computes from the film
(``orchestrator.encoders.factory.build_encoder`` with the default settings). Both use the
phantom's true pixel spacing (what a DICOM upload would carry). The truth.json lesion list
only scores. ``--scenario`` makes each film with ``encoder.phantom.scenario_spec()`` (the 12 mm
nodule and the 25 mm strand); ``--seeds`` lists seeds instead of the ``--seed0``/``--films`` range.
Prints a markdown table, the machine it ran on and the failures (``-v``), and how far the encoder's dome height
difference (what "which hemidiaphragm is higher?" states) lies from the truth maps' (median and p90, mm).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any

import numpy as np

from evaluation.scoring import Score, case_spacing, format_table, score, truth_maps
from orchestrator.contracts.preprocess import prepare_film
from orchestrator.facts import ImageFacts
from orchestrator.findings import analyse

Results = list[tuple[ImageFacts, list[dict[str, Any]]]]


def _encoder() -> Any:
    try:
        from orchestrator.encoders.factory import build_encoder
        from orchestrator.settings import Settings

        return build_encoder(Settings())
    except Exception as exc:  # noqa: BLE001 - the encoder column is optional; say why it is missing
        print(f"encoder unavailable, truth maps only: {exc}", file=sys.stderr)
        return None


def dome_rise_mm(facts: ImageFacts) -> float | None:
    """How much higher the right dome of the diaphragm lies than the left, in mm (None without both)."""
    domes = facts.anatomy.diaphragm_dome_px
    if "right" not in domes or "left" not in domes:
        return None
    return (domes["left"][1] - domes["right"][1]) * facts.spacing.row_mm


def dome_errors(truth: Results, encoded: Results) -> list[float]:
    """Per film, the encoder's dome height difference against the truth maps' (mm), where both place both domes: what
    "which hemidiaphragm is higher?" states."""
    pairs = ((dome_rise_mm(t), dome_rise_mm(e)) for (t, _), (e, _) in zip(truth, encoded, strict=True))
    return [abs(a - b) for a, b in pairs if a is not None and b is not None]


def run(films: int, seed0: int, with_encoder: bool, *, seeds: list[int] | None = None,
        scenario: bool = False, render: str | None = None) -> tuple[dict[str, Score], dict[str, float]]:
    from encoder.phantom import CaseSpec, generate_case, scenario_spec
    from orchestrator.findings.fitted import served_entropy_limit
    from orchestrator.settings import Settings

    enc = _encoder() if with_encoder else None
    limit = served_entropy_limit(Settings())  # the weights' own certainty limit, as the engine judges them
    spec = scenario_spec() if scenario else CaseSpec(render=render) if render else None
    truth: Results = []
    encoded: Results = []
    timing = {"generate_s": 0.0, "analyse_s": 0.0, "encode_s": 0.0}
    try:
        for seed in seeds if seeds is not None else range(seed0, seed0 + films):
            t0 = time.perf_counter()
            case = generate_case(seed, spec)
            t1 = time.perf_counter()
            spacing = case_spacing(case)
            lesions = list(case.truth["lesions"])
            truth.append((analyse(truth_maps(case), spacing), lesions))
            t2 = time.perf_counter()
            timing["generate_s"] += t1 - t0
            timing["analyse_s"] += t2 - t1
            if enc is not None:
                image, _ = prepare_film(case.image)
                maps = enc.encode(image)
                encoded.append((analyse(maps, spacing, entropy_max=limit), lesions))
                timing["encode_s"] += time.perf_counter() - t2  # encode + analyse, as printed
    finally:
        if enc is not None:
            enc.close()
    scores = {"truth maps": score(truth)}
    if encoded:
        scores[f"encoder ({getattr(enc, 'name', 'embedded')})"] = score(encoded)
        errors = dome_errors(truth, encoded)
        if errors:
            timing["dome_err_median_mm"] = float(np.median(errors))
            timing["dome_err_p90_mm"] = float(np.percentile(errors, 90))
            timing["dome_films"] = float(len(errors))
    return scores, timing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", type=int, default=60)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",") if x], default=None,
                    help="comma-separated seeds (instead of --seed0/--films)")
    ap.add_argument("--scenario", action="store_true", help="docs/SCENARIO.md's case for every seed")
    ap.add_argument("--no-encoder", action="store_true", help="truth maps only")
    ap.add_argument("--render", default=None, help="rendering families to draw each film's look from (e.g. anatomy)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the failures")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    scores, timing = run(args.films, args.seed0, not args.no_encoder, seeds=args.seeds, scenario=args.scenario,
                         render=args.render)
    which = (",".join(map(str, args.seeds)) if args.seeds is not None
             else f"{args.seed0}..{args.seed0 + args.films - 1}")
    print(f"# findings on phantom films (seeds {which}{', scenario case' if args.scenario else ''})\n")
    print(format_table(scores))
    films = max(len(args.seeds) if args.seeds is not None else args.films, 1)
    print(
        f"\nmachine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; per film: generate {timing['generate_s'] / films:.2f} s, "
        f"analyse {timing['analyse_s'] / films:.2f} s, encode+analyse {timing['encode_s'] / films:.2f} s; "
        f"total {time.perf_counter() - t0:.0f} s"
    )
    if "dome_films" in timing:  # what "which hemidiaphragm is higher?" states, against the truth maps' domes
        print(f"dome height difference (right above left), encoder vs truth maps, {timing['dome_films']:.0f} films: "
              f"median {timing['dome_err_median_mm']:.1f} mm, p90 {timing['dome_err_p90_mm']:.1f} mm")
    if args.verbose:
        for name, s in scores.items():
            print(f"\n## failures: {name}")
            print("\n".join(sorted(s.failures)) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
