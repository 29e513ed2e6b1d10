"""``hilum export onnx|tensorrt|repository`` and ``hilum triton``. Heavy imports live in the handlers."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from orchestrator.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = REPO_ROOT / "encoder" / "weights" / "anatomy_encoder.pt"


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    export = subparsers.add_parser("export", help="export the encoder: ONNX, TensorRT, Triton repository")
    sub = export.add_subparsers(dest="export_target", metavar="TARGET")

    onnx_p = sub.add_parser("onnx", help="checkpoint -> ONNX (dynamic batch), parity-checked against torch")
    onnx_p.add_argument("--checkpoint", type=Path, action="append", default=None,
                        help=f"default: {DEFAULT_CHECKPOINT.relative_to(REPO_ROOT)}; given more than once, one network "
                             "whose outputs are the checkpoints' mean (an ensemble, encoder.network.MeanOfNets)")
    onnx_p.add_argument("--out", type=Path, default=None, help="default: settings.onnx_path")
    onnx_p.add_argument("--random-init", action="store_true", help="export randomly initialised weights")
    onnx_p.add_argument("--seed", type=int, default=0)
    onnx_p.add_argument("--parity-films", type=int, default=2)
    onnx_p.set_defaults(handler=handle_onnx)

    trt_p = sub.add_parser("tensorrt", help="ONNX -> TensorRT plan (profile 1/8/32), parity vs ONNX")
    trt_p.add_argument("--onnx", type=Path, default=None, help="default: settings.onnx_path")
    trt_p.add_argument("--out", type=Path, default=None, help="default: a plan beside the ONNX file")
    trt_p.add_argument("--fp16", action="store_true")
    trt_p.add_argument("--min-batch", type=int, default=1)
    trt_p.add_argument("--opt-batch", type=int, default=8)
    trt_p.add_argument("--max-batch", type=int, default=32)
    trt_p.set_defaults(handler=handle_tensorrt)

    repo_p = sub.add_parser("repository", help="write model_repository/anatomy_encoder/")
    repo_p.add_argument("--target", choices=("cpu", "tensorrt"), default="cpu")
    repo_p.add_argument("--model-file", type=Path, default=None, help="ONNX (cpu) or plan (tensorrt)")
    repo_p.add_argument("--out", type=Path, default=None, help="default: settings.model_repository")
    repo_p.add_argument("--instances", type=int, default=None)
    repo_p.add_argument("--intra-op-threads", type=int, default=None)
    repo_p.add_argument("--max-queue-delay-us", type=int, default=None)
    repo_p.add_argument("--no-dynamic-batching", action="store_true")
    policy = repo_p.add_mutually_exclusive_group()
    policy.add_argument("--queue-policy", dest="queue_policy", action="store_const", const=True, default=None,
                        help="write the REJECT queue policy (the TensorRT default): Triton bounds its own queue, "
                             "at a cost in throughput on a CPU Triton (see RepositoryConfig.queue_policy)")
    policy.add_argument("--no-queue-policy", dest="queue_policy", action="store_const", const=False,
                        help="leave it out (the CPU default): each orchestrator still sends at most "
                             "encoder_queue_size films")
    repo_p.set_defaults(handler=handle_repository)

    triton = subparsers.add_parser("triton", help="start a local Triton on model_repository/")
    triton.add_argument("--grpc-port", type=int, default=8001)
    triton.add_argument("--http-port", type=int, default=8000)
    triton.add_argument("--metrics-port", type=int, default=8002)
    triton.add_argument("--model-repository", type=Path, default=None)
    triton.set_defaults(handler=handle_triton)


def handle_onnx(args: argparse.Namespace, settings: Settings) -> int:
    import torch

    from encoder.network import build_network, count_flops
    from export.onnx import PARITY_TOLERANCE, export_onnx, load_members, parity, parity_films

    out = args.out or settings.onnx_path
    if args.random_init:
        torch.manual_seed(args.seed)
        model = build_network().eval()
        print(f"random-initialised network (seed {args.seed})")
    else:
        checkpoints = args.checkpoint or [DEFAULT_CHECKPOINT]
        missing = [p for p in checkpoints if not p.is_file()]
        if missing:
            print(f"checkpoint not found: {missing[0]} (train first, or pass --random-init)")
            return 2
        model = load_members(checkpoints)
        if len(checkpoints) > 1:
            print(f"an ensemble of {len(checkpoints)} checkpoints: each output their mean")
    export_onnx(model, out)
    diff = parity(model, out, parity_films(args.parity_films))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {count_flops(model)['flops'] / 1e9:.2f} GFLOP/film)")
    print(f"parity torch vs ONNX Runtime: max abs difference {diff:.2e} (tolerance {PARITY_TOLERANCE:.0e})")
    if diff > PARITY_TOLERANCE:
        print("FAIL: parity above tolerance")
        return 1
    return 0


def handle_tensorrt(args: argparse.Namespace, settings: Settings) -> int:
    from export.tensorrt import (
        FP16_TOLERANCE,
        FP32_TOLERANCE,
        Profile,
        build_engine,
        parity_vs_onnx,
        tensorrt_unavailable_reason,
    )

    reason = tensorrt_unavailable_reason()
    if reason:
        print(f"TensorRT export not possible here: {reason}")
        return 3
    from export.onnx import parity_films

    onnx_path = args.onnx or settings.onnx_path
    plan = args.out or onnx_path.with_suffix(".fp16.plan" if args.fp16 else ".plan")
    profile = Profile(args.min_batch, args.opt_batch, args.max_batch)
    build_engine(onnx_path, plan, profile, fp16=args.fp16)
    import numpy as np

    films = np.stack(parity_films(2))[:, None]
    diff = parity_vs_onnx(plan, onnx_path, films)
    tol = FP16_TOLERANCE if args.fp16 else FP32_TOLERANCE
    print(f"wrote {plan}; parity TensorRT vs ONNX: max abs difference {diff:.2e} (tolerance {tol:.0e})")
    return 0 if diff <= tol else 1


def handle_repository(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from export.repository import RepositoryConfig, write_repository

    cfg = RepositoryConfig(target=args.target, model_name=settings.triton_model_name)
    overrides = {
        "instances": args.instances, "intra_op_threads": args.intra_op_threads,
        "max_queue_delay_us": args.max_queue_delay_us,
    }
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if args.no_dynamic_batching:
        cfg = replace(cfg, dynamic_batching=False)
    if args.queue_policy is not None:
        cfg = replace(cfg, queue_policy=args.queue_policy)
    model_file = args.model_file or (
        settings.onnx_path if args.target == "cpu" else settings.onnx_path.with_suffix(".plan")
    )
    model_dir = write_repository(args.out or settings.model_repository, cfg, model_file)
    print(f"wrote {model_dir} (target {args.target})")
    # the second reader (orchestrator/encoders/second_reader.py) and the weights that read a film alone, where they
    # are others, beside it, configured alike, each from its own weights
    from orchestrator.encoders.factory import ALONE_READER_MODEL, SECOND_READER_MODEL, alone_weights

    for name, weights in ((SECOND_READER_MODEL, settings.second_reader_onnx_path),
                          (ALONE_READER_MODEL, alone_weights(settings))):
        if weights is None:
            continue
        weights = weights if args.target == "cpu" else weights.with_suffix(".plan")
        if not weights.is_file():
            print(f"no {name} written: {weights} not found")
            continue
        other_dir = write_repository(args.out or settings.model_repository, replace(cfg, model_name=name), weights)
        print(f"wrote {other_dir} (target {args.target})")
    return 0


def handle_triton(args: argparse.Namespace, settings: Settings) -> int:
    import signal
    import threading

    from export.triton_server import TritonPorts, TritonServer

    repository = args.model_repository or settings.model_repository
    ports = TritonPorts(grpc=args.grpc_port, http=args.http_port, metrics=args.metrics_port)
    server = TritonServer(repository, ports, binary=settings.triton_bin)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.start()
        print(f"Triton ready: gRPC {server.grpc_url}, HTTP {server.http_url}, metrics {server.metrics_url}")
        print(f"use it with: hilum serve --encoder triton://{server.grpc_url}   (log: {server.log_path})")
        while not stop.is_set() and server.alive():
            stop.wait(0.5)
        if not server.alive():
            print(f"tritonserver exited unexpectedly:\n{server.log_tail()}")
            return 1
    finally:
        server.stop()
    print("Triton stopped")
    return 0
