"""Training the anatomy encoder on pre-generated phantom cases, within a CPU time budget.

Losses (summed):
- anatomy: BCE-with-logits against the soft (area-fraction) targets + soft Dice per class
  (Dice keeps thin/small classes such as trachea, hilum and clavicles from being ignored);
- lesion: BCE with a positive weight (lesions cover <1% of a film) + soft Dice. The BCE is
  *instance-balanced*: each truth lesion's pixels (and a 2-pixel ring around it) are weighted
  up by ``LESION_REF_AREA_PX / area`` (1 to ``LESION_MAX_BOOST``), so a 9 mm nodule or a thin
  strand counts about as much as an effusion instead of ~1/50 of it; plain pixel BCE and a
  batch Dice are both dominated by the largest opacity in the batch;
- hilum: cross-entropy of each channel's spatial softmax against a Gaussian target
  (sigma 1.5 cells = 6 px), so the heatmap's peak is the point.

Reproducible from ``--seed``: initialisation, batch order and augmentation all come from one
generator (with ``loader_workers`` > 0, from one generator per step, ``default_rng([seed, step])``,
so worker processes can build batches ahead and the run does not depend on how many there are).
``device="cuda"`` trains on a GPU; the batches are still built on the CPU (by the workers).
With ``--time-budget-min`` the number of steps is fixed after the first steps from the measured
speed and stored in the checkpoint; pass ``--steps N`` to replay a run exactly.
Checkpoints (model, optimizer, step, RNG state) every few minutes; ``--resume`` continues.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from encoder.dataset import TrainingSet, load_dataset
from encoder.field_of_view import zoom_in, zoom_out
from encoder.lung_texture import add_texture
from encoder.network import AnatomyEncoderNet, NetworkConfig, build_network, frozen_modules
from encoder.visible_lungs import visible_lung_fields
from orchestrator.contracts.encoder import ANATOMY_STRIDE, HILUM_STRIDE, LESION_STRIDE

log = logging.getLogger(__name__)

HILUM_SIGMA_CELLS = 1.5
LESION_POS_WEIGHT = 8.0
HILUM_LOSS_WEIGHT = 0.2
LESION_REF_AREA_PX = 400.0  # at the lesion head's 1/2 resolution: an opacity ~35 mm across
LESION_MAX_BOOST = 8.0
LESION_RING_PX = 2
SHIFT_STEP = 4  # shifts in multiples of the coarsest stride keep targets exact


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    out_dir: Path
    weights_out: Path
    time_budget_min: float = 45.0
    steps: int | None = None
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 2
    checkpoint_every_min: float = 5.0
    max_shift_px: int = 24
    zoom_out_p: float = 0.0  # share of samples zoomed out to a wider field of view (encoder/field_of_view.py)
    zoom_in_p: float = 0.0  # share of the others enlarged and cropped (encoder/field_of_view.py)
    texture_p: float = 0.0  # share of samples given normal lung texture, ribs and vessels (encoder/lung_texture.py)
    # the lesion loss's extra weight on a pixel where a device lies (sets generated with --devices; 0: none)
    device_weight: float = 0.0
    visible_lungs: bool = False  # lung targets stop at the diaphragm (encoder/visible_lungs.py)
    resume: bool = False
    init_from: Path | None = None  # start from these weights (fresh optimizer and schedule)
    extra_data_dirs: tuple[Path, ...] = ()  # more case_*.npz, e.g. a set with an extra strand per case
    device: str = "cpu"  # "cuda" for a GPU
    loader_workers: int = 0  # processes building batches ahead (0: in the training loop)
    # architecture: init_from's (or the default) with these fields changed, e.g. (("lesion", 32),);
    # with init_from, the tensors whose shape still matches are copied
    network_changes: tuple[tuple[str, int], ...] = ()
    # train one part alone ("lesion": encoder.network.LESION_BRANCH), the rest frozen as init_from made it
    train_only: str | None = None


# --- augmentation ------------------------------------------------------------------------------------
def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift the last two axes by (dy, dx) pixels, zero fill."""
    out = np.zeros_like(a)
    h, w = a.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = a[..., ys, xs]
    return out


def augment_sample(
    data: TrainingSet, index: int, rng: np.random.Generator, max_shift: int, zoom_out_p: float = 0.0,
    texture_p: float = 0.0, zoom_in_p: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One sample with a random translation (multiple of 4 px) and intensity jitter; with probability
    ``texture_p`` first given normal lung texture (``encoder.lung_texture``: its targets unchanged), with
    probability ``zoom_out_p`` zoomed out to a wider field of view, and, if not, with probability ``zoom_in_p``
    enlarged and cropped (``encoder.field_of_view``). With all three 0 the generator draws exactly what it
    drew before the options existed."""
    image = data.images[index].astype(np.float32)
    anatomy = data.anatomy[index].astype(np.float32) / 255.0
    lesion = data.lesion[index].astype(np.float32) / 255.0
    if data.devices is not None:  # the devices ride with the lesion target through every move: (2, H/2, W/2)
        lesion = np.stack([lesion, data.devices[index].astype(np.float32) / 255.0])
    hilum = data.hilum[index].copy()
    if texture_p > 0 and rng.random() < texture_p:
        image = add_texture(image, anatomy, hilum, rng)
    if zoom_out_p > 0 and rng.random() < zoom_out_p:
        image, anatomy, lesion, hilum = zoom_out(image, anatomy, lesion, hilum, rng)
    elif zoom_in_p > 0 and rng.random() < zoom_in_p:
        image, anatomy, lesion, hilum = zoom_in(image, anatomy, lesion, hilum, rng)
    steps = max_shift // SHIFT_STEP
    dy, dx = (int(v) * SHIFT_STEP for v in rng.integers(-steps, steps + 1, size=2))
    if dy or dx:
        image = _shift(image, dy, dx)
        anatomy = _shift(anatomy, dy // ANATOMY_STRIDE, dx // ANATOMY_STRIDE)
        lesion = _shift(lesion, dy // LESION_STRIDE, dx // LESION_STRIDE)
        hilum = hilum + np.array([dx, dy], dtype=np.float32)
    gamma = float(np.exp(rng.uniform(-0.3, 0.3)))
    contrast, brightness = rng.uniform(0.85, 1.15), rng.uniform(-0.05, 0.05)
    image = np.clip(image, 0.0, 1.0) ** gamma * contrast + brightness
    image = image + rng.normal(0.0, rng.uniform(0.0, 0.02), size=image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0).astype(np.float32), anatomy, lesion, hilum


def lesion_target_and_weights(lesion: np.ndarray, device_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """An augmented sample's lesion target and its per-pixel BCE weights: ``lesion`` is the target, or (target,
    devices) where a set carries where devices lie; a device pixel's weight is raised by ``device_weight`` (a hard
    negative: metal over a lung is no lesion, and a few hundred such pixels are otherwise a small share of the loss)."""
    if lesion.ndim == 2:
        return lesion, lesion_pixel_weights(lesion)
    target, devices = lesion[0], lesion[1]
    return target, lesion_pixel_weights(target) * (1.0 + device_weight * devices * (target < 0.5))


def lesion_pixel_weights(lesion: np.ndarray) -> np.ndarray:
    """(H, W) soft lesion target -> per-pixel BCE weights, boosting small lesions (see module doc)."""
    positive = (lesion >= 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(positive, connectivity=8)
    boost = np.ones(count, dtype=np.float32)
    if count > 1:
        areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float32)
        boost[1:] = np.clip(LESION_REF_AREA_PX / areas, 1.0, LESION_MAX_BOOST)
    weights = boost[labels]
    size = 2 * LESION_RING_PX + 1
    return cv2.dilate(weights, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))


def make_batch(
    data: TrainingSet, indices: np.ndarray, rng: np.random.Generator, max_shift: int, zoom_out_p: float = 0.0,
    texture_p: float = 0.0, device_weight: float = 0.0, zoom_in_p: float = 0.0,
) -> dict[str, torch.Tensor]:
    samples = [augment_sample(data, int(i), rng, max_shift, zoom_out_p, texture_p, zoom_in_p) for i in indices]
    assert data.anatomy_known is not None and data.hilum_known is not None
    lesions = [lesion_target_and_weights(s[2], device_weight) for s in samples]
    return {
        "anatomy_known": torch.from_numpy(data.anatomy_known[indices].astype(np.float32)),
        "hilum_known": torch.from_numpy(data.hilum_known[indices].astype(np.float32)),
        "image": torch.from_numpy(np.stack([s[0] for s in samples])[:, None]),
        "anatomy": torch.from_numpy(np.stack([s[1] for s in samples])),
        "lesion": torch.from_numpy(np.stack([t for t, _ in lesions])[:, None]),
        "lesion_weight": torch.from_numpy(np.stack([w for _, w in lesions])[:, None]),
        "hilum": torch.from_numpy(np.stack([s[3] for s in samples])),
    }


class StepBatches(torch.utils.data.Dataset):
    """Batch number ``step`` of a run, built from its own generator ``default_rng([seed, step])``:
    any process can build any step's batch, so worker processes build them ahead, in order."""

    def __init__(self, data: TrainingSet, seed: int, batch_size: int, max_shift: int, zoom_out_p: float = 0.0,
                 texture_p: float = 0.0, device_weight: float = 0.0, zoom_in_p: float = 0.0) -> None:
        self.data, self.seed, self.batch_size, self.max_shift = data, seed, batch_size, max_shift
        self.zoom_out_p, self.texture_p, self.device_weight = zoom_out_p, texture_p, device_weight
        self.zoom_in_p = zoom_in_p

    def __len__(self) -> int:  # steps are unbounded; the sampler says which ones are built
        return 2**62

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step])
        indices = rng.choice(len(self.data), size=min(self.batch_size, len(self.data)), replace=False)
        return make_batch(self.data, indices, rng, self.max_shift, self.zoom_out_p, self.texture_p, self.device_weight,
                          self.zoom_in_p)


def _single_thread_worker(_: int) -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def batch_stream(data: TrainingSet, cfg: TrainConfig, state: TrainState) -> Iterator[dict[str, torch.Tensor]]:
    """Training batches from ``state.step`` on: in this process, or from ``cfg.loader_workers`` processes."""
    if cfg.loader_workers > 0:
        loader = torch.utils.data.DataLoader(
            StepBatches(data, cfg.seed, cfg.batch_size, cfg.max_shift_px, cfg.zoom_out_p, cfg.texture_p,
                        cfg.device_weight, cfg.zoom_in_p), batch_size=None,
            sampler=itertools.count(state.step), num_workers=cfg.loader_workers, prefetch_factor=4,
            pin_memory=cfg.device.startswith("cuda"), worker_init_fn=_single_thread_worker,
            # spawned, not forked: a fork copies whatever locks the parent's threads held (OpenMP,
            # grpc, logging) and a worker can hang on one; the cases are pickled to each worker once
            multiprocessing_context="spawn",
        )
        yield from loader
        return
    order = np.empty(0, dtype=np.int64)
    while True:
        if order.size < cfg.batch_size:
            order = np.concatenate([order, state.rng.permutation(len(data))])
        indices, order = order[: cfg.batch_size], order[cfg.batch_size :]
        yield make_batch(data, indices, state.rng, cfg.max_shift_px, cfg.zoom_out_p, cfg.texture_p, cfg.device_weight,
                         cfg.zoom_in_p)


# --- losses ------------------------------------------------------------------------------------------
def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0,
                   known: torch.Tensor | None = None) -> torch.Tensor:
    """1 - Dice per (class), summed over batch and space; classes absent from the batch count less.
    ``known`` (N, C): 1 where a sample's channel is labelled; unlabelled ones add nothing."""
    p = torch.sigmoid(logits)
    if known is not None:
        m = known[:, :, None, None]
        p, target = p * m, target * m
    dims = (0, 2, 3)
    inter = (p * target).sum(dims)
    denom = p.sum(dims) + target.sum(dims)
    return (1.0 - (2.0 * inter + eps) / (denom + eps)).mean()


def hilum_target(points: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """(N, 2, 2) working-pixel (x, y) -> (N, 2, size*size) Gaussian distributions on the grid."""
    grid = torch.arange(size, dtype=torch.float32, device=points.device)
    centre = (points + 0.5) / stride - 0.5  # grid coordinates
    gx = torch.exp(-0.5 * ((grid[None, None, :] - centre[..., 0:1]) / HILUM_SIGMA_CELLS) ** 2)
    gy = torch.exp(-0.5 * ((grid[None, None, :] - centre[..., 1:2]) / HILUM_SIGMA_CELLS) ** 2)
    g = (gy[..., :, None] * gx[..., None, :]).flatten(2)
    return g / g.sum(-1, keepdim=True).clamp_min(1e-12)


def compute_losses(outputs: tuple[torch.Tensor, ...], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Anatomy, lesion and hilum losses. A batch may mark channels and hila it does not label
    (``anatomy_known`` (N, C), ``hilum_known`` (N,): films of another patient's CT label only the
    lungs and the lesions); those add nothing. Fully labelled batches give the plain means."""
    anatomy, lesion, hilum = outputs
    pos_weight = torch.tensor(LESION_POS_WEIGHT, device=lesion.device)
    known = batch.get("anatomy_known")
    if known is None:
        anat_bce = F.binary_cross_entropy_with_logits(anatomy, batch["anatomy"])
    else:
        m = known[:, :, None, None].expand_as(anatomy)
        bce = F.binary_cross_entropy_with_logits(anatomy, batch["anatomy"], reduction="none")
        anat_bce = (bce * m).sum() / m.sum().clamp_min(1.0)
    losses = {
        "anat": anat_bce + soft_dice_loss(anatomy, batch["anatomy"], known=known),
        "les": F.binary_cross_entropy_with_logits(
            lesion, batch["lesion"], weight=batch.get("lesion_weight"), pos_weight=pos_weight
        )
        + soft_dice_loss(lesion, batch["lesion"]),
    }
    target = hilum_target(batch["hilum"], hilum.shape[-1], HILUM_STRIDE)
    log_p = F.log_softmax(hilum.flatten(2), dim=-1)
    per_point = -(target * log_p).sum(-1)  # (N, 2)
    hk = batch.get("hilum_known")
    if hk is None:
        losses["hil"] = per_point.mean() * HILUM_LOSS_WEIGHT
    else:
        losses["hil"] = (per_point * hk[:, None]).sum() / (2.0 * hk.sum()).clamp_min(1.0) * HILUM_LOSS_WEIGHT
    losses["total"] = losses["anat"] + losses["les"] + losses["hil"]
    return losses


# --- the loop ----------------------------------------------------------------------------------------
def learning_rate(step: int, total: int, base: float, warmup: int = 50) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@dataclass
class TrainState:
    model: AnatomyEncoderNet
    optimizer: torch.optim.Optimizer
    rng: np.random.Generator
    step: int = 0
    total_steps: int | None = None
    elapsed_s: float = 0.0


def save_checkpoint(state: TrainState, cfg: TrainConfig) -> Path:
    path = cfg.out_dir / "checkpoint.pt"
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    blob = {
        "model": state.model.state_dict(), "config": asdict(state.model.config),
        "optimizer": state.optimizer.state_dict(), "rng": state.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(), "step": state.step, "total_steps": state.total_steps,
        "elapsed_s": state.elapsed_s, "train_config": {k: str(v) for k, v in asdict(cfg).items()},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.rename(path)
    return path


def copy_matching(model: AnatomyEncoderNet, source: dict[str, torch.Tensor]) -> int:
    """Load the tensors of ``source`` whose name and shape match ``model``'s; the rest keep their init."""
    own = model.state_dict()
    matched = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    return len(matched)


def init_state(cfg: TrainConfig) -> TrainState:
    torch.manual_seed(cfg.seed)
    resume = cfg.out_dir / "checkpoint.pt"
    blob = torch.load(resume, map_location="cpu", weights_only=False) if cfg.resume and resume.is_file() else None
    source = None
    if blob is None and cfg.init_from is not None:
        from export.onnx import load_checkpoint

        source = load_checkpoint(cfg.init_from)
    if blob is not None:  # resume: the run's own architecture
        config = NetworkConfig.from_dict(blob["config"])
    else:  # init_from's (else the default), with the changes asked for
        config = replace(source.config if source is not None else NetworkConfig(), **dict(cfg.network_changes))
    model = build_network(config).to(cfg.device, memory_format=torch.channels_last)  # ~1.8x faster on CPU
    for module in frozen_modules(model, cfg.train_only):
        module.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = TrainState(model, optimizer, np.random.default_rng(cfg.seed), total_steps=cfg.steps)
    if blob is not None:
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        state.rng.bit_generator.state = blob["rng"]
        torch.set_rng_state(blob["torch_rng"])
        state.step, state.elapsed_s = blob["step"], blob["elapsed_s"]
        state.total_steps = cfg.steps or blob["total_steps"]
        log.info("resumed from %s at step %d (%.1f min used)", resume, state.step, state.elapsed_s / 60)
    elif source is not None:
        copied = copy_matching(model, source.state_dict())
        log.info("initialised %d of %d tensors from %s (new optimizer and schedule)",
                 copied, len(model.state_dict()), cfg.init_from)
    return state


def _fix_total_steps(state: TrainState, cfg: TrainConfig, step_times: list[float]) -> None:
    """After a few steps, turn the time budget into a step count (kept for resume/replay)."""
    if state.total_steps is None and len(step_times) >= 10:
        per_step = float(np.median(step_times[2:]))
        remaining = cfg.time_budget_min * 60.0 - state.elapsed_s
        state.total_steps = state.step + max(1, int(remaining / per_step * 0.97))
        log.info("%.2f s/step -> %d steps in the budget", per_step, state.total_steps)


def train(cfg: TrainConfig) -> dict[str, Any]:
    from tqdm import tqdm

    from export.onnx import save_weights

    torch.set_num_threads(cfg.threads)
    data = load_dataset(cfg.data_dir, *cfg.extra_data_dirs, devices=cfg.device_weight > 0)
    if cfg.visible_lungs:
        data = visible_lung_fields(data)
    log.info("%d training cases from %s (seeds %d-%d)", len(data), ", ".join(map(str, (cfg.data_dir, *cfg.extra_data_dirs))),
             data.seeds.min(), data.seeds.max())
    state = init_state(cfg)
    model = state.model.train()
    for module in frozen_modules(model, cfg.train_only):
        module.eval()  # frozen: batch-norm statistics as init_from left them
    budget_s = cfg.time_budget_min * 60.0
    step_times: list[float] = []
    last_ckpt = time.monotonic()
    if cfg.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    batches = batch_stream(data, cfg, state)
    bar = tqdm(desc="train", initial=state.step, total=state.total_steps, mininterval=20.0)
    running: dict[str, float] = {}
    while (state.total_steps is None or state.step < state.total_steps) and state.elapsed_s < budget_s:
        t0 = time.monotonic()
        batch = {k: v.to(cfg.device, non_blocking=True) for k, v in next(batches).items()}
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
        for group in state.optimizer.param_groups:
            group["lr"] = learning_rate(state.step, state.total_steps or 10_000, cfg.lr)
        losses = compute_losses(model(batch["image"]), batch)
        state.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        state.optimizer.step()
        state.step += 1
        dt = time.monotonic() - t0
        state.elapsed_s += dt
        step_times.append(dt)
        _fix_total_steps(state, cfg, step_times)
        bar.total = state.total_steps
        values = {k: float(v.detach()) for k, v in losses.items()}
        running = {k: 0.9 * running.get(k, v) + 0.1 * v for k, v in values.items()}
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()}, refresh=False)
        bar.update(1)
        if time.monotonic() - last_ckpt > cfg.checkpoint_every_min * 60.0:
            save_checkpoint(state, cfg)
            last_ckpt = time.monotonic()
    bar.close()
    batches.close()  # stops the loader's workers
    save_checkpoint(state, cfg)
    meta = {"steps": state.step, "elapsed_min": round(state.elapsed_s / 60, 1), "seed": cfg.seed,
            "cases": len(data), "losses": {k: round(v, 4) for k, v in running.items()},
            "device": cfg.device, "init_from": str(cfg.init_from) if cfg.init_from else None,
            "zoom_out_p": cfg.zoom_out_p, "zoom_in_p": cfg.zoom_in_p, "texture_p": cfg.texture_p, "visible_lungs": cfg.visible_lungs,
            "train_only": cfg.train_only, "device_weight": cfg.device_weight}
    export_model = build_network(model.config)
    export_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    save_weights(export_model.eval(), cfg.weights_out, meta)
    log.info("done: %s -> %s", meta, cfg.weights_out)
    return meta
