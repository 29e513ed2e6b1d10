"""The anatomy encoder's contract: what goes in, what comes out, in which order.

Serving (``orchestrator/encoders``), export (``export/``) and training (``encoder/``) all read
these names from here; ``encoder/network.py`` builds a network that honours them. No torch.

Input, one tensor ``INPUT_NAME`` of shape ``[N, 1, INPUT_SIZE, INPUT_SIZE]`` float32: the film as
:func:`orchestrator.contracts.preprocess.prepare_film` makes it (square, windowed to [0, 1]).

Outputs (``OUTPUT_NAMES``, in this order; logits, float32):
    ``anatomy``  ``[N, len(ANATOMY_CLASSES), INPUT_SIZE / ANATOMY_STRIDE, ...]`` multi-label
                 anatomy, channels in ``ANATOMY_CLASSES`` order
    ``lesion``   ``[N, 1, INPUT_SIZE / LESION_STRIDE, ...]`` lesion mask logits
    ``hilum``    ``[N, len(HILUM_SIDES), INPUT_SIZE / HILUM_STRIDE, ...]`` hilum keypoint heatmap
                 logits, channels in ``HILUM_SIDES`` order (a spatial softmax over each channel
                 gives the point's distribution)

``ANATOMY_CLASSES`` is also the channel order of the phantom's ``anatomy.npz['masks']`` and of
``AnatomyMaps.anatomy``; masks are multi-label (a pixel may be lung, rib and heart at once).
"""

from __future__ import annotations

INPUT_NAME = "image"
INPUT_SIZE = 512
OUTPUT_NAMES: tuple[str, ...] = ("anatomy", "lesion", "hilum")

ANATOMY_STRIDE = 4  # anatomy map: 128x128 for a 512x512 film
LESION_STRIDE = 2  # lesion map: 256x256
HILUM_STRIDE = 4  # hilum heatmaps: 128x128
HILUM_SIDES: tuple[str, ...] = ("right", "left")

ANATOMY_CLASSES: tuple[str, ...] = (
    "lung_right",      # whole right lung field (patient's right = image left)
    "lung_left",
    "RUL", "RML", "RLL",
    "LUL", "LLL",
    "heart",
    "mediastinum",
    "trachea",
    "hilum_right",     # hilar region (definition in encoder.phantom)
    "hilum_left",
    "clavicle_right",
    "clavicle_left",
    "ribs",
    "spine",
    "diaphragm",       # sub-diaphragmatic region below each dome
)

LOBES: tuple[str, ...] = ("RUL", "RML", "RLL", "LUL", "LLL")
SIDES: tuple[str, ...] = ("right", "left")


def class_index(name: str) -> int:
    """The channel of anatomy class ``name`` (``ValueError`` for an unknown name)."""
    return ANATOMY_CLASSES.index(name)
