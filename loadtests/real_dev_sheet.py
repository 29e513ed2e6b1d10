"""An overlay sheet of real films: what the encoder saw and what the engine said, one tile per film.

    .venv/bin/python -m loadtests.score_film_gate --seeds 0-0 --per-kind 0 --real-dev REAL_DEV_DIR \
        --sheet loadtests/results/real_dev_sheet.png

Each tile is the film's working image (the encoder's input) with the raw maps of the weights that
read it drawn on it (the encoder's; the second reader's where it read the film alone), whatever the
engine then did with them: lung fields (green: patient's right, cyan: left),
heart (red), spine band (magenta), the lesion map's 0.5 contour (orange), the hilum keypoints
(red dot: right, blue: left), and the labelled spine line (grey, from ``labels.json``). The
caption gives the label, the map entropy (the film gate's certainty measure), the engine's outcome
and its findings count; the engine's findings, when it localised any, are boxed in yellow with
their side. For looking at, never for setting anything (real films are for checking only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps

TILE = 384
CHANNEL_COLOURS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("lung_right", (0, 200, 0)), ("lung_left", (255, 255, 0)), ("heart", (0, 0, 255)), ("spine", (255, 0, 255)),
)
LESION_COLOUR = (0, 165, 255)
FINDING_COLOUR = (0, 255, 255)


def _contours(vis: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], width: int) -> None:
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(vis, found, -1, colour, width)


def tile(maps: AnatomyMaps, spine_x_working: float, caption: str, findings: tuple[dict[str, Any], ...],
         entropy: float) -> np.ndarray:
    """One film's tile (BGR, TILE×TILE)."""
    vis = cv2.cvtColor((np.clip(maps.image, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    for name, colour in CHANNEL_COLOURS:
        _contours(vis, maps.channel(name) > 0.5, colour, 1)
    _contours(vis, maps.lesion > 0.5, LESION_COLOUR, 2)
    h = vis.shape[0]
    cv2.line(vis, (round(spine_x_working), 0), (round(spine_x_working), h - 1), (160, 160, 160), 1)
    for side, p in (maps.hilum_px or {}).items():
        cv2.circle(vis, (round(p[0]), round(p[1])), 5, (0, 0, 255) if side == "right" else (255, 0, 0), -1)
    for f in findings:
        if not f.get("bbox_px"):
            continue
        x0, y0, x1, y1 = (round(v) for v in f["bbox_px"])
        cv2.rectangle(vis, (x0, y0), (x1, y1), FINDING_COLOUR, 2)
        cv2.putText(vis, str(f.get("side", "?"))[:1].upper(), (x0, max(12, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, FINDING_COLOUR, 1)
    out = cv2.resize(vis, (TILE, TILE), interpolation=cv2.INTER_AREA)
    for i, line in enumerate((caption, f"entropy {entropy:.3f}")):
        cv2.putText(out, line, (4, 14 + 15 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3)
        cv2.putText(out, line, (4, 14 + 15 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 255, 255), 1)
    return out


def sheet(tiles: list[np.ndarray], columns: int = 4) -> np.ndarray:
    """Tiles in rows of ``columns`` (the last row padded black)."""
    if not tiles:
        raise ValueError("no tiles")
    blank = np.zeros_like(tiles[0])
    rows = []
    for i in range(0, len(tiles), columns):
        row = tiles[i:i + columns]
        rows.append(np.hstack(row + [blank] * (columns - len(row))))
    return np.vstack(rows)


def write_sheet(path: Path, tiles: list[np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet(tiles)):
        raise OSError(f"could not write {path}")
