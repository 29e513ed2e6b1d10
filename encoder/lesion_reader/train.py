"""Training the lesion reader on detector-resolution phantom crops (``encoder/lesion_reader/crops.py``).

CPU budget: a wall-clock limit (``time_budget_min``) with the learning rate on a cosine over that
time, batches drawn at random from the saved crops and turned by one of the eight symmetries of
the square (the clock-hour labels turned with them: :func:`dihedral`), their film channel's look
randomised (:func:`randomise_film`). Truth enters only as targets.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from encoder.lesion_reader.network import LesionReaderNet, ReaderConfig, gaussian_kernel, save_reader
from orchestrator.contracts.lesion_reader import CLOCK_HOURS, MARGINS

log = logging.getLogger(__name__)
CLOCK = len(CLOCK_HOURS)


# --- targets -------------------------------------------------------------------------------------


def hour_vector(hours: list[int] | list[float], values: list[float] | None = None) -> np.ndarray:
    """12-vector with ``values`` (default 1) at the given clock hours (index h - 1)."""
    out = np.zeros(CLOCK, np.float32)
    for i, h in enumerate(hours):
        out[(int(round(h)) - 1) % CLOCK] = 1.0 if values is None else float(values[i])
    return out


def targets(truths: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Truth dicts (crops.py) -> per-example target arrays."""
    return {
        "margin": np.array([MARGINS.index(t["margin"]) for t in truths], np.int64),
        "notch": np.stack([hour_vector(t["notches_clock"]) for t in truths]),
        "spicule": np.stack([hour_vector(t["spicule_clock"]) for t in truths]),
        "length": np.stack([hour_vector(t["spicule_clock"], t["spicule_lengths_mm"]) for t in truths]),
        "count": np.array([t["spicule_count"] for t in truths], np.float32),
        "calcified": np.array([t["calcified"] for t in truths], np.float32),
        "cavity": np.array([t["cavitation"] for t in truths], np.float32),
        "diameter": np.array([t["diameter_mm"] for t in truths], np.float32),
    }


# --- the eight symmetries of the square, and what they do to clock hours ---------------------------


def hour_map(op: int) -> np.ndarray:
    """Index map for op in 0..7 (k = op % 4 quarter turns counter-clockwise, then a left-right
    mirror if op >= 4): ``new[m[i]] = old[i]`` for hour index i (hour i + 1)."""
    hours = np.arange(1, CLOCK + 1)
    turned = (hours - 3 * (op % 4)) % CLOCK  # a counter-clockwise quarter turn moves hour h to h - 3
    if op >= 4:
        turned = (-turned) % CLOCK  # mirror left-right: h -> 12 - h
    turned = np.where(turned == 0, CLOCK, turned)
    return turned - 1


def dihedral(x: torch.Tensor, op: int) -> torch.Tensor:
    """Apply op (see :func:`hour_map`) to images [..., H, W]."""
    y = torch.rot90(x, op % 4, dims=(-2, -1)) if op % 4 else x
    return torch.flip(y, dims=(-1,)) if op >= 4 else y


def permute_hours(v: torch.Tensor, op: int) -> torch.Tensor:
    out = torch.empty_like(v)
    out[..., torch.as_tensor(hour_map(op))] = v
    return out


# --- the loop ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    time_budget_min: float = 14.0
    steps: int | None = None
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 2
    log_every: int = 20
    device: str = "cpu"  # "cuda" on a GPU machine (encoder/gpu_train.sh READER=1)


LOSS_WEIGHTS = {"mask": 1.0, "margin": 1.0, "notch": 0.5, "spicule": 0.5, "length": 0.05, "count": 0.3,
                "calcified": 0.5, "cavity": 0.5, "diameter": 1.0}


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    return (1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)).mean()


def losses(out: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    spic = tgt["spicule"]
    return {
        "mask": F.binary_cross_entropy_with_logits(out["mask"], tgt["mask"]) + dice_loss(out["mask"], tgt["mask"]),
        "margin": F.cross_entropy(out["margin"], tgt["margin"]),
        "notch": F.binary_cross_entropy_with_logits(out["notch_clock"], tgt["notch"]),
        "spicule": F.binary_cross_entropy_with_logits(out["spicule_clock"], spic),
        "length": (torch.abs(out["spicule_length_mm"] - tgt["length"]) * spic).sum() / spic.sum().clamp(min=1.0),
        "count": F.smooth_l1_loss(out["spicule_count"][:, 0], tgt["count"]),
        "calcified": F.binary_cross_entropy_with_logits(out["calcification"][:, 0], tgt["calcified"]),
        "cavity": F.binary_cross_entropy_with_logits(out["cavity"][:, 0], tgt["cavity"]),
        "diameter": torch.abs(torch.log(out["diameter_mm"][:, 0]) - torch.log(tgt["diameter"])).mean(),
    }


def make_batch(crops: np.ndarray, masks: np.ndarray, tg: dict[str, np.ndarray], idx: np.ndarray,
               rng: np.random.Generator, randomise: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x = torch.from_numpy(crops[idx].astype(np.float32))
    m = torch.from_numpy(masks[idx].astype(np.float32))[:, None]
    t = {k: torch.from_numpy(v[idx]) for k, v in tg.items()}
    ops = rng.integers(0, 8, len(idx))
    for i, op in enumerate(ops):
        if op:
            x[i] = dihedral(x[i], int(op))
            m[i] = dihedral(m[i], int(op))
            for key in ("notch", "spicule", "length"):
                t[key][i] = permute_hours(t[key][i], int(op))
    # brightness / contrast of the film channel: exposure and processing vary between films
    gain = torch.from_numpy(rng.uniform(0.85, 1.15, (len(idx), 1, 1)).astype(np.float32))
    bias = torch.from_numpy(rng.uniform(-0.06, 0.06, (len(idx), 1, 1)).astype(np.float32))
    x[:, 0] = (x[:, 0] * gain + bias).clamp(0.0, 1.0)
    if randomise:
        x[:, 0] = randomise_film(x[:, 0], rng)
    t["mask"] = m
    return x, t


def _blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of one [H, W] image (reflect padding)."""
    k = gaussian_kernel(sigma)
    r = (len(k) - 1) // 2
    y = F.pad(img[None, None], (r, r, r, r), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    return F.conv2d(y, k.view(1, 1, -1, 1))[0, 0]


def randomise_film(films: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Per crop, each at random: a LUT gamma, detector blur, edge enhancement (unsharp mask) of a
    vendor's strength, and quantum-like noise: the crop-level counterpart of the encoder's
    rendering families (``encoder/phantom/rendering.py``), so the reader does not learn one
    display chain's look as a constant. Blur stays below ~0.4 mm (1.5 px at 0.25 mm): spicules
    1-2 mm wide remain in the pixels, so the margin label stays true."""
    out = films.clone()
    for i in range(out.shape[0]):
        img = out[i]
        if rng.random() < 0.5:
            img = img.clamp(0.0, 1.0) ** float(rng.uniform(0.7, 1.4))
        if rng.random() < 0.5:
            img = _blur(img, float(rng.uniform(0.4, 1.5)))
        if rng.random() < 0.3:
            amount, sigma = float(rng.uniform(0.3, 1.5)), float(rng.uniform(2.0, 6.0))
            img = img + amount * (img - _blur(img, sigma))
        if rng.random() < 0.5:
            noise = torch.from_numpy(rng.normal(0.0, rng.uniform(0.004, 0.03), img.shape).astype(np.float32))
            img = img + noise
        out[i] = img.clamp(0.0, 1.0)
    return out


Data = tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]


def train(data: Data, cfg: TrainConfig, weights_out: Path, config: ReaderConfig | None = None,
          log_path: Path | None = None, refresh: Callable[[], Data] | None = None,
          refresh_every_s: float = 120.0, init_from: LesionReaderNet | None = None) -> dict[str, Any]:
    """``refresh`` (optional): called every ``refresh_every_s`` to pick up examples still being
    rendered beside the run (``hilum train-reader --follow``); ``init_from``: continue from these
    weights (its architecture; a new optimiser and schedule), e.g. the previous session's checkpoint."""
    crops, masks, truths = data
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    tg = targets(truths)
    model = (init_from if init_from is not None else LesionReaderNet(config)).to(cfg.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    budget = cfg.time_budget_min * 60.0
    start = time.monotonic()
    step, history = 0, []
    last_refresh = start
    sink = open(log_path, "a") if log_path else None  # noqa: SIM115 - closed below
    try:
        while True:
            elapsed = time.monotonic() - start
            frac = step / cfg.steps if cfg.steps else elapsed / budget
            if frac >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = cfg.lr * (0.5 * (1 + math.cos(math.pi * frac)) * 0.97 + 0.03) * min(1.0, (step + 1) / 50)
            if refresh is not None and time.monotonic() - last_refresh > refresh_every_s:
                crops, masks, truths = refresh()
                tg = targets(truths)
                last_refresh = time.monotonic()
                log.info("refreshed: %d examples", len(crops))
            idx = rng.integers(0, len(crops), cfg.batch_size)
            x, t = make_batch(crops, masks, tg, idx, rng)
            if cfg.device != "cpu":
                x, t = x.to(cfg.device, non_blocking=True), {k: v.to(cfg.device, non_blocking=True) for k, v in t.items()}
            model.train()
            out = model.named_outputs(x)
            parts = losses(out, t)
            total = sum(LOSS_WEIGHTS[k] * v for k, v in parts.items())
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            if step % cfg.log_every == 0:
                row = {"step": step, "s": round(time.monotonic() - start, 1), "loss": round(float(total.detach()), 4),
                       **{k: round(float(v.detach()), 4) for k, v in parts.items()}}
                history.append(row)
                log.info("%s", row)
                if sink:
                    sink.write(json.dumps(row) + "\n")
                    sink.flush()
    finally:
        if sink:
            sink.close()
    meta = {"steps": step, "continued": init_from is not None, "examples": len(crops), "seeds": len({t["seed"] for t in truths}), "seconds": round(time.monotonic() - start, 1),
            "batch_size": cfg.batch_size, "lr": cfg.lr, "seed": cfg.seed, "device": cfg.device}
    save_reader(model.cpu().eval(), weights_out, meta)
    return {**meta, "last": history[-1] if history else None}
