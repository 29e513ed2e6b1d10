"""Devices over the chest, scored as read: false findings per normal film for each kind, and recall beside them.

    .venv/bin/python -m loadtests.score_devices --seeds 50-109 [--kinds all] [--lesions] [--alone]
        [--second-reader W2] [--alone-reader W3] [--onnx W]

Every film is a phantom film (``encoder.phantom.generate_case``) with no lesion (``--lesion-mix none``), bare and then
with one kind of device at a time (``encoder/phantom/devices.py``: ECG electrodes, lines, tubes, sternotomy wires,
buttons, pacemakers), the same seeds each time, so a kind's row minus the bare row is what that kind adds. Read as the
service reads (``encoder.evaluate.evaluate``): the main weights' regions confirmed by the confirmer, a film the main
weights cannot localise read alone by the alone reader with its second look (``Settings``' weights unless named).
``--alone`` reads every film as a film the main weights cannot localise is read (the alone reader with its second
look), which is how every real checking film is read. ``--lesions`` adds a row per kind with the default lesion draw
(recall of lesions >= 8 mm within 5 mm, false positives per film): a reader quiet on devices must still find lesions
beside them. The scenario is declared here; the system under test is the engine's own reading. Validation seeds
(50-149) choose; test seeds report.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from loadtests.fit_film_gate import parse_seeds


def read(seeds: list[int], devices: str | None, lesions: bool, alone: bool, onnx: Path, second: Path,
         alone_reader: Path | None) -> dict[str, Any]:
    from encoder.evaluate import evaluate

    mix = None if lesions else "none"
    if alone:
        return evaluate(alone_reader or second, seeds, lesion_mix=mix, devices=devices, second_look=True)
    return evaluate(onnx, seeds, lesion_mix=mix, devices=devices, second_reader=second, second_reader_alone=True,
                    alone_reader=alone_reader)


def row(name: str, result: dict[str, Any], lesions: bool) -> str:
    les = result["lesions"]
    fp = les["false_positives_per_film"]
    alone = result.get("read_by_second_reader", "-")
    if lesions:
        recall = les["recall_ge_8mm"]
        return f"| {name} | {'n/a' if recall is None else f'{recall:.3f}'} | {fp:.2f} | {alone} |"
    return f"| {name} | {fp:.2f} | {alone} |"


def main(argv: list[str] | None = None) -> int:
    from encoder.phantom.devices import parse_kinds
    from orchestrator.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="50-109", help="phantom seeds, LO-HI (validation 50-149 to choose)")
    p.add_argument("--kinds", default="all", help="device kinds, as CaseSpec.devices takes them")
    p.add_argument("--lesions", action="store_true", help="also films with the default lesion draw, per kind")
    p.add_argument("--alone", action="store_true", help="read every film as a film read alone is read")
    p.add_argument("--onnx", type=Path, default=None, help="the main weights (default: the service's)")
    p.add_argument("--second-reader", type=Path, default=None, help="the confirmer (default: the service's)")
    p.add_argument("--alone-reader", type=Path, default=None, help="the alone reader (default: the service's)")
    args = p.parse_args(argv)
    settings = Settings()
    onnx = args.onnx or settings.onnx_path
    second = args.second_reader or settings.second_reader_onnx_path
    alone_reader = args.alone_reader or settings.alone_reader_onnx_path
    seeds = parse_seeds(args.seeds)
    how = (f"every film read alone by {alone_reader or second}" if args.alone
           else f"main {onnx}, confirmer {second}, alone reader {alone_reader}")
    print(f"seeds {args.seeds} ({len(seeds)} films per row); {how}\n")
    print("| devices | false findings per normal film | films read alone |\n| --- | --- | --- |")
    for kind in (None, *parse_kinds(args.kinds)):
        result = read(seeds, kind, False, args.alone, onnx, second, alone_reader)
        print(row(kind or "none (bare)", result, False), flush=True)
    if args.lesions:
        print("\n| devices | recall >= 8 mm (5 mm) | false positives per film | films read alone |\n| --- | --- | --- | --- |")
        for kind in (None, *parse_kinds(args.kinds)):
            result = read(seeds, kind, True, args.alone, onnx, second, alone_reader)
            print(row(kind or "none (bare)", result, True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
