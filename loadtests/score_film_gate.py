"""Score the film gate end to end: the generated corpus, and (for checking only) real films.

    .venv/bin/python -m loadtests.score_film_gate --seeds 700-739 --per-kind 10
    .venv/bin/python -m loadtests.score_film_gate --seeds 0-0 --per-kind 0 --real-dev REAL_DEV_DIR \
        --sheet loadtests/results/real_dev_sheet.png     # and an overlay sheet (loadtests/real_dev_sheet.py)

Every image goes through the whole engine as an upload would (``DialogueEngine.analyse_film``: decode, gate, the
readers, findings; then ``start_session`` on that analysis, the screening turn, as ``create_session`` does). The corpus
(``loadtests/film_corpus.py``) is tallied per category: refused (by reason), or accepted with the
orientation named and whether anything was localised. A real-film folder with a ``labels.json``
(``{file: {"label", "spine_x", ...}}``, spine_x in original pixels) is checked for what must hold
on any real film: accepted as an upright chest film, no finding or hilum on the wrong side of
the spine line, no implausible cardiothoracic ratio, findings per normal film, pneumonia films
with a finding, and where each hilum point lies in its hemithorax (``hila_placement``). Real films are never used to
set anything.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests import real_dev_sheet
from loadtests.film_corpus import CorpusItem, corpus
from loadtests.fit_film_gate import parse_seeds
from orchestrator.encoders.second_reader import WARNING as SECOND_READER_WARNING

CTR_STATED = re.compile(r"(cardiothoracic ratio[^.]*?\d\.\d+|心胸比约\d\.\d+)", re.IGNORECASE)
BLUNTED_STATED = re.compile(r"(right|left) costophrenic angle is blunted", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    refused: str | None  # the refusal's reason code
    film_check: dict[str, Any] | None = None
    findings: tuple[dict[str, Any], ...] = ()
    anchors: tuple[dict[str, Any], ...] = ()
    ctr: float | None = None  # the cardiothoracic ratio the first answer states
    blunted: tuple[str, ...] = ()  # the sides whose costophrenic angle the first answer calls blunted
    objects: int = 0  # dense objects the first answer set aside from the findings (drawn as ``dense_object``)
    frame: dict[str, Any] = field(default_factory=dict)
    facts: Any = None  # the ``ImageFacts`` the answers rest on (None: refused)

    @property
    def ctr_stated(self) -> bool:
        return self.ctr is not None

    @property
    def label(self) -> str:
        if self.refused:
            return f"refused:{self.refused}"
        fc = self.film_check or {}
        localised = "localised" if fc.get("anatomy_plausible") and fc.get("orientation") == "upright" else "withheld"
        return f"accepted:{fc.get('orientation')}:{localised}"


def run_one(engine: Any, data: bytes, filename: str) -> Outcome:
    from orchestrator.errors import NotAChestFilmError

    try:
        film = engine.analyse_film(data, filename, {}, "en")
    except NotAChestFilmError as exc:
        return Outcome(exc.reason)
    view = engine.start_session(film.facts, film.display_png, lang="en", source=film.source, frame=film.frame,
                                heatmap_png=film.heatmap_png, facts_json=film.facts_json)
    turn = view.turns[0]
    ctr = stated_ratio(turn.answer.text)
    blunted = tuple(sorted({m.group(1).lower() for m in BLUNTED_STATED.finditer(turn.answer.text)}))
    objects = sum(1 for o in turn.overlays if o["style"]["role"] == "dense_object")
    engine.close_session(view.session_id)
    return Outcome(None, turn.film_check, tuple(turn.findings), tuple(turn.anchors), ctr, blunted, objects=objects,
                   facts=film.facts)


def stated_ratio(text: str) -> float | None:
    """The cardiothoracic ratio an answer states, or None."""
    stated = CTR_STATED.search(text)
    return float(re.findall(r"\d\.\d+", stated.group(0))[-1]) if stated else None


def meets(item: CorpusItem, out: Outcome) -> bool:
    """The corpus's rule for one item (``film_corpus`` module docstring)."""
    fc = out.film_check or {}
    if item.expect == "accept":
        return out.refused is None and fc.get("orientation") == "upright"
    if item.expect == "refuse_or_name":
        return out.refused is not None or fc.get("orientation") == item.orientation
    if item.expect == "refuse_or_withhold":
        return out.refused is not None or not fc.get("anatomy_plausible", True)
    return out.refused is not None


def score_corpus(engine: Any, items: list[CorpusItem]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for item in items:
        out = run_one(engine, item.png, f"{item.name}.png")
        row = table.setdefault(item.category, {"n": 0, "met": 0, "outcomes": collections.Counter(), "failed": []})
        row["n"] += 1
        row["outcomes"][out.label] += 1
        if meets(item, out):
            row["met"] += 1
        else:
            row["failed"].append(item.name)
    return table


def labelled_films(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file name, its row) of a folder of real films with a ``labels.json``, in name order: films kept for
    checking, never for training or tuning."""
    return sorted(json.loads((folder / "labels.json").read_text(encoding="utf-8")).items())


def hila_placement(facts: Any, spine_x: float) -> dict[str, tuple[float, float] | None]:
    """Where each hilum point lies in its own hemithorax (the README of the real films asks for hilum points inside
    the mediastinal band): (across, down), across its distance from the spine line as a share of the way to its
    lung field's outer edge (0 on the spine line, 1 at the chest wall; a hilum lies at the mediastinum's edge, in the
    inner part), down its height in its lung field (0 at the apex, 1 at the lowest point of the field). None where the
    film gives no hilum or no lung field on that side. ``facts``: ``ImageFacts``; ``spine_x`` in the working frame."""
    lungs = {r.name: r.bbox_px for r in facts.anatomy.regions if r.name in ("lung_right", "lung_left")}
    out: dict[str, tuple[float, float] | None] = {}
    for side in ("right", "left"):
        point, box = facts.anatomy.hilum_px.get(side), lungs.get(f"lung_{side}")
        if point is None or box is None:
            out[side] = None
            continue
        x0, y0, x1, y1 = box
        outer = x0 if side == "right" else x1
        width, height = abs(outer - spine_x), y1 - y0
        out[side] = (round(abs(point[0] - spine_x) / width, 2) if width > 0 else float("nan"),
                     round((point[1] - y0) / height, 2) if height > 0 else float("nan"))
    return out


def score_real(engine: Any, folder: Path, sheet: Path | None = None) -> list[dict[str, Any]]:
    from orchestrator.findings.plausibility import map_entropy
    from orchestrator.imaging import decode_upload

    rows, tiles = [], []
    for name, lab in labelled_films(folder):
        data = (folder / name).read_bytes()
        out = run_one(engine, data, name)
        film = decode_upload(data, name, engine.settings)
        r = film.resampling
        spine_w = (lab["spine_x"] + r.pad_x) / r.scale  # the spine line in the working frame
        if sheet is not None:  # the maps the answer rests on: the alone reader's where the film was read alone
            fc = out.film_check or {}
            lone = engine.reads_alone_with
            alone = SECOND_READER_WARNING in fc.get("warnings", ()) and lone is not None
            maps = (lone if alone else engine.encoder).encode(film.image)
            tiles.append(real_dev_sheet.tile(maps, spine_w, f"{lab.get('label')}: {out.label} ({len(out.findings)})",
                                             out.findings, map_entropy(maps)))
        side_errors = sum(1 for f in out.findings if (f["center_px"][0] < spine_w) != (f["side"] == "right"))
        side_errors += sum(1 for a in out.anchors if a.get("kind") in ("anatomy", "point") and "hilum" in a.get("id", "") + str(a.get("label", ""))
                           and ("right" in str(a.get("label", "")).lower()) != (a["center_px"][0] < spine_w))
        fc = out.film_check or {}
        hila = hila_placement(out.facts, spine_w) if out.facts is not None else {}  # the answers' own analysis
        rows.append({"film": name, "label": lab.get("label"), "outcome": out.label, "findings": len(out.findings),
                     "objects": out.objects, "side_errors": side_errors, "ctr_stated": out.ctr_stated, "ctr": out.ctr, "blunted": list(out.blunted),
                     "warnings": fc.get("warnings", []), "hila": hila})
    if sheet is not None and tiles:
        real_dev_sheet.write_sheet(sheet, tiles)
    return rows


@contextlib.contextmanager
def served_engine() -> Iterator[Any]:
    """The dialogue engine as the service reads films (``orchestrator/server.py``): the main weights, the confirmer
    and the alone reader, closed after."""
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.encoders.factory import build_encoder, build_other_readers
    from orchestrator.settings import Settings

    settings = Settings()
    encoder, (second, lone) = build_encoder(settings), build_other_readers(settings)
    try:
        yield DialogueEngine(encoder, settings, second_reader=second, alone_reader=lone)
    finally:
        for part in (encoder, second, lone):
            if part is not None:
                part.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="700-739", help="phantom seeds for the transformed films, LO-HI")
    p.add_argument("--per-kind", type=int, default=10, help="images of each non-chest kind")
    p.add_argument("--real-dev", type=Path, default=None, help="a folder of real films with labels.json")
    p.add_argument("--sheet", type=Path, default=None, help="with --real-dev: write an overlay sheet (PNG) here")
    p.add_argument("--json", type=Path, default=None, help="write the tallies here")
    args = p.parse_args(argv)
    result: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"}
    with served_engine() as engine:
        items = list(corpus(parse_seeds(args.seeds), args.per_kind)) if args.per_kind or args.seeds != "0-0" else []
        table = score_corpus(engine, items)
        print("| category | images | rule met | outcomes |\n| --- | --- | --- | --- |")
        for cat, row in table.items():
            outcomes = ", ".join(f"{k} {v}" for k, v in row["outcomes"].most_common())
            print(f"| {cat} | {row['n']} | {row['met']} | {outcomes} |")
            if row["failed"]:
                print(f"|   failed: {' '.join(row['failed'][:12])} | | | |")
        result["corpus"] = {k: {**v, "outcomes": dict(v["outcomes"])} for k, v in table.items()}
        if args.real_dev:
            rows = score_real(engine, args.real_dev, args.sheet)
            print("\n| film | label | outcome | findings | objects set aside | side errors | ratio stated | angles called "
                  "blunted | hila (across, down): right; left | warnings |\n"
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for r in rows:
                hila = "; ".join("-" if (h := r["hila"].get(s)) is None else f"{h[0]:.2f}, {h[1]:.2f}"
                                 for s in ("right", "left")) if r["hila"] else "-"
                print(f"| {r['film']} | {r['label']} | {r['outcome']} | {r['findings']} | {r['objects']} | {r['side_errors']} | "
                      f"{r['ctr'] if r['ctr_stated'] else '-'} | {', '.join(r['blunted']) or '-'} | {hila} | "
                      f"{', '.join(r['warnings'])} |")
            result["real"] = rows
    print(f"\nmachine: {result['machine']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
