"""AnatomyMaps: what the encoder (or, in tests, the phantom's truth masks) hands the findings layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from orchestrator.contracts.encoder import ANATOMY_CLASSES


@dataclass(frozen=True, eq=False)
class AnatomyMaps:
    """Per-pixel maps at the image's working resolution (H, W), all float32 in [0, 1].

    - ``image``: the normalised grayscale film the maps were computed from (H, W).
    - ``anatomy``: (C, H, W) probabilities, channels in ``class_names`` order.
    - ``lesion``: (H, W) lesion probability / heatmap.
    - ``hilum_px``: {"right": (x, y), "left": (x, y)} keypoints in pixel coordinates
      ([column, row]) or None when not available.
    """

    image: np.ndarray
    anatomy: np.ndarray
    lesion: np.ndarray
    hilum_px: dict[str, tuple[float, float]] | None = None
    class_names: tuple[str, ...] = field(default=ANATOMY_CLASSES)
    _masks: dict[tuple[str, float], np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        h, w = self.image.shape
        if self.anatomy.shape != (len(self.class_names), h, w):
            raise ValueError(f"anatomy shape {self.anatomy.shape} != {(len(self.class_names), h, w)}")
        if self.lesion.shape != (h, w):
            raise ValueError(f"lesion shape {self.lesion.shape} != {(h, w)}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape  # type: ignore[return-value]

    def channel(self, name: str) -> np.ndarray:
        return self.anatomy[self.class_names.index(name)]

    def mask(self, name: str, threshold: float = 0.5) -> np.ndarray:
        """The channel thresholded; made once per (name, threshold) and shared, so read-only."""
        key = (name, threshold)
        m = self._masks.get(key)
        if m is None:
            m = self.channel(name) >= threshold
            m.flags.writeable = False
            self._masks[key] = m
        return m
