"""A dome on the floor of its lung field, or no dome: the domes a film read alone may give.

The alone reader (``orchestrator/encoders/second_reader.py``) draws each lung field as a film shows it, down to the dome
of the diaphragm, so a dome it finds lies on its field's floor: on the phantom films it read alone (validation seeds
50-149, every rendering family, 68 domes) its field runs on below the dome by at most 0.10 of the field's height (0.07
at the 99th percentile), and on the real checking films and the unseen patient's (``lung2``) by at most 0.03. On another
patient's CT (``lung1``), the diaphragm map rose into the right lung field beside the heart on most films, the dome was
put there, by the hilum, with the field running on 0.19-0.31 of its height below it, and the answers said "the right
dome lies 7.6 cm higher than the left" and "A1 is not above the diaphragm" of a nodule in the lower lobe.

Where a field runs on below its dome by more than ``FLOOR_BELOW_MAX`` of its height, that dome is not given
(``DOME_UNPLACED``); the other stays. Not applied to the main weights, whose fields run on behind the dome (0.28-0.50
of their height on the same validation films). Numbers: ``encoder/weights/TRAINING.md``, "Domes on their floor".
"""

from __future__ import annotations

import numpy as np

from orchestrator.facts import Point
from orchestrator.findings.geometry import Lung

DOME_UNPLACED = "dome_unplaced"  # the warning code (``orchestrator.film_gate.WARNINGS`` words it)
FLOOR_BELOW_MAX = 0.15  # share of the field's height it may run on below its dome, on a film read alone
NEAR_COLUMNS = 3  # the columns either side of the dome's that count


def floor_below(lung: Lung, dome: Point) -> float:
    """How far the field runs on below ``dome`` in the dome's columns, as a share of its height (0 or less: the dome is
    its floor there)."""
    x = int(round(dome[0]))
    cols = lung.mask[:, max(0, x - NEAR_COLUMNS): x + NEAR_COLUMNS + 1]
    rows = np.flatnonzero(cols.any(axis=1))
    if not rows.size or not lung.present:
        return 0.0
    return float(rows.max() - dome[1]) / float(lung.bottom - lung.top)


def on_floor(lung: Lung, dome: Point) -> bool:
    return floor_below(lung, dome) <= FLOOR_BELOW_MAX
