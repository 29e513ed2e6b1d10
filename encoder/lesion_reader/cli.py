"""``hilum train-reader`` and ``hilum evaluate-reader``. Heavy imports live in the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from orchestrator.settings import REPO_ROOT, Settings

DEFAULT_TRAIN = REPO_ROOT / "data" / "lesion-reader" / "train"
DEFAULT_EVAL = REPO_ROOT / "data" / "lesion-reader" / "eval"
DEFAULT_VAL = REPO_ROOT / "data" / "lesion-reader" / "val"
VAL_SEEDS = "100-149"  # validation: the margin temperature is fitted here, never on the test seeds 0-49
TEST_SEEDS = range(0, 50)
DEFAULT_WEIGHTS = REPO_ROOT / "encoder" / "weights" / "lesion-reader" / "lesion_reader.pt"
TRAIN_SEEDS = "3000-3399"  # held out for evaluation: 0-99 (the default of evaluate-reader: 0-49)


def parse_seeds(spec: str) -> list[int]:
    """``"0-49,60,70-72"`` -> the seeds; ``ValueError`` with the reason otherwise."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi) if hi else int(lo)
        if a < 0 or b < a:
            raise ValueError(f"bad seed range {part!r}")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise ValueError("no seeds given")
    return seeds


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    tr = subparsers.add_parser("train-reader", help="train the lesion reader on detector-resolution phantom crops")
    tr.add_argument("--seeds", default=TRAIN_SEEDS, help="phantom seeds to render (skips seeds already saved)")
    tr.add_argument("--per-film", type=int, default=6, help="lesions rendered per seed's anatomy")
    tr.add_argument("--data-dir", type=Path, default=DEFAULT_TRAIN)
    tr.add_argument("--workers", type=int, default=2, help="processes rendering crops")
    tr.add_argument("--generate-only", action="store_true")
    tr.add_argument("--no-generate", action="store_true", help="train on the seeds already saved in --data-dir")
    tr.add_argument("--follow", action="store_true",
                    help="with --no-generate: reload --data-dir every 2 min (seeds still being rendered beside the run)")
    tr.add_argument("--time-budget-min", type=float, default=14.0)
    tr.add_argument("--steps", type=int, default=None, help="fixed step count instead of the time budget")
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--threads", type=int, default=2)
    tr.add_argument("--device", default="cpu", help="cpu or cuda")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--weights-out", type=Path, default=DEFAULT_WEIGHTS)
    tr.add_argument("--init-from", type=Path, default=None, help="continue from this checkpoint (a new schedule)")
    tr.add_argument("--mask-blur-px", type=float, default=None,
                    help="blur the coarse-mask channel by this (0.25 mm pixels; ReaderConfig.mask_blur_px)")
    tr.add_argument("--onnx-out", type=Path, default=None, help="default: beside --weights-out, lesion_reader.onnx")
    tr.add_argument("--log", type=Path, default=None, help="JSON lines of the loss (default: beside the weights)")
    tr.set_defaults(handler=handle_train)

    ev = subparsers.add_parser("evaluate-reader", help="score the lesion reader on held-out seeds")
    ev.add_argument("--seeds", default="0-49", help="held-out seeds (training uses 3000-3399)")
    ev.add_argument("--per-film", type=int, default=6)
    ev.add_argument("--data-dir", type=Path, default=DEFAULT_EVAL)
    ev.add_argument("--workers", type=int, default=2)
    ev.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="torch checkpoint")
    ev.add_argument("--onnx", type=Path, default=None, help="score the ONNX model through the embedded client instead")
    ev.add_argument("--threads", type=int, default=2)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=handle_evaluate)

    ca = subparsers.add_parser("calibrate-reader", help="fit the margin head's temperature on validation seeds")
    ca.add_argument("--seeds", default=VAL_SEEDS, help="validation seeds (the test seeds 0-49 are refused)")
    ca.add_argument("--per-film", type=int, default=6)
    ca.add_argument("--data-dir", type=Path, default=DEFAULT_VAL)
    ca.add_argument("--workers", type=int, default=2)
    ca.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="torch checkpoint (rewritten with T)")
    ca.add_argument("--onnx-out", type=Path, default=None, help="default: beside --weights, lesion_reader.onnx")
    ca.add_argument("--threads", type=int, default=2)
    ca.set_defaults(handler=handle_calibrate)


def _paths(args: argparse.Namespace) -> list[Path]:
    from encoder.lesion_reader.crops import generate

    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        raise SystemExit(f"error: --seeds: {exc}") from None
    if getattr(args, "no_generate", False):
        paths = sorted(args.data_dir.glob("seed_*.npz"))
        if not paths:
            raise SystemExit(f"error: no saved seeds in {args.data_dir}")
        return paths
    return generate(seeds, args.per_film, args.data_dir, workers=args.workers)


def handle_train(args: argparse.Namespace, settings: Settings) -> int:
    from encoder.lesion_reader.crops import load_examples
    from encoder.lesion_reader.network import load_reader
    from encoder.lesion_reader.train import TrainConfig, train
    from export.lesion_reader import export_onnx, parity

    paths = _paths(args)
    if args.generate_only:
        print(f"{len(paths)} seeds in {args.data_dir}")
        return 0
    data = load_examples(paths)
    cfg = TrainConfig(time_budget_min=args.time_budget_min, steps=args.steps, batch_size=args.batch_size,
                      lr=args.lr, threads=args.threads, seed=args.seed, device=args.device)
    log_path = args.log or args.weights_out.with_name("train_log.jsonl")
    refresh = (lambda: load_examples(sorted(args.data_dir.glob("seed_*.npz")))) if args.follow else None
    from dataclasses import replace

    init = load_reader(args.init_from).train() if args.init_from else None
    if init is not None:  # a continued run trains uncalibrated logits: calibrate-reader fits T afterwards
        init.config = replace(init.config, margin_temperature=1.0)
    config = None
    if args.mask_blur_px is not None:
        from encoder.lesion_reader.network import LesionReaderNet, ReaderConfig

        if init is not None:
            init.config = replace(init.config, mask_blur_px=args.mask_blur_px)
        else:
            config = ReaderConfig(mask_blur_px=args.mask_blur_px)
            init = LesionReaderNet(config)
    result = train(data, cfg, args.weights_out, log_path=log_path, refresh=refresh, init_from=init)
    onnx_out = args.onnx_out or args.weights_out.with_name("lesion_reader.onnx")
    export_onnx(load_reader(args.weights_out), onnx_out)
    diff = parity(load_reader(args.weights_out), onnx_out, data[0][:4].astype("float32"))
    print(json.dumps({**result, "onnx": str(onnx_out), "parity_max_abs": diff}, indent=2))
    return 0


def handle_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from encoder.lesion_reader.evaluate import evaluate, onnx_predictor, torch_predictor

    paths = _paths(args)
    if args.onnx is not None:
        if not args.onnx.is_file():
            print(f"error: {args.onnx} not found", file=sys.stderr)
            return 2
        predict = onnx_predictor(args.onnx, args.threads)
    else:
        if not args.weights.is_file():
            print(f"error: {args.weights} not found (train with `hilum train-reader`)", file=sys.stderr)
            return 2
        predict = torch_predictor(args.weights, args.threads)
    result = evaluate(paths, predict)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:48s} {value}")
    return 0


def handle_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from encoder.lesion_reader.calibrate import calibrate
    from encoder.lesion_reader.network import load_reader
    from export.lesion_reader import export_onnx, parity

    if set(parse_seeds(args.seeds)) & set(TEST_SEEDS):
        print("error: --seeds: the test seeds 0-49 are for scoring, not fitting", file=sys.stderr)
        return 2
    if not args.weights.is_file():
        print(f"error: {args.weights} not found", file=sys.stderr)
        return 2
    paths = _paths(args)
    result = calibrate(args.weights, paths, args.threads)
    onnx_out = args.onnx_out or args.weights.with_name("lesion_reader.onnx")
    export_onnx(load_reader(args.weights), onnx_out)
    from encoder.lesion_reader.crops import load_examples

    diff = parity(load_reader(args.weights), onnx_out, load_examples(paths[:1])[0][:4].astype("float32"))
    print(json.dumps({**result, "onnx": str(onnx_out), "parity_max_abs": diff}, indent=2))
    return 0
