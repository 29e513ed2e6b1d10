"""Lung fields as a film shows them: the lung targets stop at the diaphragm (an opt-in training target).

The phantom's lung channels are the CT's lungs projected whole. On a frontal film about 30% of that
area lies below the top of the diaphragm: the posterior recesses behind the domes, over the liver
and the stomach (``film_masks`` in ``encoder/phantom/anatomy.py``; the phantom's ``diaphragm`` channel
is everything below the domes). A radiologist's lung field, and every real lung mask (the 434 v7labs
masks in the torchxrayvision wheel, ``loadtests/lung_shapes.py``), stops at the dome: the field is
what is seen as lung. An encoder taught the projected lungs learns that a lung field goes on into
the bright region below the dome, and on a film framed wider than the phantom's (a child's AP film
with the abdomen in it) it has no reason to stop.

``visible_lung_fields`` rewrites a training set's ``lung_right`` / ``lung_left`` targets as the part
of each lung above the diaphragm (soft targets: ``lung x (1 - diaphragm)``). The lobes are left as
they are: a lesion behind a dome is still in its lobe, and the lesion head's anatomy gate can still
open there through them. Samples whose diaphragm is not labelled (another patient's CT,
``encoder/phantom/other_ct.py``) cannot be cut, so their lung channels are marked unlabelled and
add nothing to the loss. Off unless asked for (``hilum train --visible-lungs``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from encoder.anatomy_classes import class_index
from encoder.dataset import TrainingSet

LUNG_CHANNELS = ("lung_right", "lung_left")


def visible_lung_fields(data: TrainingSet) -> TrainingSet:
    """A copy of ``data`` whose lung targets stop at the diaphragm (see the module doc)."""
    assert data.anatomy_known is not None
    dia = class_index("diaphragm")
    lungs = [class_index(name) for name in LUNG_CHANNELS]
    anatomy = data.anatomy.copy()
    known = data.anatomy_known.copy()
    cut = known[:, dia].astype(bool)
    above = 255.0 - anatomy[cut, dia].astype(np.float32)
    for c in lungs:
        anatomy[cut, c] = np.rint(anatomy[cut, c].astype(np.float32) * above / 255.0).astype(np.uint8)
        known[~cut, c] = 0
    return replace(data, anatomy=anatomy, anatomy_known=known)
