"""Test doubles shared by the dialogue tests: an encoder that returns fixed maps, and a phantom film to upload."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from orchestrator.anatomy_maps import AnatomyMaps


class FixedMapsEncoderDouble:
    """Stands in for the encoder: every film gets the maps it was built with (which weights' behaviour they stand for,
    each test says)."""

    def __init__(self, maps: AnatomyMaps, name: str = "fixed-maps-double") -> None:
        self.maps, self.name = maps, name

    def encode(self, image: np.ndarray) -> AnatomyMaps:
        return self.maps

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        return None


def phantom_png(seed: int = 613) -> bytes:
    """A phantom film as an upload (the film gate reads it; the double's maps stand for the encoder's)."""
    from encoder.phantom import generate_case

    buf = io.BytesIO()
    Image.fromarray((generate_case(seed).image * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
