"""The anatomy classes shared by the phantom engine, the encoder and the findings layer.

Order matters: it is the channel order of ``anatomy.npz['masks']`` and of the encoder's
anatomy output. Masks are multi-label (a pixel may be lung, rib and heart at once).
"""

from __future__ import annotations

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
    return ANATOMY_CLASSES.index(name)
