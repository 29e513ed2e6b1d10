"""``hilum train`` and ``hilum evaluate``. Heavy imports (torch, the phantom) live in the handlers."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.settings import REPO_ROOT, Settings

DEFAULT_DATA = REPO_ROOT / "data" / "phantom-train"
DEFAULT_RUN = REPO_ROOT / "data" / "train-run"
LESION_TYPES = (  # encoder.phantom.case.TYPE_WEIGHTS (not imported here: the CLI starts light)
    "nodule", "mass", "strand", "consolidation", "calcified_nodule", "cavity", "effusion")
RENDER_FAMILIES = (  # encoder.phantom.rendering.FAMILIES (not imported here, as above)
    "attenuation", "scatter", "detector", "processing", "grid", "collimation", "annotation", "rotation", "padding",
    "anatomy")
LESION_MIXES = ("default", "varied", "none")  # encoder.phantom.lesion_mix.LESION_MIXES
DEVICE_KINDS = ("ecg", "line", "tube", "wires", "button", "pacemaker")  # encoder.phantom.devices.DEVICE_KINDS
DEFAULT_WEIGHTS = REPO_ROOT / "encoder" / "weights" / "anatomy_encoder.pt"


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    train = subparsers.add_parser("train", help="train the anatomy encoder on phantom cases (CPU budget)")
    train.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="pre-generated case_*.npz")
    train.add_argument("--also-data", type=Path, action="append", default=[], metavar="DIR",
                       help="train on the cases in DIR as well (repeatable)")
    train.add_argument("--generate", type=int, default=0, help="first generate N cases (seeds 1000, 1001, ...)")
    train.add_argument("--first-seed", type=int, default=None,
                       help="first seed for --generate (default 1000; the training range is 1000-1999)")
    train.add_argument("--extra-lesion", choices=LESION_TYPES, default=None,
                       help="--generate: add one lesion of this type to every case (use its own --data-dir)")
    train.add_argument("--extra-lesion-mm", type=size_range_arg, default=None, metavar="LO,HI",
                       help="--extra-lesion: its diameter drawn uniformly from LO-HI mm (default: its type's range)")
    train.add_argument("--render-families", default=None, metavar="LIST",
                       help="--generate: each case draws a rendering style from these families ('all' or "
                            f"a comma list of {', '.join(RENDER_FAMILIES)}; use its own --data-dir)")
    train.add_argument("--hold-out-family", action="append", default=[], choices=RENDER_FAMILIES, metavar="NAME",
                       help="--render-families: never draw this family (repeatable; e.g. scatter)")
    train.add_argument("--lesion-mix", choices=LESION_MIXES, default="default",
                       help="--generate: the lesions drawn per case ('varied': a third normal, ground glass to "
                            "calcified, 4-60 mm, multiple masses, lobar/patchy consolidation; use its own --data-dir)")
    train.add_argument("--conspicuity", type=conspicuity_arg, default=None, metavar="GAIN|LO,HI",
                       help="--generate: the lesions' contrast gain (default: the phantom's 2; 1: physical contrast; "
                            "LO,HI: drawn per lesion, log-uniform; use its own --data-dir)")
    train.add_argument("--hidden", type=share_arg, default=None, metavar="SHARE",
                       help="--generate: the share of lesions placed behind the heart, mediastinum or a dome where "
                            "their lobe reaches there (default: none, all on the open lung field; use its own --data-dir)")
    train.add_argument("--devices", type=devices_arg, default=None, metavar="KINDS",
                       help="--generate: support devices and foreign bodies on a share of films ('all', "
                            f"'all,-pacemaker' or a comma list of {', '.join(DEVICE_KINDS)}; use its own --data-dir)")
    train.add_argument("--device-share", type=share_arg, default=0.5, metavar="SHARE",
                       help="--devices: the share of films that carry any (default 0.5)")
    train.add_argument("--other-ct", default=None, metavar="NAME",
                       help="--generate: films of another patient's CT instead of the phantom (lung1 or lung2, "
                            "fetched by `python -m encoder.phantom.other_ct fetch`; only lungs and lesions labelled)")
    train.add_argument("--other-ct-dir", type=Path, default=Path("data/other-ct"), metavar="DIR")
    train.add_argument("--generate-only", action="store_true", help="generate the dataset and stop")
    train.add_argument("--workers", type=int, default=2, help="processes for dataset generation")
    train.add_argument("--time-budget-min", type=float, default=45.0)
    train.add_argument("--steps", type=int, default=None, help="fixed step count (replays a run exactly)")
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--lr", type=float, default=3e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=2)
    train.add_argument("--device", default="cpu", help="torch device, e.g. cuda (batches are still built on the CPU)")
    train.add_argument("--loader-workers", type=int, default=0,
                       help="processes that build batches ahead (0: in the loop; >0 draws each step's batch "
                            "from its own seeded generator)")
    train.add_argument("--zoom-out", type=float, default=0.0, metavar="P",
                       help="share of samples zoomed out to a wider field of view: the chest smaller in the frame, "
                            "the body continued around it (encoder/field_of_view.py); 0: off")
    train.add_argument("--zoom-in", type=float, default=0.0, metavar="P",
                       help="share of the samples not zoomed out that are enlarged x1.05-1.3 and cropped, both hila "
                            "kept in the frame (encoder/field_of_view.py); 0: off")
    train.add_argument("--texture", type=float, default=0.0, metavar="P",
                       help="share of samples given normal lung texture that is no lesion: crisp ribs, vessels from "
                            "the hila, fine markings (encoder/lung_texture.py); 0: off")
    train.add_argument("--device-weight", type=float, default=0.0, metavar="W",
                       help="the lesion loss's extra weight on a pixel where a device lies (sets generated with "
                            "--devices record where; encoder/phantom/devices.py): hard negatives; 0: off")
    train.add_argument("--visible-lungs", action="store_true",
                       help="lung targets stop at the diaphragm, as a film shows a lung field (encoder/visible_lungs.py)")
    train.add_argument("--train-only", choices=("lesion",), default=None,
                       help="with --init-from: train the lesion branch alone, the trunk, anatomy and hilum heads "
                            "frozen as they are (their maps unchanged)")
    train.add_argument("--lesion-channels", type=int, default=None,
                       help="lesion-head width (default: --init-from's, else 16); with --init-from the rest is copied")
    train.add_argument("--lesion-fine-blocks", type=int, default=None,
                       help="separable blocks at 1/2 resolution in the lesion head (default: --init-from's, else 1)")
    train.add_argument("--out-dir", type=Path, default=DEFAULT_RUN, help="checkpoints (resume from here)")
    train.add_argument("--weights-out", type=Path, default=DEFAULT_WEIGHTS)
    start = train.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the run in --out-dir (optimizer, step, schedule)")
    start.add_argument("--init-from", type=Path, default=None,
                       help="start from these weights (e.g. encoder/weights/anatomy_encoder.pt): new optimizer, new schedule")
    train.set_defaults(handler=handle_train)

    ev = subparsers.add_parser("evaluate", help="Dice / lesion / hilum metrics on held-out phantom seeds")
    ev.add_argument("--seeds", default="0-49", help="e.g. 0-49 (training uses 1000-1999)")
    ev.add_argument("--onnx", type=Path, default=None, help="default: settings.onnx_path")
    ev.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    ev.add_argument("--gate-off", action="store_true",
                    help="evaluate the checkpoint with the anatomy gate on the lesion head forced open")
    ev.add_argument("--checkpoint", type=Path, default=DEFAULT_WEIGHTS, help="for --gate-off")
    ev.add_argument("--threads", type=int, default=2)
    ev.add_argument("--render", default=None, metavar="LIST",
                    help="films drawn through these rendering families (e.g. a family held out of training: "
                         "scatter, or anatomy); geometry-moving 'padding' is not scored")
    ev.add_argument("--lesion-mix", choices=LESION_MIXES, default="default",
                    help="the lesions each film draws ('varied': a third of films normal, ...; "
                         "'none': every film normal)")
    ev.add_argument("--conspicuity", type=conspicuity_arg, default=None, metavar="GAIN|LO,HI",
                    help="the lesions' contrast gain (default: the phantom's 2; 1: physical contrast, as the other "
                         "patients' films insert nodules)")
    ev.add_argument("--hidden", type=share_arg, default=None, metavar="SHARE",
                    help="the share of lesions placed behind the heart, mediastinum or a dome (1: all that can be; "
                         "the table then counts them by what hides them)")
    ev.add_argument("--devices", type=devices_arg, default=None, metavar="KINDS",
                    help="support devices and foreign bodies on the films ('all', 'pacemaker', 'ecg,button', ...); "
                         "false findings on them are counted")
    ev.add_argument("--device-share", type=share_arg, default=1.0, metavar="SHARE",
                    help="--devices: the share of films that carry any (default 1: every film)")
    ev.add_argument("--second-look", action="store_true",
                    help="read the maps as a service with HILUM_SECOND_LOOK does (a region kept only if the film "
                         "encoded at two other scales finds it again); the FROC keeps the served gate only")
    ev.add_argument("--second-reader", type=Path, default=None, metavar="ONNX",
                    help="read the maps as a service with this second reader does (a region kept only where the "
                         "second reader sees it too)")
    ev.add_argument("--second-reader-alone", action=argparse.BooleanOptionalAction, default=True,
                    help="with --second-reader: films the main weights cannot localise read by the second reader "
                         "alone, with its second look, as served (HILUM_SECOND_READER_READS_ALONE, on by default); "
                         "--no-second-reader-alone scores them on the main maps")
    ev.add_argument("--alone-reader", type=Path, default=None, metavar="ONNX",
                    help="with --second-reader: the weights that read those films alone (HILUM_ALONE_READER_ONNX_PATH; "
                         "default: the second reader)")
    ev.add_argument("--misses", action="store_true",
                    help="also list each lesion >= 8 mm the 5 mm rule missed (seed, type, size, side, whether a "
                         "region lies on it, the nearest region, whether the second reader read the film alone)")
    ev.set_defaults(handler=handle_evaluate)


def handle_train(args: argparse.Namespace, settings: Settings) -> int:
    from encoder.dataset import TRAIN_SEEDS, generate_dataset

    if args.generate:
        first = TRAIN_SEEDS.start if args.first_seed is None else args.first_seed
        seeds = list(range(first, first + args.generate))
        if not set(seeds) <= set(TRAIN_SEEDS):
            print(f"refusing: seeds {seeds[0]}-{seeds[-1]} leave the training range {TRAIN_SEEDS.start}-{TRAIN_SEEDS.stop - 1}")
            return 2
        render = render_families(args)
        mix = lesion_mix(args)
        if args.other_ct:
            from encoder.dataset import generate_other_ct_dataset

            print(f"another patient's CT: {args.other_ct}", flush=True)
            generate_other_ct_dataset(seeds, args.data_dir, args.other_ct_dir, args.other_ct, workers=args.workers)
        else:
            for name, value in (("rendering families", render), ("lesion mix", mix),
                                ("lesion conspicuity", args.conspicuity), ("hidden lesions", args.hidden),
                                ("devices", args.devices and f"{args.devices} on {args.device_share:.0%} of films")):
                if value is not None:  # before the cases: a time-boxed generation may be cut short
                    print(f"{name}: {value}", flush=True)
            generate_dataset(seeds, args.data_dir, workers=args.workers, extra_lesion=args.extra_lesion,
                             render=render, lesion_mix=mix, conspicuity=args.conspicuity, hidden=args.hidden,
                             extra_mm=args.extra_lesion_mm, devices=args.devices, device_share=args.device_share)
        print(f"dataset: {len(seeds)} cases (seeds {seeds[0]}-{seeds[-1]}) in {args.data_dir}")
        if args.generate_only:
            return 0
    from encoder.train import TrainConfig, train

    if args.train_only and not (args.init_from or args.resume):
        print("refusing: --train-only keeps the rest of the network as --init-from made it; name those weights")
        return 2
    cfg = TrainConfig(
        network_changes=network_changes(args),
        device=args.device, loader_workers=args.loader_workers,
        data_dir=args.data_dir, out_dir=args.out_dir, weights_out=args.weights_out,
        time_budget_min=args.time_budget_min, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, threads=args.threads, resume=args.resume, init_from=args.init_from,
        extra_data_dirs=tuple(args.also_data), zoom_out_p=args.zoom_out, zoom_in_p=args.zoom_in, texture_p=args.texture,
        device_weight=args.device_weight,
        visible_lungs=args.visible_lungs, train_only=args.train_only,
    )
    meta = train(cfg)
    print(f"trained {meta['steps']} steps in {meta['elapsed_min']} min -> {args.weights_out}")
    print("next: hilum export onnx && hilum export repository && hilum evaluate --seeds 0-49")
    return 0


def render_families(args: argparse.Namespace) -> str | None:
    """--render-families minus --hold-out-family, as the comma list ``CaseSpec.render`` takes."""
    if args.render_families is None:
        if args.hold_out_family:
            raise SystemExit("--hold-out-family needs --render-families")
        return None
    items = [s.strip() for s in args.render_families.split(",") if s.strip()]
    chosen = set(RENDER_FAMILIES) if any(s in ("all", "random") for s in items) else set(items)
    unknown = chosen - set(RENDER_FAMILIES)
    if unknown:
        raise SystemExit(f"unknown rendering families {sorted(unknown)}; known: {', '.join(RENDER_FAMILIES)}")
    kept = [f for f in RENDER_FAMILIES if f in chosen and f not in args.hold_out_family]
    if not kept:
        raise SystemExit("--render-families: every family is held out")
    return ",".join(kept)


def conspicuity_arg(text: str) -> float | tuple[float, float]:
    """--conspicuity: one gain, or LO,HI (``CaseSpec.conspicuity``)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("a gain, or LO,HI") from None
    if len(values) not in (1, 2) or not 0.0 < min(values) <= max(values) <= 4.0 or values != sorted(values):
        raise argparse.ArgumentTypeError("a gain, or LO,HI with LO <= HI, within (0, 4]")
    return values[0] if len(values) == 1 else (values[0], values[1])


def size_range_arg(text: str) -> tuple[float, float]:
    """--extra-lesion-mm: LO,HI in mm, 3 <= LO <= HI <= 80."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("LO,HI in mm") from None
    if not 3.0 <= lo <= hi <= 80.0:
        raise argparse.ArgumentTypeError("LO,HI in mm with 3 <= LO <= HI <= 80")
    return lo, hi


def share_arg(text: str) -> float:
    """--hidden: a share within [0, 1] (``CaseSpec.hidden``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a share within [0, 1]") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a share within [0, 1]")
    return value


def devices_arg(text: str) -> str:
    """--devices: device kinds as ``CaseSpec.devices`` takes them."""
    from encoder.phantom.devices import parse_kinds

    try:
        parse_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def lesion_mix(args: argparse.Namespace) -> str | None:
    """--lesion-mix as ``CaseSpec.lesion_mix`` takes it (None: the default draw)."""
    mix = getattr(args, "lesion_mix", None)
    return None if mix in (None, "default") else str(mix)


def network_changes(args: argparse.Namespace) -> tuple[tuple[str, int], ...]:
    """The architecture fields the flags change (on top of --init-from's, or the default)."""
    return tuple((k, v) for k, v in (("lesion", args.lesion_channels), ("lesion_fine_blocks", args.lesion_fine_blocks))
                 if v is not None)


def handle_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    import tempfile

    from encoder.dataset import TRAIN_SEEDS, parse_seeds
    from encoder.evaluate import evaluate, format_table, write_json

    seeds = parse_seeds(args.seeds)
    overlap = sorted(set(seeds) & set(TRAIN_SEEDS))
    if overlap:
        print(f"refusing: seeds {overlap[0]}... overlap the training range {TRAIN_SEEDS.start}-{TRAIN_SEEDS.stop - 1}")
        return 2
    onnx_path = args.onnx or settings.onnx_path
    with tempfile.TemporaryDirectory() as tmp:
        if args.gate_off:
            from export.onnx import export_onnx, load_checkpoint

            model = load_checkpoint(args.checkpoint)
            model.gate_enabled = False
            onnx_path = export_onnx(model, Path(tmp) / "gate_off.onnx")
        items = [i.strip() for i in (args.render or "").split(",")]
        if "padding" in items or ({"all", "random"} & set(items) and "-padding" not in items):
            print("refusing: the padding family changes the film's frame, which the scorer does not follow "
                  "(e.g. --render all,-padding)")
            return 2
        result = evaluate(onnx_path, seeds, threads=args.threads, render=args.render, lesion_mix=lesion_mix(args),
                          conspicuity=args.conspicuity, hidden=args.hidden, devices=args.devices,
                          device_share=args.device_share, second_look=args.second_look,
                          second_reader=args.second_reader,
                          second_reader_alone=args.second_reader_alone, alone_reader=args.alone_reader)
    result["gate"] = "off" if args.gate_off else "on"
    print(format_table(result, misses=args.misses))
    if args.json:
        write_json(result, args.json)
        print(f"wrote {args.json}")
    return 0
