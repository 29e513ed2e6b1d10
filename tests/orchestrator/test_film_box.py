"""The film inside an upload (``film_box``): a uniform surround is cut off, a film is never cut into."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from orchestrator.contracts.preprocess import prepare_film
from orchestrator.film_box import film_box


@pytest.fixture(scope="module")
def film() -> np.ndarray:
    from encoder.phantom import generate_case

    return (np.clip(generate_case(21).image, 0, 1) * 255).astype(np.uint8)  # an evaluation seed


def placed(film: np.ndarray, canvas: np.ndarray, x: int, y: int) -> np.ndarray:
    out = canvas.copy()
    out[y:y + film.shape[0], x:x + film.shape[1]] = film
    return out


def test_a_film_that_fills_its_upload_is_not_cut(film: np.ndarray) -> None:
    assert film_box(film) is None
    rng = np.random.default_rng(0)
    assert film_box(rng.random((600, 500))) is None  # noise: textured everywhere
    yy, xx = np.mgrid[0:600, 0:500]
    assert film_box((xx * 3 + yy).astype(np.float32)) is None  # a smooth ramp holds no single value anywhere


@pytest.mark.parametrize("surround", [0, 245, 30])
def test_a_uniform_surround_is_cut_to_the_film(film: np.ndarray, surround: int) -> None:
    """A letterbox (black), a print's margin of one value (white), a viewer's background: the box lies within a
    few pixels of the film's own edges."""
    h, w = film.shape
    canvas = np.full((h + 300, w + 500), surround, np.uint8)
    box = film_box(placed(film, canvas, 320, 140))
    assert box is not None
    assert np.allclose(box, (320, 140, 320 + w, 140 + h), atol=8), box


def test_a_viewer_screenshot_with_text_beside_the_film_is_cut_to_the_film(film: np.ndarray) -> None:
    h, w = film.shape
    screen = Image.fromarray(placed(film, np.full((1080, 1920), 30, np.uint8), 700, 100))
    draw = ImageDraw.Draw(screen)
    for i in range(20):  # a series list down the left, as a PACS viewer shows it
        draw.text((20, 40 + i * 40), f"Series {i}  Study 2026-11-{i + 1:02d}  W:400 L:40", fill=200)
    box = film_box(np.asarray(screen))
    assert box is not None and np.allclose(box, (700, 100, 700 + w, 100 + h), atol=12), box


def test_the_cut_film_reads_as_the_film_alone(film: np.ndarray) -> None:
    """What the encoder gets from a letterboxed upload is the film's own working image."""
    h, w = film.shape
    box = film_box(placed(film, np.zeros((2 * h, 2 * w), np.uint8), w // 2, h // 2))
    assert box is not None
    x0, y0, x1, y1 = box
    cut, _ = prepare_film(placed(film, np.zeros((2 * h, 2 * w), np.uint8), w // 2, h // 2)[y0:y1, x0:x1])
    alone, _ = prepare_film(film)
    assert np.corrcoef(cut.ravel(), alone.ravel())[0, 1] > 0.97
