"""The encoder interface the engine depends on. Two implementations: embedded ONNX Runtime, Triton."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps


class AnatomyEncoder(Protocol):
    """Turns one normalised film (H, W float32 in [0, 1], 512x512) into AnatomyMaps.

    Implementations are thread-safe; concurrent callers may be batched together.
    ``calls`` counts encoder passes (tests assert follow-up turns add none).
    """

    name: str
    calls: int

    def encode(self, image: np.ndarray) -> AnatomyMaps: ...

    def ready(self) -> bool: ...

    def close(self) -> None: ...
