"""Films of other patients' CTs through the whole engine: does perception hold beyond its one CT?

    .venv/bin/python -m encoder.phantom.other_ct fetch --out data/other-ct        # once
    .venv/bin/python -m loadtests.score_other_ct --ct-dir data/other-ct --films 12 [--json out.json] \
        [--sheet loadtests/results/other_ct_sheet.png]
    HILUM_ONNX_PATH=encoder/weights/stage-h-candidate/anatomy_encoder.onnx .venv/bin/python -m loadtests.score_other_ct ...

Each film is projected from one of the two CTs of ``loadtests/other_ct.py`` (patients the
encoder has never seen; checking only, nothing is fitted here). Parallel projection along the
antero-posterior axis of ``hu_to_mu`` (the phantom's attenuation: soft part, bone part times a
bone factor), rows resampled from the 5 mm slices to square pixels at the CT's in-plane spacing.
A third of the films are normal (the patient's own tumour replaced by lung-density air, no
nodule); the rest keep the tumour and get three solid nodules drawn from 9-25 mm, inserted
analytically into the line integral (a sphere's chord times its attenuation over lung) at
random points at least their radius + 3 mm inside a lung and 30 mm off the midline. Three
renderings per film: ``phantom`` (the phantom's own display curve, varied exposure), ``linear``
(plain linear attenuation, a 1-99 percentile window, no gamma, no edge enhancement: the
"another renderer" of issue 21), ``families`` (a draw over every rendering family of
``encoder/phantom/rendering.py``). Each film is a DX file with its true pixel spacing, sent
through ``DialogueEngine.create_session`` as an upload would be.

Scored per film (truth lesions >= 8 mm): found = a finding's centre within 10 mm of the
lesion's projected centre; side right; diameter within 30%; false findings = findings that
match nothing; and the gate's outcome (refused, withheld, localised). The midline for sides is
the spine's column (bone above 200 HU behind the lungs' centre), in the CT itself.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from encoder.phantom.other_ct import CASES, Lesion, Patient, insert_nodules, load, prepare
from orchestrator.encoders.second_reader import WARNING as READ_ALONE

MATCH_MM = 10.0
MIN_MM = 8.0
RENDERINGS = ("phantom", "linear", "families")


def render_film(line: np.ndarray, rendering: str, spacing: float, rng: np.random.Generator,
                lesion_mask: np.ndarray) -> np.ndarray:
    from encoder.phantom.case import draw_exposure
    from encoder.phantom.projection import Exposure, display
    from encoder.phantom.rendering import draw_style, render

    if rendering == "linear":
        return display(line, Exposure(1.0, 1.0, 99.0, 1.0, 0.0, 10.0, 0.5, 0.006), spacing, rng)
    exposure = draw_exposure(rng, True)
    if rendering == "phantom":
        return display(line, exposure, spacing, rng)
    style = draw_style(rng, "all,-rotation,-padding,-anatomy")
    return render(line, style, exposure, spacing, rng, None, lesion_mask)


def film_lines(p: Patient, normal: bool, rendering: str, rng: np.random.Generator) -> tuple[np.ndarray, list[Lesion]]:
    """The film's line integral (bone factor applied) and its truth lesions."""
    bone_factor = 1.0 if rendering == "linear" else float(rng.uniform(1.4, 2.4))
    if normal:
        return p.soft_clear + bone_factor * p.bone_clear, []
    extra, lesions, _ = insert_nodules(p, rng)
    if p.tumour is not None:
        lesions.append(p.tumour)
    return p.soft + bone_factor * p.bone + extra, lesions


@dataclass(frozen=True)
class Film:
    seed: int
    rendering: str
    normal: bool  # the tumour cleared, no nodule
    image: np.ndarray  # float32 [0, 1], the patient's film pixels
    lesions: list[Lesion]


def films_of(patient: Patient, case_index: int, films: int, seed0: int = 0,
             renderings: tuple[str, ...] = RENDERINGS) -> Iterator[Film]:
    """The films of one patient, in order: every third seed normal, each seed in every rendering,
    each from its own generator ``default_rng([seed, rendering, case_index])``."""
    for n in range(films):
        seed = seed0 + n
        for rendering in renderings:
            rng = np.random.default_rng([seed, RENDERINGS.index(rendering), case_index])
            line, lesions = film_lines(patient, n % 3 == 0, rendering, rng)
            yield Film(seed, rendering, n % 3 == 0, render_film(line, rendering, patient.spacing_mm, rng,
                                                                 patient.lung_film), lesions)


def detector_counts(film: np.ndarray) -> np.ndarray:
    """A rendered film in [0, 1] as a 12-bit detector writes it (uint16)."""
    return np.round(np.clip(film, 0, 1) * 4095).astype(np.uint16)


def dicom_bytes(film: np.ndarray, spacing: float, seed: int) -> bytes:
    import io

    from encoder.phantom.writer import write_dx

    buf = io.BytesIO()
    write_dx(detector_counts(film), (spacing, spacing), seed, buf)
    return buf.getvalue()


def score_film(engine: Any, data: bytes, lesions: list[Lesion], spacing: float) -> dict[str, Any]:
    from orchestrator.errors import NotAChestFilmError
    from orchestrator.facts import PixelSpacing
    from orchestrator.findings.candidates import lesion_regions
    from orchestrator.findings.plausibility import map_entropy
    from orchestrator.imaging import decode_upload

    film = decode_upload(data, "film.dcm", engine.settings)
    r = film.resampling
    work_mm = spacing * r.scale
    truth = [((les.x_px + r.pad_x) / r.scale, (les.y_px + r.pad_y) / r.scale, les) for les in lesions
             if les.diameter_mm >= MIN_MM]
    maps = engine.encoder.encode(film.image)
    raw = lesion_regions(maps.lesion, maps.image, PixelSpacing(work_mm, work_mm, "dicom"))
    raw_used: set[int] = set()
    for wx, wy, _ in truth:
        near = [n for n, c in enumerate(raw) if n not in raw_used
                and np.hypot(c.center[0] - wx, c.center[1] - wy) * work_mm <= MATCH_MM]
        if near:
            raw_used.add(near[0])
    raw_row = {"raw_found": len(raw_used), "raw_false": len(raw) - len(raw_used), "entropy": round(map_entropy(maps), 4)}
    try:
        view = engine.create_session(data, "film.dcm", "en")
    except NotAChestFilmError as exc:
        return {"outcome": f"refused:{exc.reason}", "lesions": len(truth), "found": 0, "side_errors": 0,
                "size_ok": 0, "false": 0, "findings": 0, "tumour_found": None, "warnings": [], **raw_row}
    turn = view.turns[0]
    engine.close_session(view.session_id)
    fc = turn.film_check or {}
    localised = fc.get("anatomy_plausible") and fc.get("orientation") == "upright"
    findings = list(turn.findings)
    used: set[int] = set()
    found = side_errors = size_ok = 0
    tumour_found = None
    missed: list[tuple[float, float, Lesion]] = []
    sized: list[dict[str, Any]] = []
    for wx, wy, les in truth:
        best, best_d = None, MATCH_MM
        for n, f in enumerate(findings):
            d = float(np.hypot(f["center_px"][0] - wx, f["center_px"][1] - wy)) * work_mm
            if d <= best_d and n not in used:
                best, best_d = n, d
        hit = best is not None
        if les.kind == "tumour":
            tumour_found = hit
        sized.append({"kind": les.kind, "diameter_mm": round(les.diameter_mm, 1), "found": hit})
        if not hit:
            missed.append((wx, wy, les))
            continue
        assert best is not None
        used.add(best)
        f = findings[best]
        found += 1
        side_errors += int(f.get("side") not in (None, les.side) and f.get("side_confirmed", True))
        dia = f.get("diameter_mm") or 0.0
        size_ok += int(abs(dia - les.diameter_mm) <= 0.3 * les.diameter_mm)
    warnings = list(fc.get("warnings", []))
    alone = READ_ALONE in warnings
    lone = engine.reads_alone_with
    reading = lone.encode(film.image) if missed and alone and lone else maps
    return {"outcome": "localised" if localised else "withheld", "lesions": len(truth),
            "found": found, "side_errors": side_errors, "size_ok": size_ok, "false": len(findings) - len(used),
            "findings": len(findings), "tumour_found": tumour_found, "warnings": warnings, "by_lesion": sized, **raw_row,
            "missed": [miss_row(reading.lesion, wx, wy, les, work_mm, findings) | {"read_alone": alone}
                       for wx, wy, les in missed]}


def miss_row(lesion_map: np.ndarray, wx: float, wy: float, les: Lesion, work_mm: float,
          findings: list[dict[str, Any]]) -> dict[str, Any]:
    """A lesion the answers missed: what it is, the peak of the reading weights' lesion map (one pass) within its
    radius, and how far the nearest finding lies."""
    ys, xs = np.ogrid[:lesion_map.shape[0], :lesion_map.shape[1]]
    disc = np.hypot(xs - wx, ys - wy) <= max(les.diameter_mm / 2 / work_mm, 2.0)
    nearest = min((float(np.hypot(f["center_px"][0] - wx, f["center_px"][1] - wy)) * work_mm for f in findings),
                  default=None)
    return {"kind": les.kind, "diameter_mm": round(les.diameter_mm, 1), "side": les.side,
            "map_peak": round(float(lesion_map[disc].max()), 3) if disc.any() else 0.0,
            "nearest_finding_mm": None if nearest is None else round(nearest, 1)}


def miss_lines(rows: list[dict[str, Any]]) -> str:
    """Each lesion >= 8 mm the answers missed on a film the gate accepted, and how many of them the reading weights'
    lesion map does not draw (peak < 0.5), draws under the gate, or draws over it (lost after: the second look, the
    confirmation, or a region more than 10 mm off)."""
    from orchestrator.findings.candidates import DETECT_PEAK

    misses = [(r, m) for r in rows if not r["outcome"].startswith("refused") for m in r.get("missed", ())]
    out = [f"\nmissed lesions >= {MIN_MM:.0f} mm on accepted films, by why (tumours among them):"]
    for name in sorted({r["ct"] for r, _ in misses}):
        bins: collections.Counter[str] = collections.Counter()
        tumours: collections.Counter[str] = collections.Counter()
        for r, m in misses:
            if r["ct"] == name:
                why = ("withheld film" if r["outcome"] == "withheld" else "not drawn" if m["map_peak"] < 0.5
                       else "under the gate" if m["map_peak"] < DETECT_PEAK else "drawn, then lost")
                bins[why] += 1
                tumours[why] += m["kind"] == "tumour"
        out.append(f"  {name}: {sum(bins.values())}: " + ", ".join(f"{k} {v} ({tumours[k]})" for k, v in bins.most_common()))
    out += [f"  {r['ct']} seed {r['seed']} {r['rendering']}: {m['kind']} {m['diameter_mm']} mm {m['side']}, "
            f"{r['outcome']}{', read alone' if m['read_alone'] else ''}, map peak {m['map_peak']}, nearest finding "
            f"{m['nearest_finding_mm']} mm" for r, m in misses]
    return "\n".join(out)


def run(ct_dir: Path, films: int, seed0: int, renderings: tuple[str, ...], sheet: Path | None,
        cases: tuple[str, ...] = CASES) -> dict[str, Any]:
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.encoders.factory import build_encoder, build_other_readers
    from orchestrator.settings import Settings

    settings = Settings()
    encoder, (second, lone) = build_encoder(settings), build_other_readers(settings)  # as the service reads them
    engine = DialogueEngine(encoder, settings, second_reader=second, alone_reader=lone)
    rows: list[dict[str, Any]] = []
    tiles: list[np.ndarray] = []
    try:
        for name in cases:
            t0 = time.perf_counter()
            patient = prepare(load(name, ct_dir))
            print(f"{name}: CT {patient.ct.hu.shape} at {patient.ct.spacing} mm, lungs "
                  f"{patient.lungs.sum() * np.prod(patient.ct.spacing) / 1e6:.2f} L, tumour "
                  f"{patient.tumour}, prepared in {time.perf_counter() - t0:.0f} s")
            for f in films_of(patient, cases.index(name), films, seed0, renderings):
                row = score_film(engine, dicom_bytes(f.image, patient.spacing_mm, f.seed), f.lesions, patient.spacing_mm)
                row.update({"ct": name, "seed": f.seed, "rendering": f.rendering, "normal": f.normal})
                rows.append(row)
                if sheet is not None and f.seed < seed0 + 3:
                    tiles.append(_tile(f.image, f.lesions, f"{name} s{f.seed} {f.rendering}: {row['outcome']} "
                                                           f"{row['found']}/{row['lesions']} +{row['false']}"))
    finally:
        for part in (encoder, second, lone):
            if part is not None:
                part.close()
    if sheet is not None and tiles:
        _write_sheet(sheet, tiles)
    return {"rows": rows, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
            "weights": os.environ.get("HILUM_ONNX_PATH", "default")}


def _tile(film: np.ndarray, lesions: list[Lesion], title: str) -> np.ndarray:
    img = cv2.cvtColor((np.clip(film, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    for les in lesions:
        rad = max(int(les.diameter_mm / 2 / 0.6) + 4, 6)
        cv2.circle(img, (int(les.x_px), int(les.y_px)), rad, (0, 200, 255) if les.kind == "tumour" else (0, 255, 0), 1)
    img = cv2.resize(img, (360, int(360 * img.shape[0] / img.shape[1])))
    band = np.zeros((22, img.shape[1], 3), dtype=np.uint8)
    cv2.putText(band, title[:60], (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
    return np.vstack([band, img])


def _write_sheet(path: Path, tiles: list[np.ndarray]) -> None:
    h = max(t.shape[0] for t in tiles)
    tiles = [np.vstack([t, np.zeros((h - t.shape[0], t.shape[1], 3), np.uint8)]) for t in tiles]
    per_row = 3
    rows = [np.hstack(tiles[i:i + per_row] + [np.zeros_like(tiles[0])] * (per_row - len(tiles[i:i + per_row])))
            for i in range(0, len(tiles), per_row)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))


def summarise(rows: list[dict[str, Any]]) -> str:
    """Per CT and rendering: the gate's outcomes, what the answers say on localised films, and
    what the lesion map alone finds on every accepted film (as if the plausibility step let it
    through: the encoder's perception, apart from the decision to withhold)."""
    out = ["| CT | rendering | films | refused / withheld / localised | map entropy | answers: found, tumour, side errors, "
           "size within 30%, false per film (per normal film) | lesion map alone (accepted films): found, false per film (per normal film) |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in sorted({r["ct"] for r in rows}):
        for rendering in RENDERINGS:
            rs = [r for r in rows if r["ct"] == name and r["rendering"] == rendering]
            if not rs:
                continue
            loc = [r for r in rs if r["outcome"] == "localised"]
            acc = [r for r in rs if not r["outcome"].startswith("refused")]
            refused = len(rs) - len(acc)
            tum = [r["tumour_found"] for r in loc if r["tumour_found"] is not None]
            ent = [r["entropy"] for r in acc] or [float("nan")]
            normal = [r for r in acc if r["normal"]]
            loc_normal = [r for r in loc if r["normal"]]
            found = sum(r["found"] for r in loc)
            answers = (f"{found}/{sum(r['lesions'] for r in loc)}, {sum(tum)}/{len(tum)}, "
                       f"{sum(r['side_errors'] for r in loc)}, {sum(r['size_ok'] for r in loc)}/{found}, "
                       f"{sum(r['false'] for r in loc) / max(len(loc), 1):.2f} "
                       f"({sum(r['false'] for r in loc_normal) / max(len(loc_normal), 1):.2f})") if loc else "-"
            raw = (f"{sum(r['raw_found'] for r in acc)}/{sum(r['lesions'] for r in acc)}, "
                   f"{sum(r['raw_false'] for r in acc) / max(len(acc), 1):.2f} "
                   f"({sum(r['raw_false'] for r in normal) / max(len(normal), 1):.2f})") if acc else "-"
            out.append(f"| {name} | {rendering} | {len(rs)} | {refused} / {len(acc) - len(loc)} / {len(loc)} | "
                       f"{min(ent):.3f}-{max(ent):.3f} | {answers} | {raw} |")
    out.append("\n" + found_by_size(rows))
    warn = collections.Counter(w for r in rows for w in r["warnings"])
    out.append("\nwarnings on accepted films: " + (", ".join(f"{k} {v}" for k, v in warn.most_common()) or "none"))
    return "\n".join(out)


def found_by_size(rows: list[dict[str, Any]]) -> str:
    """Per CT, the inserted nodules the answers found on localised films, by diameter (every rendering), and the
    patient's own tumour: what a reader of such films may miss, by size."""
    out = []
    for name in sorted({r["ct"] for r in rows}):
        tally: dict[tuple[str, float], list[int]] = collections.defaultdict(lambda: [0, 0])
        for r in rows:
            if r["ct"] == name and r["outcome"] == "localised":
                for les in r.get("by_lesion", ()):
                    key = (les["kind"], les["diameter_mm"] if les["kind"] == "inserted" else 0.0)
                    tally[key][0] += int(les["found"])
                    tally[key][1] += 1
        parts = [f"{d:g} mm {f}/{n}" for (kind, d), (f, n) in sorted(tally.items()) if kind == "inserted"]
        parts += [f"{kind} {f}/{n}" for (kind, _), (f, n) in sorted(tally.items()) if kind != "inserted"]
        out.append(f"{name}, found on localised films by size: " + (", ".join(parts) or "none localised"))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ct-dir", type=Path, default=Path("data/other-ct"))
    p.add_argument("--films", type=int, default=12, help="films per CT and rendering (every third normal)")
    p.add_argument("--seed0", type=int, default=0)
    p.add_argument("--renderings", default=",".join(RENDERINGS))
    p.add_argument("--cases", default=",".join(CASES), help="the CTs in --ct-dir (NAME_image.nrrd, NAME_label.nrrd)")
    p.add_argument("--sheet", type=Path, default=None, help="an overlay sheet (PNG) of the first films")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--misses", action="store_true", help="list each lesion >= 8 mm the answers missed, and why")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    result = run(args.ct_dir, args.films, args.seed0, tuple(args.renderings.split(",")), args.sheet,
                 tuple(args.cases.split(",")))
    print(summarise(result["rows"]))
    if args.misses:
        print(miss_lines(result["rows"]))
    print(f"\nweights: {result['weights']}; machine: {result['machine']}; {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
