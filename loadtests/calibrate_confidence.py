"""Fit the findings layer's calibrated confidence on validation phantom seeds.

    OMP_NUM_THREADS=1 .venv/bin/python -m loadtests.calibrate_confidence --seeds 50-199 \\
        --out orchestrator/findings/data/calibration.json --plot docs/calibration-reliability.png

Each film is ``encoder.phantom.generate_case(seed)``, encoded by the embedded ONNX Runtime
encoder (``--onnx`` for another) and analysed by the real findings layer in the calibration's
raw mode (``orchestrator.findings.calibration.raw_mode``: each finding's attribute_confidence
then carries its raw scores). Findings are matched to the truth lesions with the scorer's
matching (``evaluation.scoring.match_findings``); the truth only scores. What each
attribute's probability is a probability of:

- presence: the finding matches a truth lesion (else it is a false positive);
- margin: the truth margin is irregular (lobulated or spiculated), on the lesions the scorer
  grades (nodule-like, >= 10 mm: ``margin_scored``); the stated call's probability is p or 1 - p;
- size: the diameter is within 20% of the truth (round lesions, as ``diameter_20``);
- density: the homogeneous / heterogeneous read is right (nodules and masses are solid,
  calcified nodules and cavities are not);
- calcification, cavity: the calcified / cavity flag is right, on the score's distance from
  the flag's threshold counted towards the stated value (a ``toward`` table);
- lobe: the lobe is right, or the true lobe is named as overlapping (``lobe_or_overlap``).

Each table is an isotonic regression (pool-adjacent-violators, written here: no scikit-learn)
of the outcome on one raw score, its direction chosen by fit, stored as its steps' end knots
and read back by piecewise-linear interpolation, values clipped to [0.02, 0.98]. For presence
the raw score is the candidate (lesion map peak, mean of the map inside the region, log area)
with the lowest cross-fitted Brier score. Expected calibration error (10 equal-width bins) is
reported before (the one confidence every statement carried: the finding's lesion-map peak)
and after, cross-fitted (fit on the even seeds, score the odd ones, and the other way round),
and in-sample for the tables written. Validation seeds only: seeds in the test ranges (0-49,
200-399) are refused. Rows are cached per seed, weights, look (``HILUM_SECOND_LOOK``: the tables are fitted on
the maps as the engine reads them) and detection gate under ``--cache`` (``data/``), so a
refit does not regenerate films.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from encoder.dataset import format_seeds, parse_seeds
from evaluation.scoring import ROUND_TYPES, case_spacing, margin_scored, match_findings
from orchestrator.facts import Finding, ImageFacts
from orchestrator.findings import analyse, calibration
from orchestrator.findings.density import CAVITY_SCORE
from orchestrator.findings.fitted import served_entropy_limit, weights_tag
from orchestrator.findings.plausibility import ENTROPY_MAX

TEST_SEEDS = frozenset(range(0, 50)) | frozenset(range(200, 400))
PRESENCE_SCORES = ("lesion_peak", "lesion_mean", "log_area_mm2")
SOLID = frozenset({"nodule", "mass"})
DENSITY_TYPES = frozenset({"nodule", "mass", "calcified_nodule", "cavity"})
CLIP = (0.02, 0.98)
BINS = 10
MIN_BLOCK = 1  # samples per isotonic step at least (pool_small); 5-30 fitted worse out of fold
# attribute -> (target, raw score key, pivot of a "toward" table: the flag's own threshold)
TABLES: dict[str, tuple[str, str, float]] = {
    "margin": ("positive", "margin", 0.0),
    "size": ("correct", "diameter_mm", 0.0),
    "density": ("correct", "contrast", 0.0),
    "calcification": ("toward", "calcified", 1.0),  # DensityRead.calcified_score: calcified score / CALCIFIED_SCORE
    "cavity": ("toward", "cavity", CAVITY_SCORE),
    "lobe": ("correct", "lobe_clear", 0.0),
}


# --- rows: one per finding --------------------------------------------------------------------


def finding_rows(seed: int, facts: ImageFacts, lesions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw scores, stated values and outcomes of each finding of one film (analysed in raw mode)."""
    matches, _extra = match_findings(facts, lesions)
    truth_of = {id(m.finding): m.truth for m in matches if m.finding is not None}
    rows = []
    for f in facts.findings:
        truth = truth_of.get(id(f))
        rows.append({
            "seed": seed,
            "raw": dict(f.attribute_confidence),
            "peak": float(f.attribute_confidence.get("lesion_peak", f.confidence)),
            "stated": {"margin": f.margin != "smooth", "calcification": f.density.calcified,
                       "cavity": f.density.cavity},
            "outcome": outcomes(f, truth),
        })
    return rows


def outcomes(f: Finding, truth: dict[str, Any] | None) -> dict[str, int | None]:
    """Per attribute: 1/0, or None where the truth does not decide it. ``positive`` tables get
    the truth's value, ``correct`` tables whether the finding's statement is right."""
    out: dict[str, int | None] = {k: None for k in ("presence", *TABLES)}
    out["presence"] = int(truth is not None)
    if truth is None:
        return out
    kind, d_true = str(truth["type"]), float(truth.get("diameter_mm") or 0.0)
    if margin_scored(truth) and f.shape != "strand-like":
        out["margin"] = int(truth["margin"] in ("lobulated", "spiculated"))
    if kind in ROUND_TYPES and d_true > 0:
        out["size"] = int(abs(f.diameter_mm - d_true) / d_true <= 0.20)
    if kind in DENSITY_TYPES:
        out["density"] = int(f.density.homogeneous == (kind in SOLID))
    if kind != "effusion":
        out["calcification"] = int(bool(truth.get("calcified")))
        out["cavity"] = int(bool(truth.get("cavitation")))
        if truth.get("lobe"):
            out["lobe"] = int(truth["lobe"] in (f.lobe, *f.lobe_overlap))
    return out


MapsOf = Callable[[Any], Any]


def collect(seeds: Sequence[int], maps_of: MapsOf, cache: Path | None = None, progress: bool = True,
            entropy_max: float = ENTROPY_MAX, render: str | None = None) -> list[dict[str, Any]]:
    """Rows for every finding on the films of ``seeds`` (cached per seed in ``cache``); ``render``: the rendering
    families the films draw their look from (``CaseSpec.render``; None: the phantom's own)."""
    from encoder.phantom import CaseSpec, generate_case

    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for i, seed in enumerate(seeds, 1):
        path = cache / f"{seed}.json" if cache else None
        if path is not None and path.exists():
            rows += json.loads(path.read_text())
            continue
        case = generate_case(seed, CaseSpec(render=render) if render else None)
        with calibration.raw_mode():
            facts = analyse(maps_of(case), case_spacing(case), entropy_max=entropy_max)
        film = finding_rows(seed, facts, list(case.truth["lesions"]))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(film))
        rows += film
        if progress:
            print(f"\rfilm {i}/{len(seeds)} (seed {seed}), {time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return rows


# --- isotonic regression and its tables -------------------------------------------------------


def pav(x: Sequence[float], y: Sequence[float]) -> list[tuple[float, float, float, int]]:
    """Increasing isotonic regression by pool-adjacent-violators: blocks (x_first, x_last,
    mean y, count), ties in x pooled first."""
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    xs, ys = np.asarray(x, dtype=float)[order], np.asarray(y, dtype=float)[order]
    blocks: list[list[float]] = []  # x_first, x_last, sum y, count
    for xv, yv in zip(xs, ys, strict=True):
        if blocks and blocks[-1][1] == xv:
            blocks[-1][2] += yv
            blocks[-1][3] += 1
        else:
            blocks.append([xv, xv, yv, 1])
        while len(blocks) > 1 and blocks[-2][2] / blocks[-2][3] >= blocks[-1][2] / blocks[-1][3]:
            last = blocks.pop()
            blocks[-1][1] = last[1]
            blocks[-1][2] += last[2]
            blocks[-1][3] += last[3]
    return [(b[0], b[1], b[2] / b[3], int(b[3])) for b in blocks]


def pool_small(blocks: list[tuple[float, float, float, int]], min_n: int) -> list[tuple[float, float, float, int]]:
    """Merge every block of fewer than ``min_n`` samples into its neighbour nearer in value
    (the pooled mean lies between theirs, so the steps stay monotone): a step fitted on two
    or three films is noise, and its extreme value would be stated as certainty."""
    out = list(blocks)
    while len(out) > 1 and min(b[3] for b in out) < min_n:
        i = min(range(len(out)), key=lambda k: out[k][3])
        if i == 0:
            j = 1
        elif i == len(out) - 1:
            j = i - 1
        else:
            j = i - 1 if abs(out[i - 1][2] - out[i][2]) <= abs(out[i + 1][2] - out[i][2]) else i + 1
        a, b = sorted((i, j))
        lo, hi = out[a], out[b]
        n = lo[3] + hi[3]
        out[a:b + 1] = [(lo[0], hi[1], (lo[2] * lo[3] + hi[2] * hi[3]) / n, n)]
    return out


def fit_curve(x: Sequence[float], y: Sequence[float], min_block: int = MIN_BLOCK) -> tuple[list[float], list[float], str]:
    """Knots of the isotonic fit of ``y`` on ``x``, increasing or decreasing, whichever fits
    better (squared error); the steps' end knots, values clipped to ``CLIP``."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    best: tuple[float, list[float], list[float], str] | None = None
    for direction, sign in (("increasing", 1.0), ("decreasing", -1.0)):
        blocks = pool_small(pav(sign * xa, ya), min_block)
        kx: list[float] = []
        ky: list[float] = []
        for lo, hi, mean, _n in blocks:
            for xv in (lo, hi) if hi > lo else (lo,):
                kx.append(sign * xv)
                ky.append(float(np.clip(mean, *CLIP)))
        if sign < 0:
            kx, ky = kx[::-1], ky[::-1]
        sse = float(np.sum((np.interp(xa, kx, ky) - ya) ** 2))
        if best is None or sse < best[0] - 1e-12:
            best = (sse, kx, ky, direction)
    assert best is not None
    return [round(v, 5) for v in best[1]], [round(v, 4) for v in best[2]], best[3]


def expected_calibration_error(p: Sequence[float], correct: Sequence[int], bins: int = BINS) -> float:
    """ECE over ``bins`` equal-width bins of the stated probability."""
    pa, ca = np.asarray(p, dtype=float), np.asarray(correct, dtype=float)
    if pa.size == 0:
        return float("nan")
    idx = np.minimum((pa * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.sum() / pa.size * abs(float(pa[sel].mean()) - float(ca[sel].mean()))
    return float(ece)


def reliability(p: Sequence[float], correct: Sequence[int], bins: int = BINS) -> list[tuple[float, float, int]]:
    """(mean stated probability, fraction right, count) per non-empty bin."""
    pa, ca = np.asarray(p, dtype=float), np.asarray(correct, dtype=float)
    idx = np.minimum((pa * bins).astype(int), bins - 1)
    return [(float(pa[idx == b].mean()), float(ca[idx == b].mean()), int((idx == b).sum()))
            for b in range(bins) if (idx == b).any()]


@dataclass
class Samples:
    """One attribute's samples: raw score, outcome, stated (positive tables), seed, peak."""

    x: np.ndarray
    y: np.ndarray
    stated: np.ndarray
    seed: np.ndarray
    peak: np.ndarray


def samples(rows: Iterable[dict[str, Any]], name: str, score: str, target: str = "correct", pivot: float = 0.0) -> Samples:
    """A ``toward`` table's samples are already statement-centred: x is the score's distance
    from ``pivot`` towards the stated value, y whether the statement is right."""
    keep = [r for r in rows if r["outcome"].get(name) is not None and math.isfinite(float(r["raw"].get(score, math.nan)))]
    stated = np.array([bool(r["stated"].get(name, True)) for r in keep], dtype=bool)
    x = np.array([float(r["raw"][score]) for r in keep])
    y = np.array([int(r["outcome"][name]) for r in keep], dtype=int)
    if target == "toward":
        x = np.where(stated, x - pivot, pivot - x)
        y = (y == stated.astype(int)).astype(int)
    return Samples(
        x=x,
        y=y,
        stated=stated,
        seed=np.array([int(r["seed"]) for r in keep]),
        peak=np.array([float(r["peak"]) for r in keep]),
    )


def stated_probability(target: str, p_curve: np.ndarray, stated: np.ndarray) -> np.ndarray:
    return np.where(stated, p_curve, 1.0 - p_curve) if target == "positive" else p_curve


def stated_correct(target: str, s: Samples) -> np.ndarray:
    """Whether each statement is right (for positive tables: the stated value equals the truth)."""
    return (s.y == s.stated.astype(int)).astype(int) if target == "positive" else s.y


def cross_fitted(target: str, s: Samples, min_block: int = MIN_BLOCK) -> np.ndarray:
    """Each sample's stated probability from a table fitted on the other parity of seeds."""
    out = np.full(s.x.shape, np.nan)
    for parity in (0, 1):
        train, test = s.seed % 2 != parity, s.seed % 2 == parity
        if not test.any():
            continue
        if train.sum() == 0:
            out[test] = 0.5
            continue
        kx, ky, _ = fit_curve(s.x[train], s.y[train], min_block)
        out[test] = stated_probability(target, np.interp(s.x[test], kx, ky), s.stated[test])
    return out


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


def fit_all(rows: list[dict[str, Any]], min_block: int = MIN_BLOCK) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The calibration document's tables and a report per attribute."""
    tables: dict[str, Any] = {}
    report: dict[str, dict[str, Any]] = {}
    presence = {sc: samples(rows, "presence", sc) for sc in PRESENCE_SCORES}
    briers = {sc: brier(cross_fitted("correct", s, min_block), s.y) for sc, s in presence.items() if s.x.size}
    specs = dict(TABLES)
    if briers:
        specs = {"presence": ("correct", min(briers, key=lambda k: briers[k]), 0.0), **specs}
    for name, (target, score, pivot) in specs.items():
        s = samples(rows, name, score, target, pivot)
        if s.x.size < 2:
            continue
        kind = "correct" if target == "toward" else target
        kx, ky, direction = fit_curve(s.x, s.y, min_block)
        right = stated_correct(kind, s)
        after_in = stated_probability(kind, np.interp(s.x, kx, ky), s.stated)
        after_cv = cross_fitted(kind, s, min_block)
        tables[name] = {"target": target, "score": score, "direction": direction, "n": int(s.x.size),
                        "outcomes_1": int(s.y.sum()), "x": kx, "y": ky}
        if target == "toward":
            tables[name]["pivot"] = pivot
        report[name] = {
            "n": int(s.x.size), "score": score, "accuracy": float(right.mean()),
            "ece_before": expected_calibration_error(s.peak, right),
            "ece_after_crossfit": expected_calibration_error(after_cv, right),
            "ece_after_insample": expected_calibration_error(after_in, right),
            "below_threshold": float(np.mean(after_in < calibration.THRESHOLD)),
            "right_when_flat": float(right[after_in >= calibration.THRESHOLD].mean()) if (after_in >= calibration.THRESHOLD).any() else float("nan"),
            "right_when_hedged": float(right[after_in < calibration.THRESHOLD].mean()) if (after_in < calibration.THRESHOLD).any() else float("nan"),
            "reliability_before": reliability(s.peak, right),
            "reliability_after": reliability(after_cv, right),
        }
        if name == "presence":
            report[name]["brier_by_score"] = briers
    return tables, report


# --- reliability plot (PIL: matplotlib is not installed in the venv) -----------------------------


def plot_reliability(report: dict[str, dict[str, Any]], path: Path, names: Sequence[str] = ("presence", "margin")) -> None:
    from PIL import Image, ImageDraw

    size, pad = 300, 40
    names = [n for n in names if n in report]
    img = Image.new("RGB", (len(names) * (size + pad) + pad, size + 2 * pad + 30), "white")
    draw = ImageDraw.Draw(img)
    for k, name in enumerate(names):
        ox, oy = pad + k * (size + pad), pad
        draw.rectangle([ox, oy, ox + size, oy + size], outline="black")
        draw.line([ox, oy + size, ox + size, oy], fill=(170, 170, 170))
        for t in range(1, 10):
            v = t / 10
            draw.line([ox + v * size, oy + size, ox + v * size, oy + size + 3], fill="black")
            draw.line([ox - 3, oy + size - v * size, ox, oy + size - v * size], fill="black")
        for v, label in ((0.0, "0"), (0.5, "0.5"), (1.0, "1")):
            draw.text((ox + v * size - 6, oy + size + 4), label, fill="black")
            draw.text((ox - 22, oy + size - v * size - 6), label, fill="black")
        r = report[name]
        draw.text((ox, 8), f"{name}: ECE {r['ece_before']:.3f} -> {r['ece_after_crossfit']:.3f} (n={r['n']})", fill="black")
        for key, colour in (("reliability_before", (200, 40, 40)), ("reliability_after", (30, 90, 200))):
            pts = [(ox + p * size, oy + size - acc * size, n) for p, acc, n in r[key]]
            if len(pts) > 1:
                draw.line([(x, y) for x, y, _ in pts], fill=colour, width=2)
            for x, y, n in pts:
                rad = 2 + min(6, math.sqrt(n) / 2)
                draw.ellipse([x - rad, y - rad, x + rad, y + rad], outline=colour, width=2)
        draw.text((ox + 40, oy + size + 16), "x: stated probability, y: fraction right", fill="black")
    draw.text((pad, size + 2 * pad + 10), "red: before (lesion-map peak)   blue: after (isotonic, cross-fitted)   grey: ideal",
              fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)


# --- command line ---------------------------------------------------------------------------------


def _encoder_maps(onnx: Path | None, second_reader_tables: bool = False) -> tuple[MapsOf, Any, str, float]:
    """The encoder's maps, the encoder, the weights' tag and the certainty limit fitted for them.

    The weights' own maps, with their second look where it is on (``HILUM_SECOND_LOOK``), as the engine reads them;
    ``second_reader_tables``: the maps of the weights that read a film alone, with their second look (``onnx``: a
    candidate's weights; None: the served ones, ``alone_reader_onnx_path`` or else the second reader's). The main
    weights' tables are fitted on their maps before the second reader confirms them
    (``orchestrator/encoders/second_reader.py``): confirmed, validation seeds 50-199 keep 6 false findings of 197,
    too few to fit presence on (such a refit put the SCENARIO film's strand at 0.04 on the map's peak), and the
    unconfirmed tables are the cautious side for confirmed maps (presence right 97.0% of the time there, 93.2%
    where they were fitted)."""
    from orchestrator.contracts.preprocess import prepare_film
    from orchestrator.encoders.factory import build_encoder, build_second_reader, reading_alone_weights
    from orchestrator.encoders.second_look import second_look
    from orchestrator.findings.fitted import entropy_limit_for
    from orchestrator.settings import Settings

    if second_reader_tables:  # the reader of films read alone as the service builds it (``onnx``'s, or the served)
        lone = onnx or reading_alone_weights(Settings())
        settings = Settings(second_reader_onnx_path=lone, alone_reader_onnx_path=None)
        enc = build_second_reader(settings)
        if enc is None:
            raise SystemExit("--second-reader-tables with HILUM_SECOND_READER=off: no second reader to fit")
        weights, look = Path(settings.second_reader_onnx_path), True
        limit = entropy_limit_for(weights)
    else:
        settings = Settings(onnx_path=onnx) if onnx else Settings()
        enc, weights, look = build_encoder(settings), Path(settings.onnx_path), settings.second_look
        limit = served_entropy_limit(settings)

    def maps_of(case: Any) -> Any:
        image, _ = prepare_film(case.image)
        maps = enc.encode(image)
        return second_look(enc, image, maps, case_spacing(case)) if look else maps

    return maps_of, enc, weights_tag(weights), limit


def check_validation(seeds: Sequence[int]) -> None:
    bad = sorted(set(seeds) & TEST_SEEDS)
    if bad:
        raise SystemExit(f"seeds {format_seeds(bad)} are test seeds (0-49, 200-399): fit on validation seeds only")


def format_report(report: dict[str, dict[str, Any]]) -> str:
    lines = ["| attribute | raw score | n | right | ECE before | ECE after (cross-fitted) | ECE after (in-sample) | below threshold | right when flat / hedged |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in report.items():
        lines.append(f"| {name} | {r['score']} | {r['n']} | {r['accuracy']:.1%} | {r['ece_before']:.3f} | "
                     f"{r['ece_after_crossfit']:.3f} | {r['ece_after_insample']:.3f} | {r['below_threshold']:.0%} | "
                     f"{r['right_when_flat']:.0%} / {r['right_when_hedged']:.0%} |")
    return "\n".join(lines)


def _path_or_none(text: str) -> Path | None:
    """A path argument where '' means none (``Path('')`` would be the current folder)."""
    return Path(text) if text else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="50-199", help="validation seeds (test ranges 0-49, 200-399 refused)")
    ap.add_argument("--onnx", type=Path, default=None, help="encoder weights (default: the shipped ONNX)")
    ap.add_argument("--out", type=Path, default=calibration.CALIBRATION_PATH)
    ap.add_argument("--plot", type=_path_or_none, default=Path("docs/calibration-reliability.png"), help="'' for none")
    ap.add_argument("--cache", type=_path_or_none, default=Path("data/calibration-rows"), help="per-seed rows ('' for none)")
    ap.add_argument("--report-json", type=Path, default=None)
    ap.add_argument("--min-block", type=int, default=MIN_BLOCK, help="fewest samples per isotonic step")
    ap.add_argument("--second-reader-tables", action="store_true",
                    help="the tables of the weights that read a film alone (HILUM_ALONE_READER_ONNX_PATH, else the "
                         "second reader's): their maps with their second look (write them beside those weights: "
                         "--out encoder/weights/second-reader-ensemble/calibration.json)")
    ap.add_argument("--render", default=None, metavar="LIST",
                    help="films drawn through these rendering families (the second reader's tables: the looks it "
                         "was trained through, all,-scatter,-padding: a film it reads alone is one of an unfamiliar look)")
    args = ap.parse_args(argv)
    if args.render:
        from encoder.phantom.rendering import parse_families

        if "padding" in parse_families(args.render):
            raise SystemExit("the padding family changes the film's frame, which the scorer does not follow")
    seeds = parse_seeds(args.seeds)
    check_validation(seeds)
    t0 = time.perf_counter()
    maps_of, enc, weights, limit = _encoder_maps(args.onnx, args.second_reader_tables)
    try:
        from orchestrator.findings.candidates import DETECT_PEAK
        from orchestrator.settings import Settings

        look = "-second-look" if Settings().second_look or args.second_reader_tables else ""  # rows depend on the look,
        look += f"-render-{args.render}" if args.render else ""  # the films' looks and the gate too
        cache = args.cache / f"{weights.replace('@', '-')}{look}-gate{DETECT_PEAK}" if args.cache else None
        rows = collect(seeds, maps_of, cache, entropy_max=limit, render=args.render)
    finally:
        enc.close()
    tables, report = fit_all(rows, args.min_block)
    doc = {
        "_about": "Isotonic calibration tables of the findings layer (orchestrator/findings/calibration.py); "
                  "written by loadtests/calibrate_confidence.py, fitted on validation seeds only.",
        "seeds": format_seeds(seeds), "render": args.render, "weights": weights, "films": len(seeds), "findings": len(rows),
        "ece_10_bins": {n: {"before": round(r["ece_before"], 4), "after_crossfit": round(r["ece_after_crossfit"], 4),
                            "after_insample": round(r["ece_after_insample"], 4)} for n, r in report.items()},
        "attributes": tables,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    calibration.read.cache_clear()
    if args.plot:
        plot_reliability(report, args.plot)
    if args.report_json:
        args.report_json.write_text(json.dumps(report, indent=1))
    print(f"# calibrated confidence, validation seeds {format_seeds(seeds)} ({len(seeds)} films, {len(rows)} findings), {weights}\n")
    print(format_report(report))
    if "presence" in report:
        print(f"\npresence raw score by cross-fitted Brier: {report['presence']['brier_by_score']}")
    print(f"\nwrote {args.out}{f' and {args.plot}' if args.plot else ''}; threshold {calibration.THRESHOLD}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}; {time.perf_counter() - t0:.0f} s; "
          f"{enc.calls} encoder passes")  # with the second look: three per film that finds something
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
