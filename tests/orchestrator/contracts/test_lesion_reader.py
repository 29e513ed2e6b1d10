"""The lesion reader's contract: crops cut from the original film land where the frame says, at
0.25 mm per pixel, with the coarse mask registered to them; outputs decode; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.contracts.lesion_reader import (
    CROP_MM_PER_PX,
    CROP_SIZE,
    INPUT_SHAPE,
    MARGINS,
    OUTPUTS,
    Frame,
    check_outputs,
    crop_to_working,
    cut_crop,
    cut_crops,
    decode_outputs,
    film_window,
    original_spacing,
)
from orchestrator.contracts.preprocess import to_working_size
from orchestrator.errors import InputError


def film_with_disc(shape: tuple[int, int], spacing_mm: float, centre_xy: tuple[float, float], radius_mm: float,
                   seed: int = 0) -> np.ndarray:
    """A 12-bit-like film: noise-free background ramp, a bright disc at ``centre_xy`` (original px)."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    film = 800.0 + 0.05 * xs + 0.03 * ys
    inside = np.hypot(xs - centre_xy[0], ys - centre_xy[1]) * spacing_mm <= radius_mm
    film[inside] += 1500.0
    return film.astype(np.float32)


def disc_stats(channel: np.ndarray, level: float = 0.5) -> tuple[float, float, float]:
    """(x, y) centroid and equivalent radius (pixels) of ``channel > level``."""
    ys, xs = np.nonzero(channel > level)
    return float(xs.mean()), float(ys.mean()), float(np.sqrt(len(xs) / np.pi))


@pytest.mark.parametrize("spacing_mm", [0.143, 0.2, 0.4])
def test_a_disc_in_the_original_film_is_centred_and_sized_in_the_crop(spacing_mm: float) -> None:
    shape = (1900, 2300) if spacing_mm < 0.3 else (900, 760)  # non-square: the working film is padded
    centre_orig = (shape[1] * 0.37 + 0.3, shape[0] * 0.58 + 0.6)
    film = film_with_disc(shape, spacing_mm, centre_orig, radius_mm=6.0)
    working, resampling = to_working_size(film)
    frame = Frame.from_resampling(resampling)
    cx, cy = frame.to_working(*centre_orig)
    lesion_map = np.zeros((256, 256), np.float32)  # the encoder's ½-resolution map over the working frame
    yy, xx = np.mgrid[0:256, 0:256]
    lesion_map[np.hypot((xx + 0.5) * 2 - 0.5 - cx, (yy + 0.5) * 2 - 0.5 - cy) * spacing_mm * frame.scale <= 6.0] = 1.0
    # the film's own window (its percentiles) would saturate a disc this small: a fixed one here
    crop = cut_crop(film, (spacing_mm, spacing_mm), (float(cx), float(cy)), lesion_map, frame, window=(800.0, 2500.0))
    assert crop.shape == INPUT_SHAPE and crop.dtype == np.float32
    assert crop.min() >= 0.0 and crop.max() <= 1.0
    x, y, r = disc_stats(crop[0])
    centre = (CROP_SIZE - 1) / 2
    assert abs(x - centre) < 1.0 and abs(y - centre) < 1.0, (x, y)
    assert abs(r - 6.0 / CROP_MM_PER_PX) < 1.0, r  # 6 mm = 24 px at 0.25 mm
    mx, my, mr = disc_stats(crop[1])
    # the coarse map is coarse (0.6-1.6 mm pixels) but registered to the same place
    assert abs(mx - centre) < 3.0 and abs(my - centre) < 3.0, (mx, my)
    assert abs(mr - 24.0) < 6.0, mr


def test_the_working_spacing_and_the_frame_give_back_the_original_spacing() -> None:
    frame = Frame((2000, 2500), (512, 512), 2500 / 512, (0.0, 250.0))
    row, col = original_spacing((0.15 * 2500 / 512, 0.16 * 2500 / 512), frame)
    assert row == pytest.approx(0.15) and col == pytest.approx(0.16)
    x, y = frame.to_working(*frame.to_original(100.0, 200.0))
    assert (float(x), float(y)) == pytest.approx((100.0, 200.0))
    assert frame.as_dict() == {"original_size": [2000, 2500], "working_size": [512, 512],
                               "scale": pytest.approx(2500 / 512), "pad_px": [0.0, 250.0]}


def test_crop_pixels_map_back_to_the_working_frame() -> None:
    frame = Frame((2048, 2048), (512, 512), 4.0, (0.0, 0.0))
    centre = (200.0, 300.0)
    x, y = crop_to_working((CROP_SIZE - 1) / 2, (CROP_SIZE - 1) / 2, centre, (0.15, 0.15), frame)
    assert (float(x), float(y)) == pytest.approx(centre)
    # 40 crop pixels right = 10 mm = 10 / 0.6 working pixels
    x2, _ = crop_to_working((CROP_SIZE - 1) / 2 + 40, (CROP_SIZE - 1) / 2, centre, (0.15, 0.15), frame)
    assert float(x2) - centre[0] == pytest.approx(10.0 / 0.6, rel=1e-6)


def test_a_candidate_at_the_film_edge_is_cut_with_blank_beyond_the_edge() -> None:
    film = film_with_disc((1024, 1024), 0.3, (20.0, 20.0), 3.0)
    frame = Frame((1024, 1024), (512, 512), 2.0, (0.0, 0.0))
    crop = cut_crop(film, (0.3, 0.3), (0.0, 0.0), np.zeros((256, 256), np.float32), frame)
    assert crop.shape == INPUT_SHAPE
    assert np.all(crop[0, :100, :100] == 0.0)  # beyond the top-left corner
    assert crop[0, 200:, 200:].max() > 0.0


def test_cut_crops_shares_one_window_per_film() -> None:
    film = film_with_disc((800, 800), 0.4, (300.0, 300.0), 5.0)
    frame = Frame((800, 800), (512, 512), 800 / 512, (0.0, 0.0))
    lo, hi = film_window(film)
    assert lo < hi
    crops = cut_crops(film, (0.4, 0.4), [(190.0, 190.0), (400.0, 100.0)], np.zeros((256, 256), np.float32), frame)
    assert crops.shape == (2, *INPUT_SHAPE)
    assert cut_crops(film, (0.4, 0.4), [], np.zeros((256, 256)), frame).shape == (0, *INPUT_SHAPE)


def _good_args() -> dict:
    film = film_with_disc((600, 600), 0.5, (300.0, 300.0), 5.0)
    return {"original": film, "spacing_mm": (0.5, 0.5), "centre_px": (256.0, 256.0),
            "coarse_mask": np.zeros((256, 256), np.float32), "frame": Frame((600, 600), (512, 512), 600 / 512, (0.0, 0.0))}


@pytest.mark.parametrize(("change", "message"), [
    ({"original": np.full((600, 600), np.nan, np.float32)}, "NaN"),
    ({"original": np.zeros((600, 600, 3), np.float32)}, "2D"),
    ({"original": np.zeros((600, 600), np.complex64)}, "real numbers"),
    ({"original": np.zeros((500, 600), np.float32)}, "frame says"),
    ({"spacing_mm": (0.0, 0.5)}, "spacing"),
    ({"spacing_mm": (float("inf"), 0.5)}, "spacing"),
    ({"spacing_mm": "abc"}, "spacing"),
    ({"centre_px": (600.0, 10.0)}, "inside the working image"),
    ({"centre_px": (float("nan"), 10.0)}, "inside the working image"),
    ({"coarse_mask": np.zeros((256, 128), np.float32)}, "square"),
    ({"coarse_mask": np.full((256, 256), 2.0, np.float32)}, r"\[0, 1\]"),
    ({"coarse_mask": np.full((256, 256), "a")}, "numbers"),
    ({"frame": Frame((600, 600), (512, 512), -1.0, (0.0, 0.0))}, "scale"),
])
def test_bad_input_is_refused_with_a_clear_error(change: dict, message: str) -> None:
    args = {**_good_args(), **change}
    with pytest.raises(InputError, match=message):
        cut_crop(**args)


def _outputs(n: int, margin: int, spicule_hours: list[int], count: float) -> dict[str, np.ndarray]:
    out = {name: np.zeros((n, *shape), np.float32) for name, shape in OUTPUTS.items()}
    out["margin"][:, margin] = 4.0
    out["notch_clock"][:] = -3.0
    out["notch_clock"][:, 9] = 3.0  # hour 10
    out["spicule_clock"][:] = -3.0
    for h in spicule_hours:
        out["spicule_clock"][:, h - 1] = 3.0
        out["spicule_length_mm"][:, h - 1] = 4.26
    out["spicule_count"][:] = count
    out["calcification"][:] = -5.0
    out["cavity"][:] = 5.0
    out["diameter_mm"][:] = 14.04
    out["mask"][:] = -10.0
    return out


def test_outputs_decode_to_typed_readings_with_probabilities() -> None:
    (r,) = decode_outputs(_outputs(1, MARGINS.index("spiculated"), [2, 5, 9], 3.2))
    assert r.margin == "spiculated" and sum(r.margin_probs.values()) == pytest.approx(1.0)
    assert r.margin_probs["spiculated"] > 0.9 and r.p_irregular > 0.9
    assert r.spicules == 3 and r.spicule_clock == [2, 5, 9] and r.spicule_length_mm == [4.3, 4.3, 4.3]
    assert r.notches_clock == [10]
    assert (r.calcified, r.cavitation) == (False, True) and 0 < r.p_calcified < 0.01
    assert r.diameter_mm == 14.0 and r.mask.shape == (128, 128) and r.mask.max() < 1e-3
    assert set(r.as_dict()) >= {"margin", "notches_clock", "spicules", "spicule_length_mm", "diameter_mm"}
    (smooth,) = decode_outputs(_outputs(1, MARGINS.index("smooth"), [2, 5], 2.0))
    assert smooth.margin == "smooth" and smooth.spicules == 0 and smooth.spicule_clock == []


def test_incomplete_or_misshapen_outputs_are_named() -> None:
    out = _outputs(2, 0, [], 0.0)
    assert check_outputs(out) == 2
    with pytest.raises(InputError, match="cavity"):
        check_outputs({k: v for k, v in out.items() if k != "cavity"})
    with pytest.raises(InputError, match="margin"):
        check_outputs({**out, "margin": np.zeros((2, 4), np.float32)})
    with pytest.raises(InputError, match="diameter_mm"):
        check_outputs({**out, "diameter_mm": np.zeros((3, 1), np.float32)})
