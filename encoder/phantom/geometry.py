"""Projection geometry of one case: an oblique parallel beam onto a coronal detector.

A ray through detector point ``(u, w)`` (mm; ``u`` towards the patient's left, ``w`` up)
passes through ``x = u + (y - yc) * tan(yaw)``, ``z = w + (y - yc) * tan(tilt)``: ``yaw``
is a small rotation of the patient about the vertical axis, ``tilt`` a small lordotic tilt.
With ``yaw = tilt = 0`` this is the plain antero-posterior sum. Because the detector is
the coronal plane, detector millimetres are patient millimetres at every depth: pixel
spacing is exact.

The film is cut from the detector by an affine map (centre, pixel size, small in-plane
rotation) and then an inspiration warp stretches the rows below the hila by ``inspiration``
(a breath-depth stand-in; rows above ``pivot_row`` are unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Geometry:
    size: int
    spacing_mm: float  # output pixel size (rows and columns)
    centre_u_mm: float  # detector point at the image centre
    centre_d_mm: float  # same, as distance down from the top of the CT (mm)
    roll_deg: float  # in-plane rotation
    yaw_deg: float
    tilt_deg: float
    centre_y_mm: float  # AP rotation centre
    inspiration: float  # row stretch below pivot_row (1 = none)
    pivot_row: float
    dx: float  # detector grid spacing of the slab images (columns)
    dz: float  # (rows)
    grid_rows: int  # slab image rows (K)

    # -- 3D -> detector ---------------------------------------------------------------
    def detector_of(self, xyz_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World mm (N, 3) -> detector (u, d) in mm, d = distance down from the CT top."""
        x, y, z = xyz_mm[:, 0], xyz_mm[:, 1], xyz_mm[:, 2]
        dy = y - self.centre_y_mm
        u = x - dy * np.tan(np.radians(self.yaw_deg))
        w = z - dy * np.tan(np.radians(self.tilt_deg))
        return u, (self.grid_rows - 1) * self.dz - w

    def slab_shift(self, y_mm: float) -> tuple[float, float]:
        """Shift (columns, rows) of the slab-image grid sampled for a slab at depth ``y_mm``."""
        dy = y_mm - self.centre_y_mm
        return (dy * np.tan(np.radians(self.yaw_deg)) / self.dx,
                -dy * np.tan(np.radians(self.tilt_deg)) / self.dz)

    # -- detector <-> film (before the inspiration warp) -------------------------------
    def grid_from_film(self) -> np.ndarray:
        """2x3 affine: film pixel (x, y) -> slab-image grid (column, row)."""
        c = (self.size - 1) / 2.0
        a = np.radians(self.roll_deg)
        ca, sa, s = np.cos(a), np.sin(a), self.spacing_mm
        # u = cu + s*(ca*(x-c) - sa*(y-c)); d = cd + s*(sa*(x-c) + ca*(y-c))
        m = np.array([[s * ca, -s * sa, self.centre_u_mm - s * c * (ca - sa)],
                      [s * sa, s * ca, self.centre_d_mm - s * c * (sa + ca)]], dtype=np.float64)
        m[0] /= self.dx
        m[1] /= self.dz
        return m

    def film_from_detector(self, u: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detector mm -> film pixel (x, y) before the inspiration warp."""
        inv = cv2.invertAffineTransform(self.grid_from_film())
        col, row = u / self.dx, d / self.dz
        return inv[0, 0] * col + inv[0, 1] * row + inv[0, 2], inv[1, 0] * col + inv[1, 1] * row + inv[1, 2]

    # -- inspiration warp --------------------------------------------------------------
    def warp_rows(self, y: np.ndarray) -> np.ndarray:
        """Film row before the warp -> after."""
        y = np.asarray(y, dtype=np.float64)
        return np.where(y > self.pivot_row, self.pivot_row + (y - self.pivot_row) * self.inspiration, y)

    def unwarp_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps: for each output pixel, where to sample the unwarped film."""
        ys, xs = np.mgrid[0 : self.size, 0 : self.size].astype(np.float32)
        src_y = np.where(ys > self.pivot_row, self.pivot_row + (ys - self.pivot_row) / self.inspiration, ys)
        return xs, src_y.astype(np.float32)

    def apply_warp(self, img: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        if abs(self.inspiration - 1.0) < 1e-9:
            return img
        mx, my = self.unwarp_maps()
        return cv2.remap(img, mx, my, interpolation, borderMode=cv2.BORDER_REPLICATE)

    # -- all the way ---------------------------------------------------------------------
    def film_of(self, xyz_mm: np.ndarray) -> np.ndarray:
        """World mm (N, 3) -> final film pixel (N, 2) as (x, y)."""
        u, d = self.detector_of(np.atleast_2d(xyz_mm))
        fx, fy = self.film_from_detector(u, d)
        return np.stack([fx, self.warp_rows(fy)], axis=1)

    def slab_to_film(self, img: np.ndarray, shift: tuple[float, float], interpolation: int) -> np.ndarray:
        """Warp one slab image (grid) to the unwarped film, sampling at grid + shift."""
        m = self.grid_from_film().copy()
        m[0, 2] += shift[0]
        m[1, 2] += shift[1]
        return cv2.warpAffine(img, m, (self.size, self.size), flags=interpolation | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
