"""Contact sheet: 16 films in a 4x4 grid with the truth drawn on them (lesion contours and
labels, hila, lung and heart outlines), to look at."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom.case import CaseSpec, PhantomCase, generate_case

OUTLINES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("lung_right", (80, 200, 80)), ("lung_left", (80, 200, 80)), ("heart", (200, 120, 0)),
    ("diaphragm", (0, 200, 200)),
)


def draw_truth(case: PhantomCase) -> np.ndarray:
    """BGR uint8 film with the truth drawn."""
    img = cv2.cvtColor(np.rint(case.image * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    for name, colour in OUTLINES:
        m = case.masks[ANATOMY_CLASSES.index(name)].astype(np.uint8)
        cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(img, cs, -1, colour, 1)
    for x, y in case.hilum_px.values():
        cv2.drawMarker(img, (round(x), round(y)), (255, 0, 255), cv2.MARKER_CROSS, 10, 2)
    for les in case.truth["lesions"]:
        pts = np.array(les["contour_px"], dtype=np.int32)
        if len(pts):
            cv2.polylines(img, [pts], True, (0, 0, 255), 1)
        x, y = (round(v) for v in les["center_px"])
        label = f"{les['id']} {les['type']} {les['lobe']} {les['diameter_mm']:.0f}mm"
        cv2.putText(img, label, (max(0, x - 40), max(12, y - 14)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(img, f"seed {case.truth['seed']}", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    anat = case.truth.get("render", {}).get("anatomy")
    if anat:  # the anatomy family's main parameters, bottom left
        label = (f"h{anat['lung_height']:.2f} w{anat['lung_width_right']:.2f}/{anat['lung_width_left']:.2f} "
                 f"dome{anat['dome_right_mm']:+.0f}/{anat['dome_left_mm']:+.0f} med{anat['mediastinum_width']:.2f} "
                 f"heart{anat['heart_scale']:.2f} fat{anat['habitus_mm']:.0f}"
                 + (f" child{anat['child_scale']:.2f}" if anat["child_scale"] < 1 else ""))
        cv2.putText(img, label, (6, img.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1, cv2.LINE_AA)
    return img


def write_sheet(path: Path, first_seed: int = 0, size: int = 512, cache_dir: Path | None = None,
                count: int = 16, spec: CaseSpec | None = None) -> None:
    """``spec``: every film's case spec (None: the default case)."""
    tiles = [draw_truth(generate_case(first_seed + n, spec, size=size, cache_dir=cache_dir)) for n in range(count)]
    write_tiles(path, tiles)


def write_tiles(path: Path, tiles: list[np.ndarray], cols: int = 4) -> None:
    """Films (BGR, same size) in a grid of ``cols`` columns."""
    count = len(tiles)
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, w - t.shape[1]), (0, 0))) for t in tiles]  # padded films
    rows = -(-count // cols)
    blank = np.zeros_like(tiles[0])
    grid = [np.hstack(tiles[r * cols : (r + 1) * cols] + [blank] * max(0, (r + 1) * cols - count))
            for r in range(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(grid), [cv2.IMWRITE_PNG_COMPRESSION, 9])
