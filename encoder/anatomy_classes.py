"""The anatomy classes, for the phantom engine and the training code: a re-export of the serving
contract (``orchestrator/contracts/encoder.py`` owns the list; training imports it, never the
reverse). Order matters: it is the channel order of ``anatomy.npz['masks']`` and of the
encoder's anatomy output.
"""

from __future__ import annotations

from orchestrator.contracts.encoder import ANATOMY_CLASSES, LOBES, SIDES, class_index

__all__ = ["ANATOMY_CLASSES", "LOBES", "SIDES", "class_index"]
