"""Pixel spacing without DICOM: an estimate from the anatomy, always ``source="estimated"``.

The widest outer-to-outer extent of both lung fields on a PA film is taken as a typical
adult inner thorax width. Where the lungs cannot be found, the film is assumed to span a
standard 43 cm detector.
"""

from __future__ import annotations

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.facts import PixelSpacing

TYPICAL_THORAX_WIDTH_MM = 265.0  # adults ~250 (women) to ~280 (men); the phantom CT: 253
DETECTOR_MM = 430.0
MIN_THORAX_FRACTION = 0.3  # of the image width; below this the lungs are not trusted


def thorax_width_px(maps: AnatomyMaps) -> float | None:
    lungs = maps.mask("lung_right") | maps.mask("lung_left")
    if not (maps.mask("lung_right").any() and maps.mask("lung_left").any()):
        return None
    rows = np.flatnonzero(lungs.any(axis=1))
    widths = [int(np.flatnonzero(lungs[r]).max() - np.flatnonzero(lungs[r]).min() + 1) for r in rows]
    best = float(np.percentile(widths, 98)) if widths else 0.0
    return best if best >= MIN_THORAX_FRACTION * maps.shape[1] else None


def estimate_spacing(maps: AnatomyMaps) -> PixelSpacing:
    width = thorax_width_px(maps)
    if width is None:
        mm = DETECTOR_MM / max(maps.shape)
        return PixelSpacing(mm, mm, "estimated", f"assumed a {DETECTOR_MM / 10:.0f} cm field of view")
    mm = TYPICAL_THORAX_WIDTH_MM / width
    return PixelSpacing(
        mm, mm, "estimated", f"from the thorax width, assuming a typical {TYPICAL_THORAX_WIDTH_MM / 10:.1f} cm"
    )
