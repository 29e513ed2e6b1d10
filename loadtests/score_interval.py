"""How well Hilum compares a film with an earlier film of the same chest (``orchestrator/findings/interval.py``).

For each seed the phantom writes a film and the same chest's film ``--days`` earlier (``encoder.phantom.earlier_film``:
its own positioning, exposure and noise; every round lesion at ``--scale`` of its diameter, the rest as they are),
both as DX DICOM files at their true spacing, and the two are uploaded together through
``DialogueEngine.create_session`` with the embedded encoder. Each of this film's findings within 10 mm of a truth
lesion is graded: whether it was paired with the earlier film's finding of the same lesion, and, for round lesions
>= 8 mm, whether the change called (larger / smaller / no measurable change) is the truth's (the truth's diameters
against the same thresholds; pairs read as another kind on one film are not compared and are counted apart), and
whether the truth's doubling time lies within the range the answer gives. The truth is used only to score.

    .venv/bin/python -m loadtests.score_interval --seeds 0-29 --scale 0.75
    .venv/bin/python -m loadtests.score_interval --seeds 0-29 --scale 1.0
    .venv/bin/python -m loadtests.score_interval --seeds 0-29 --scale 0.75 --detector 3

``--detector K``: instead, K lesions per seed each on its own pair of detector-resolution films (0.15-0.2 mm pixels,
``encoder.lesion_reader.crops.render_lesion``: the lesion reader reads them and the findings state its sizes), the
earlier film from another seed's positioning, the lesion where it was.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
from typing import Any

import numpy as np

from encoder.lesion_reader.cli import parse_seeds

MATCH_MM = 10.0


def _dicom(case: Any) -> bytes:
    from encoder.phantom.writer import write_dicom

    buf = io.BytesIO()
    write_dicom(case, buf)  # type: ignore[arg-type]
    return buf.getvalue()


def _phantom_pairs(seeds: list[int], days: int, scale: float, volume: Any) -> Any:
    from encoder.phantom import earlier_film, generate_case

    for seed in seeds:
        case = generate_case(seed, volume=volume)
        before = earlier_film(case, days=days, scale=scale, volume=volume)
        yield _dicom(case), case.truth, _dicom(before), before.truth


def _before(days: int) -> str:
    import datetime

    return (datetime.date(2000, 1, 1) - datetime.timedelta(days=days)).isoformat()


def _spacing(truth: dict[str, Any]) -> float:
    """mm per pixel of the working image the findings' coordinates are in."""
    return float(truth.get("working_mm_per_px") or truth["pixel_spacing_mm"][0])


def _truth_of(finding: dict[str, Any], truth: dict[str, Any], spacing: float) -> dict[str, Any] | None:
    best, dist = None, MATCH_MM
    for les in truth["lesions"]:
        d = math.dist(finding["center_px"], les["center_px"]) * spacing
        if d <= dist:
            best, dist = les, d
    return best


def _within(g: dict[str, Any]) -> bool:
    lo, hi = g["doubling_range"]
    return lo <= g["truth_doubling"] and (hi is None or g["truth_doubling"] <= hi)


def detector_pairs(seeds: list[int], scale: float, per_film: int, volume: Any) -> Any:
    """(film, its truth, earlier film, its truth) per lesion: each round lesion on its own detector film
    (``encoder.lesion_reader.crops``: 0.15-0.2 mm pixels, where the lesion reader reads) and on the same chest's film
    of another seed's positioning, at ``scale`` of its diameter where it was."""
    from dataclasses import replace

    from encoder.lesion_reader.crops import _rng, draw_spec, film_background, render_lesion
    from encoder.phantom.case import EARLIER_SEED_OFFSET, ROUND_TYPES, place
    from encoder.phantom.writer import write_dx

    def dx(ex: Any, seed: int, study: str) -> bytes:
        buf = io.BytesIO()
        original = np.clip(ex.film["original"], 0.0, 1.0)
        write_dx(np.rint(original * 65535.0).astype(np.uint16), ex.film["spacing_mm"], seed, buf, study=study,
                 study_date="19990705" if study else "20000101")
        return buf.getvalue()

    for seed in seeds:
        now_bg, then_bg = film_background(seed, volume), film_background(EARLIER_SEED_OFFSET + seed, volume)
        rng = _rng(seed, 2)
        for k in range(per_film):
            spec = draw_spec(rng)
            if spec.type not in ROUND_TYPES:
                continue
            centre, lobe = place(volume, now_bg.geom, now_bg.masks, spec, [], rng)
            spec = replace(spec, centre_mm=tuple(float(v) for v in centre), lobe=lobe)
            now = render_lesion(now_bg, volume, spec, rng, keep_film=True)
            then = render_lesion(then_bg, volume, replace(spec, diameter_mm=round(float(spec.diameter_mm or 10) * scale, 1)),
                                 rng, keep_film=True)
            yield (dx(now, seed * 100 + k, ""), _as_case(now.truth), dx(then, seed * 100 + k, "earlier"),
                   _as_case(then.truth))


def _as_case(lesion: dict[str, Any]) -> dict[str, Any]:
    """A detector film's one lesion as a case's truth (``{"seed", "lesions": [...]}``)."""
    return {"seed": lesion["seed"], "working_mm_per_px": lesion["working_mm_per_px"], "lesions": [lesion]}


def score(seeds: list[int], days: int, scale: float, detector: int = 0) -> dict[str, Any]:
    from encoder.phantom.volume import load_volume
    from orchestrator.findings.interval import CHANGE_MM, CHANGE_SHARE, ROUND_KINDS
    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    settings = Settings()
    engine = build_services(settings).engine
    volume = load_volume(settings.cache_dir)
    graded: list[dict[str, Any]] = []
    costs: list[tuple[float, float]] = []  # (the earlier film's analysis, the rest of the first turn) seconds
    for now_dcm, now_case, then_dcm, then_case in (
            detector_pairs(seeds, scale, detector, volume) if detector else _phantom_pairs(seeds, days, scale, volume)):
        seed = int(now_case["seed"])
        view = engine.create_session(now_dcm, "now.dcm", "en", earlier=then_dcm, earlier_filename="e.dcm",
                                     study_date="2000-01-01", earlier_date=_before(days))
        rows = {m["finding_id"]: m for m in view.turns[0].measurements if m.get("kind") == "interval_change"}
        stages = dict(view.turns[0].timings)
        costs.append((float(stages.pop("earlier", 0.0)), sum(float(v) for v in stages.values())))
        engine.close_session(view.session_id)
        for f in view.turns[0].findings:
            les = _truth_of(f, now_case, _spacing(now_case))
            row = rows.get(f["id"])
            if les is None or row is None:
                continue
            earlier_les = next((e for e in then_case["lesions"] if e["center_3d_mm"] == les["center_3d_mm"]), None)
            then_truth = float(earlier_les["diameter_mm"]) if earlier_les is not None else None
            now_truth = float(les["diameter_mm"])
            item = {"seed": seed, "type": les["type"], "now_truth": now_truth, "then_truth": then_truth,
                    "status": row["status"], "mm": row["mm"], "earlier_mm": row["earlier_mm"],
                    "doubling_days": row["doubling_days"], "doubling_range": row["doubling_days_range"],
                    "paired": row["earlier_finding_id"] is not None}
            if les["type"] in ROUND_KINDS and now_truth >= 8 and then_truth is not None:
                diff = now_truth - then_truth
                item["truth_status"] = ("larger" if diff > 0 else "smaller") if (
                    abs(diff) >= CHANGE_MM and abs(diff) >= CHANGE_SHARE * then_truth) else "no_measurable_change"
                if now_truth > then_truth:
                    item["truth_doubling"] = days * math.log(2) / (3 * math.log(now_truth / then_truth))
            graded.append(item)
    rounds = [g for g in graded if "truth_status" in g]
    compared = [g for g in rounds if g["status"] in ("larger", "smaller", "no_measurable_change")]
    ratios = [g["doubling_days"] / g["truth_doubling"] for g in rounds
              if g.get("doubling_days") and g.get("truth_doubling")]
    return {
        "graded": graded,
        "first_turn_s_median": {"earlier_film": round(statistics.median(c[0] for c in costs), 3),
                                "the_film_and_the_turn": round(statistics.median(c[1] for c in costs), 3)}
        if costs else None,
        "seeds": f"{seeds[0]}-{seeds[-1]}", "days": days, "scale": scale,
        "findings_on_truth": len(graded), "paired": sum(g["paired"] for g in graded),
        "round_ge_8mm": len(rounds),
        "compared": len(compared),
        "change_right": sum(g["status"] == g["truth_status"] for g in compared),
        "called": {s: sum(g["status"] == s for g in rounds) for s in
                   ("larger", "smaller", "no_measurable_change", "seen_on_both", "new")},
        "truth_doubling_within_range": sum(_within(g) for g in compared if g.get("doubling_range")
                                           and g.get("truth_doubling")),
        "doubling_given": sum(bool(g.get("doubling_range") and g.get("truth_doubling")) for g in compared),
        "doubling_ratio_p10_p50_p90": [round(q, 2) for q in statistics.quantiles(ratios, n=10)[::4]]
        if len(ratios) >= 10 else [round(r, 2) for r in sorted(ratios)],
        "diameter_ratio_now_median": round(statistics.median(g["mm"] / g["now_truth"] for g in rounds), 3)
        if rounds else None,
        "diameter_ratio_earlier_median": round(statistics.median(
            g["earlier_mm"] / g["then_truth"] for g in rounds if g["earlier_mm"]), 3) if rounds else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0-29")
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--scale", type=float, default=0.75)
    ap.add_argument("--graded", action="store_true", help="also print every graded finding")
    ap.add_argument("--detector", type=int, default=0, metavar="K",
                    help="K lesions per seed, each on its own detector-resolution film pair (the lesion reader reads)")
    args = ap.parse_args()
    out = score(parse_seeds(args.seeds), args.days, args.scale, args.detector)
    if not args.graded:
        out.pop("graded")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
