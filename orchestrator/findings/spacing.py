"""Pixel spacing without DICOM: an estimate from the anatomy, always ``source="estimated"``.

The widest outer-to-outer extent of both lung fields on a PA film is taken as a typical
adult inner thorax width (``assumed_width_mm`` reads that back, so the answers can say a child's film measures too
large). Where the lungs cannot be found, the film is assumed to span a
standard 43 cm detector.

The same estimate stands in for a DICOM spacing that ``orchestrator.imaging`` found implausible
for a chest film (``rejected``, one of ``REJECTIONS``): its note then starts with
``REJECTED_PREFIX`` and the code, and ``rejection`` reads it back for the composer's note.
"""

from __future__ import annotations

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.facts import PixelSpacing

TYPICAL_THORAX_WIDTH_MM = 265.0  # adults ~250 (women) to ~280 (men); the phantom CT: 253
DETECTOR_MM = 430.0
MIN_THORAX_FRACTION = 0.3  # of the image width; below this the lungs are not trusted

REJECTED_PREFIX = "DICOM spacing not used: "
FROM_THORAX = "from the thorax width"  # an estimate's note when it scaled the film to an adult's chest
# why a file's spacing was not used: (zh, en), each a clause the composer's note completes
REJECTIONS: dict[str, tuple[str, str]] = {
    "spacing": ("本片DICOM像素间距超出胸片的合理范围", "this film's DICOM pixel spacing is outside the plausible range for a chest film"),
    "magnification": ("本片DICOM放大倍数超出合理范围(1–2)", "this film's DICOM magnification factor is outside the plausible range (1-2)"),
    "film_size": ("按本片DICOM像素间距计算的胶片尺寸不像胸片", "the film size implied by this film's DICOM pixel spacing is not that of a chest film"),
}


def thorax_width_px(maps: AnatomyMaps) -> float | None:
    lungs = maps.mask("lung_right") | maps.mask("lung_left")
    if not (maps.mask("lung_right").any() and maps.mask("lung_left").any()):
        return None
    rows = np.flatnonzero(lungs.any(axis=1))
    widths = [int(np.flatnonzero(lungs[r]).max() - np.flatnonzero(lungs[r]).min() + 1) for r in rows]
    best = float(np.percentile(widths, 98)) if widths else 0.0
    return best if best >= MIN_THORAX_FRACTION * maps.shape[1] else None


def estimate_spacing(maps: AnatomyMaps, rejected: str | None = None) -> PixelSpacing:
    """The estimate; ``rejected`` (a ``REJECTIONS`` code) records why a DICOM spacing was not used."""
    prefix = f"{REJECTED_PREFIX}{rejected}; " if rejected in REJECTIONS else ""
    width = thorax_width_px(maps)
    if width is None:
        mm = DETECTOR_MM / max(maps.shape)
        return PixelSpacing(mm, mm, "estimated", f"{prefix}assumed a {DETECTOR_MM / 10:.0f} cm field of view")
    mm = TYPICAL_THORAX_WIDTH_MM / width
    return PixelSpacing(
        mm, mm, "estimated", f"{prefix}{FROM_THORAX}, assuming a typical {TYPICAL_THORAX_WIDTH_MM / 10:.1f} cm"
    )


def assumed_width_mm(spacing: PixelSpacing) -> float | None:
    """The chest width an estimate took (``TYPICAL_THORAX_WIDTH_MM``, an adult's) when it came from the thorax, else
    None (a DICOM spacing, or a film assumed to span the detector). Read back from the note ``estimate_spacing``
    wrote, as ``rejection`` reads the rejection."""
    if spacing.source != "estimated" or FROM_THORAX not in spacing.note:
        return None
    return TYPICAL_THORAX_WIDTH_MM


def rejection(spacing: PixelSpacing) -> str | None:
    """The ``REJECTIONS`` code of an estimate that replaced an implausible DICOM spacing, else None."""
    if spacing.source != "estimated" or not spacing.note.startswith(REJECTED_PREFIX):
        return None
    code = spacing.note[len(REJECTED_PREFIX):].split(";", 1)[0]
    return code if code in REJECTIONS else None
