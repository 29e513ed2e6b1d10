"""Phantom cases -> training targets, pre-generated to disk, loaded into memory for training.

Every film goes through :func:`orchestrator.contracts.preprocess.prepare_film`, the same normalisation that
serving uses; masks and points go through the same pad-to-square + resize geometry.

Seed ranges (disjoint, so evaluation never sees a training film):
    training    1000-1999   (``TRAIN_SEEDS``)
    evaluation  0-99        (``EVAL_SEEDS``; ``hilum evaluate --seeds 0-49`` by default)

A dataset may add one lesion of a given type to every case (``extra_lesion``, e.g. strands,
which the random draw gives only ~13% of films): the case keeps its random lesions and gets
one more. Such a set goes in its own directory, since its ``case_<seed>.npz`` differ from the
plain draw of the same seeds. The same holds for ``render`` (issue 21): a list of rendering
families (``encoder.phantom.rendering``, ``anatomy`` included) from which each case draws its own
rendering style, and for ``lesion_mix`` (``"varied"``: ``encoder.phantom.lesion_mix``).

One case on disk (``case_<seed>.npz``):
    image    (512, 512) float16   prepare_film(case.image)
    anatomy  (C, 128, 128) uint8  area fraction of each class per stride-4 cell, x255
    lesion   (256, 256) uint8     area fraction of lesion per stride-2 cell, x255
    hilum    (2, 2) float32       right/left hilum (x, y) in working pixels
    spacing  () float32           mm per working pixel
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from orchestrator.contracts.encoder import (
    ANATOMY_CLASSES,
    ANATOMY_STRIDE,
    HILUM_SIDES,
    INPUT_SIZE,
    LESION_STRIDE,
)
from orchestrator.contracts.preprocess import Resampling, prepare_film

log = logging.getLogger(__name__)

TRAIN_SEEDS = range(1000, 2000)
EVAL_SEEDS = range(0, 100)


def parse_seeds(spec: str) -> list[int]:
    """``"0-49"`` / ``"3,5,9"`` / ``"0-9,20-29"`` -> sorted seed list."""
    seeds: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = (int(v) for v in part.split("-", 1))
            seeds.update(range(lo, hi + 1))
        else:
            seeds.add(int(part))
    return sorted(seeds)


def format_seeds(seeds: Iterable[int]) -> str:
    """The inverse of :func:`parse_seeds`: runs of consecutive seeds as ranges, ``"0-49,200-399"``."""
    runs: list[list[int]] = []
    for seed in sorted(set(seeds)):
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    return ",".join(f"{lo}-{hi}" if hi > lo else str(lo) for lo, hi in runs)


def to_working_points(point: Sequence[float], resampling: Resampling) -> tuple[float, float]:
    """Original-film (x, y) -> working-image (x, y) (pad, then resize with half-pixel centres)."""
    x, y = float(point[0]), float(point[1])
    s = resampling.scale
    return (x + resampling.pad_x + 0.5) / s - 0.5, (y + resampling.pad_y + 0.5) / s - 0.5


def resize_masks(masks: np.ndarray, resampling: Resampling, size: int) -> np.ndarray:
    """(C, H, W) bool -> (C, size, size) float32 area fraction after the working geometry."""
    c, h, w = masks.shape
    side = max(h, w)
    square = np.zeros((side, side, c), dtype=np.float32)
    square[resampling.pad_y : resampling.pad_y + h, resampling.pad_x : resampling.pad_x + w] = np.transpose(
        masks, (1, 2, 0)
    )
    out = np.empty((c, size, size), dtype=np.float32)
    for start in range(0, c, 4):  # cv2 handles up to 4 channels per call everywhere
        chunk = square[:, :, start : start + 4]
        resized = cv2.resize(chunk, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
        out[start : start + chunk.shape[2]] = resized.reshape(size, size, -1).transpose(2, 0, 1)
    return out


@dataclass(frozen=True)
class CaseTargets:
    image: np.ndarray
    anatomy: np.ndarray
    lesion: np.ndarray
    hilum: np.ndarray
    spacing: float
    devices: np.ndarray | None = None  # (256, 256) soft: where devices lie, at the lesion head's resolution


def case_targets(case: Any) -> CaseTargets:
    """One phantom case -> the network's input and its training targets."""
    film, resampling = prepare_film(case.image)
    anatomy = resize_masks(np.asarray(case.masks, dtype=bool), resampling, INPUT_SIZE // ANATOMY_STRIDE)
    lesion = resize_masks(np.asarray(case.lesion_mask, dtype=bool)[None], resampling, INPUT_SIZE // LESION_STRIDE)[0]
    hilum = np.array([to_working_points(case.hilum_px[s], resampling) for s in HILUM_SIDES], dtype=np.float32)
    spacing = float(np.mean(case.pixel_spacing_mm)) * resampling.scale
    mask = getattr(case, "device_mask", None)
    devices = None if mask is None else resize_masks(np.asarray(mask, dtype=bool)[None], resampling,
                                                     INPUT_SIZE // LESION_STRIDE)[0]
    return CaseTargets(film, anatomy, lesion, hilum, spacing, devices)


def _quantise(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


Conspicuity = float | tuple[float, float] | None  # ``CaseSpec.conspicuity``


def case_spec(seed: int, extra_lesion: str | None, render: str | None = None, lesion_mix: str | None = None,
              conspicuity: Conspicuity = None, hidden: float | None = None,
              extra_mm: tuple[float, float] | None = None, devices: str | None = None,
              device_share: float = 1.0) -> Any:
    """The phantom spec for a training case: the seed's random lesions, plus one ``extra_lesion``;
    ``render``: the rendering families the case draws its style from (None: the phantom's own);
    ``lesion_mix``: the draw its lesions come from (None / "default": as always; "varied");
    ``conspicuity``: the lesions' contrast gain, fixed or drawn per lesion from a range (None: the phantom's x2);
    ``hidden``: the share of lesions placed behind the heart, mediastinum or a dome (None: on the open field);
    ``extra_mm``: the extra lesion's diameter drawn uniformly from this range (None: its type's own range);
    ``devices``, ``device_share``: the support devices and foreign bodies a share of films carries (None: none)."""
    from encoder.phantom.lesion_mix import check_mix

    mix = check_mix(lesion_mix)
    if (extra_lesion is None and render is None and mix is None and conspicuity is None and hidden is None
            and devices is None):
        return None
    from encoder.phantom.case import CaseSpec, case_lesion_specs
    from encoder.phantom.lesions import LesionSpec

    if extra_lesion is None:
        return CaseSpec(render=render, lesion_mix=mix, conspicuity=conspicuity, hidden=hidden, devices=devices,
                        device_share=device_share)
    # a stream of its own, reproducible per seed
    drawn = case_lesion_specs(CaseSpec(lesion_mix=mix), np.random.default_rng([seed, 17]))
    size = None if extra_mm is None else round(float(np.random.default_rng([seed, 18]).uniform(*extra_mm)), 1)
    return CaseSpec(lesions=(*drawn, LesionSpec(type=extra_lesion, diameter_mm=size)), render=render, lesion_mix=mix,
                    conspicuity=conspicuity, hidden=hidden, devices=devices, device_share=device_share)


def _write_case(args: tuple[int, str, str | None, dict[str, Any]]) -> str:
    """One case's npz: (seed, folder, extra lesion, the rest of ``case_spec``'s options by name)."""
    from encoder.phantom import generate_case

    seed, out_dir, extra_lesion, draw = args
    path = Path(out_dir) / f"case_{seed:05d}.npz"
    if path.is_file():
        return str(path)
    t = case_targets(generate_case(seed, case_spec(seed, extra_lesion, **draw)))
    tmp = path.with_suffix(".tmp.npz")
    extra = {} if t.devices is None else {"devices": _quantise(t.devices)}  # a device film's hard negatives
    np.savez_compressed(
        tmp, image=t.image.astype(np.float16), anatomy=_quantise(t.anatomy), lesion=_quantise(t.lesion),
        hilum=t.hilum, spacing=np.float32(t.spacing), seed=np.int64(seed), **extra,
    )
    tmp.rename(path)
    return str(path)


def generate_dataset(seeds: Iterable[int], out_dir: Path, workers: int = 2, extra_lesion: str | None = None,
                     **draw: Any) -> list[Path]:
    """Generate (or reuse) one npz per seed, in ``workers`` processes, with a progress bar. ``draw``: ``case_spec``'s
    options by name (render, lesion_mix, conspicuity, hidden, devices, device_share), passed to every case as given."""
    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    case_spec(0, extra_lesion, **draw)  # an unknown option or a bad value fails here, not in every worker
    jobs = [(s, str(out_dir), extra_lesion, draw) for s in seeds]
    if workers <= 1:
        return [Path(_write_case(j)) for j in tqdm(jobs, desc="phantom cases")]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [Path(p) for p in tqdm(pool.map(_write_case, jobs), total=len(jobs), desc="phantom cases")]


def _write_other_ct_case(args: tuple[int, str, str, str]) -> str:
    from encoder.phantom.other_ct import training_film

    seed, out_dir, ct_dir, name = args
    path = Path(out_dir) / f"case_{seed:05d}.npz"
    if path.is_file():
        return str(path)
    patient = _other_patient(ct_dir, name)
    t = training_film(patient, seed)
    film, resampling = prepare_film(t.image)
    masks = np.zeros((len(ANATOMY_CLASSES), *t.image.shape), dtype=bool)
    masks[ANATOMY_CLASSES.index("lung_right")] = t.lungs["right"]
    masks[ANATOMY_CLASSES.index("lung_left")] = t.lungs["left"]
    known = np.zeros(len(ANATOMY_CLASSES), dtype=np.uint8)
    known[[ANATOMY_CLASSES.index("lung_right"), ANATOMY_CLASSES.index("lung_left")]] = 1
    anatomy = resize_masks(masks, resampling, INPUT_SIZE // ANATOMY_STRIDE)
    lesion = resize_masks(t.lesion_mask[None], resampling, INPUT_SIZE // LESION_STRIDE)[0]
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, image=film.astype(np.float16), anatomy=_quantise(anatomy), lesion=_quantise(lesion),
        hilum=np.zeros((2, 2), dtype=np.float32), spacing=np.float32(t.spacing_mm * resampling.scale),
        seed=np.int64(seed), anatomy_known=known, hilum_known=np.uint8(0),
    )
    tmp.rename(path)
    return str(path)


_PATIENTS: dict[tuple[str, str], Any] = {}


def _other_patient(ct_dir: str, name: str) -> Any:
    """One prepared patient per process (preparing one takes ~10 s)."""
    from encoder.phantom.other_ct import load, prepare

    key = (ct_dir, name)
    if key not in _PATIENTS:
        _PATIENTS[key] = prepare(load(name, Path(ct_dir)))
    return _PATIENTS[key]


def generate_other_ct_dataset(seeds: Iterable[int], out_dir: Path, ct_dir: Path, name: str, workers: int = 2) -> list[Path]:
    """Training films of another patient's CT (``encoder.phantom.other_ct``): only the lung fields
    and the lesions are labelled; every other anatomy channel and the hila are marked unknown
    (``anatomy_known``, ``hilum_known``), and the losses leave them out."""
    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(s, str(out_dir), str(ct_dir), name) for s in seeds]
    if workers <= 1:
        return [Path(_write_other_ct_case(j)) for j in tqdm(jobs, desc=f"{name} films")]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [Path(p) for p in tqdm(pool.map(_write_other_ct_case, jobs, chunksize=8), total=len(jobs),
                                      desc=f"{name} films")]


@dataclass
class TrainingSet:
    images: np.ndarray  # (N, 512, 512) float16
    anatomy: np.ndarray  # (N, C, 128, 128) uint8
    lesion: np.ndarray  # (N, 256, 256) uint8
    hilum: np.ndarray  # (N, 2, 2) float32
    seeds: np.ndarray  # (N,)
    anatomy_known: np.ndarray | None = None  # (N, C) uint8: 1 where the channel is labelled (None: all)
    hilum_known: np.ndarray | None = None  # (N,) uint8 (None: all)
    # (N, 256, 256) uint8: where devices lie (``devices`` in a case's npz; zeros for a case without), loaded only when
    # training weighs them as hard negatives (``TrainConfig.device_weight`` > 0); None otherwise
    devices: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.anatomy_known is None:
            self.anatomy_known = np.ones(self.anatomy.shape[:2], dtype=np.uint8)
        if self.hilum_known is None:
            self.hilum_known = np.ones(self.anatomy.shape[0], dtype=np.uint8)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def load_dataset(*data_dirs: Path, limit: int | None = None, devices: bool = False) -> TrainingSet:
    """All ``case_*.npz`` of the given directories, in order; with ``devices``, where their devices lie."""
    paths = [p for d in data_dirs for p in sorted(d.glob("case_*.npz")) if not p.name.endswith(".tmp.npz")][:limit]
    if not paths:
        where = ", ".join(str(d) for d in data_dirs)
        raise FileNotFoundError(f"no case_*.npz in {where} (run `hilum train --generate N` first)")
    blobs = [np.load(p) for p in paths]
    return TrainingSet(
        images=np.stack([b["image"] for b in blobs]),
        anatomy=np.stack([b["anatomy"] for b in blobs]),
        lesion=np.stack([b["lesion"] for b in blobs]),
        hilum=np.stack([b["hilum"] for b in blobs]),
        seeds=np.array([int(b["seed"]) for b in blobs]),
        anatomy_known=np.stack([b["anatomy_known"] if "anatomy_known" in b else np.ones(b["anatomy"].shape[0], np.uint8)
                                for b in blobs]),
        hilum_known=np.array([int(b["hilum_known"]) if "hilum_known" in b else 1 for b in blobs], dtype=np.uint8),
        devices=(np.stack([b["devices"] if "devices" in b else np.zeros(b["lesion"].shape, np.uint8) for b in blobs])
                 if devices else None),
    )
