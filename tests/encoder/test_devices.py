"""Support devices and foreign bodies (issue 21): metal and radio-opaque plastic drawn over the phantom's chest."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom import CaseSpec, PhantomCase, generate_case
from encoder.phantom.devices import DEVICE_KINDS, HELD_OUT_DEVICES, draw_devices, film_kinds, parse_kinds
from encoder.phantom.rendering import RenderStyle
from encoder.phantom.volume import PhantomVolume, load_volume
from orchestrator.settings import Settings

SEED = 211


@pytest.fixture(scope="module")
def volume() -> PhantomVolume:
    return load_volume(Settings().cache_dir)


def _film(volume: PhantomVolume, devices: str | None, share: float = 1.0, seed: int = SEED,
          render: str | RenderStyle | None = None) -> PhantomCase:
    return generate_case(seed, CaseSpec(lesion_mix="none", devices=devices, device_share=share, render=render),
                         volume=volume)


def test_no_device_drawn_leaves_the_film_as_it_was(volume: PhantomVolume) -> None:
    bare = _film(volume, None)
    assert "devices" not in bare.truth  # a film without the option reads as before
    none_drawn = _film(volume, "all", share=0.0)
    assert np.array_equal(none_drawn.image_u16, bare.image_u16)  # the draw is a stream of its own
    assert none_drawn.truth["devices"] == []


@pytest.mark.parametrize("kind", DEVICE_KINDS)
def test_each_kind_is_drawn_over_the_chest_and_changes_no_truth(volume: PhantomVolume, kind: str) -> None:
    bare, dressed = _film(volume, None), _film(volume, kind)
    assert [d["kind"] for d in dressed.truth["devices"]] == [kind]
    x0, y0, x1, y1 = dressed.truth["devices"][0]["bbox_px"]
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    # devices are not lesions: masks, lesion mask, hila and lesion truth stay the bare film's
    assert np.array_equal(dressed.masks, bare.masks) and np.array_equal(dressed.lesion_mask, bare.lesion_mask)
    assert dressed.hilum_px == bare.hilum_px and dressed.truth["lesions"] == bare.truth["lesions"] == []
    # and the film shows them: brighter where they lie (the window may shift a little elsewhere)
    box = (slice(int(y0), int(y1)), slice(int(x0), int(x1)))
    brighter = dressed.image[box].astype(np.float64) - bare.image[box]
    assert brighter.max() > 0.1, (kind, brighter.max())  # 25 grey levels: plastic is faint, metal white
    again = _film(volume, kind)
    assert np.array_equal(again.image_u16, dressed.image_u16)  # reproducible per seed


def test_metal_is_brighter_than_any_bone(volume: PhantomVolume) -> None:
    """A pacemaker's can and a sternotomy's wires reach the top of the window: brighter than the spine."""
    for kind in ("pacemaker", "wires"):
        film = _film(volume, kind)
        spine = film.masks[ANATOMY_CLASSES.index("spine")]
        x0, y0, x1, y1 = (int(v) for v in film.truth["devices"][0]["bbox_px"])
        assert film.image[y0:y1, x0:x1].max() >= np.percentile(film.image[spine], 99), kind


def test_devices_follow_the_rendering_families_and_padding(volume: PhantomVolume) -> None:
    style = RenderStyle(families=("processing", "padding"), pad=(0.1, 0.0, 0.05, 0.0))
    padded = _film(volume, "pacemaker", render=style)
    plain = _film(volume, "pacemaker", render=RenderStyle(families=("processing",)))
    dy, dx = round(0.1 * 512), round(0.05 * 512)
    box, shifted = plain.truth["devices"][0]["bbox_px"], padded.truth["devices"][0]["bbox_px"]
    assert shifted == [box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy]


def test_kinds_parse_and_unknown_ones_are_refused() -> None:
    assert parse_kinds("all") == DEVICE_KINDS
    assert parse_kinds("all,-pacemaker") == tuple(k for k in DEVICE_KINDS if k not in HELD_OUT_DEVICES)
    assert parse_kinds("button,ecg") == ("ecg", "button")  # in DEVICE_KINDS order
    assert parse_kinds(None) == ()
    for bad in ("coin", "all,-coin", ",".join(f"-{k}" for k in DEVICE_KINDS)):
        with pytest.raises(ValueError):
            parse_kinds(bad)
    with pytest.raises(ValueError, match="device"):
        CaseSpec(devices="coin")
    with pytest.raises(ValueError, match="device_share"):
        CaseSpec(devices="ecg", device_share=1.5)


def test_a_share_of_films_carries_one_to_three_kinds() -> None:
    rng = np.random.default_rng(0)
    drawn = [film_kinds(rng, DEVICE_KINDS, 0.5) for _ in range(400)]
    share = np.mean([bool(k) for k in drawn])
    assert 0.4 < share < 0.6
    assert all(1 <= len(k) <= 3 and set(k) <= set(DEVICE_KINDS) for k in drawn if k)
    assert film_kinds(rng, ("ecg",), 1.0) == ("ecg",)


def test_drawing_needs_no_more_than_the_films_masks() -> None:
    """The drawing reads the film's own masks; with none of them it still draws within the film."""
    masks = np.zeros((len(ANATOMY_CLASSES), 128, 128), dtype=bool)
    added, truth = draw_devices(np.random.default_rng(1), masks, {}, 2.5, DEVICE_KINDS)
    assert added.shape == (128, 128) and added.min() >= 0.0 and added.max() > 0.5
    assert [d["kind"] for d in truth] == list(DEVICE_KINDS)


def test_the_clis_and_the_dataset_take_the_kinds() -> None:
    from encoder.dataset import case_spec
    from encoder.training_cli import DEVICE_KINDS as CLI_KINDS
    from encoder.training_cli import devices_arg, register

    assert CLI_KINDS == DEVICE_KINDS  # the CLI's copy (it starts without importing the phantom)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    train = parser.parse_args(["train", "--devices", "all,-pacemaker", "--device-share", "0.4"])
    assert (train.devices, train.device_share) == ("all,-pacemaker", 0.4)
    ev = parser.parse_args(["evaluate", "--devices", "pacemaker"])
    assert (ev.devices, ev.device_share) == ("pacemaker", 1.0)
    with pytest.raises(argparse.ArgumentTypeError):
        devices_arg("coin")
    assert case_spec(5, None, devices="ecg", device_share=0.5) == CaseSpec(devices="ecg", device_share=0.5)


def test_evaluate_scores_films_with_devices() -> None:
    from encoder.evaluate import evaluate, format_table

    result = evaluate(Settings().onnx_path, [612], threads=1, lesion_mix="none", devices="ecg")
    assert result["devices"] == "ecg" and result["device_share"] == 1.0
    assert "devices ecg on 100% of films" in format_table(result)


# --- devices as hard negatives in training (``hilum train --device-weight W``) -------------------------------------


def test_a_device_film_knows_where_its_devices_lie(volume: PhantomVolume) -> None:
    from encoder.dataset import case_targets

    bare, dressed = _film(volume, None), _film(volume, "ecg")
    assert bare.device_mask is None and case_targets(bare).devices is None  # a bare set's npz stays as it was
    assert dressed.device_mask is not None and dressed.device_mask.any()
    x0, y0, x1, y1 = dressed.truth["devices"][0]["bbox_px"]
    ys, xs = np.nonzero(dressed.device_mask)
    assert x0 <= xs.min() and xs.max() <= x1 and y0 <= ys.min() and ys.max() <= y1  # within what was drawn
    t = case_targets(dressed)
    assert t.devices is not None and t.devices.shape == t.lesion.shape and t.devices.max() > 0.5
    none_drawn = _film(volume, "all", share=0.0)
    assert none_drawn.device_mask is not None and not none_drawn.device_mask.any()


def _training_set(device_weight: float) -> object:
    from encoder.dataset import TrainingSet

    rng = np.random.default_rng(0)
    lesion = np.zeros((2, 256, 256), np.uint8)
    lesion[:, 100:110, 100:110] = 255  # one lesion per sample
    devices = np.zeros((2, 256, 256), np.uint8)
    devices[:, 40:48, 150:158] = 255  # and one device, apart from it
    return TrainingSet(images=rng.random((2, 512, 512)).astype(np.float16), anatomy=np.zeros((2, 17, 128, 128), np.uint8),
                       lesion=lesion, hilum=np.full((2, 2, 2), 256.0, np.float32), seeds=np.arange(2),
                       devices=devices if device_weight > 0 else None)


@pytest.mark.parametrize("zoom", [0.0, 1.0])
def test_device_pixels_weigh_more_in_the_lesion_loss_and_move_with_the_target(zoom: float) -> None:
    from encoder.train import make_batch

    off = make_batch(_training_set(0.0), np.arange(2), np.random.default_rng(5), 8, zoom_out_p=zoom)  # type: ignore[arg-type]
    on = make_batch(_training_set(20.0), np.arange(2), np.random.default_rng(5), 8, zoom_out_p=zoom,  # type: ignore[arg-type]
                    device_weight=20.0)
    assert torch_equal(on["lesion"], off["lesion"]) and torch_equal(on["image"], off["image"])  # the same draws
    raised = (on["lesion_weight"] > off["lesion_weight"] + 1e-6).numpy()
    assert raised.any()
    assert not (raised & (on["lesion"].numpy() >= 0.5)).any()  # a lesion pixel keeps its own weight
    # the raised pixels are where the device went, shifted and zoomed as the lesion was: beside it, not on it
    ys, xs = np.nonzero(raised[0, 0])
    ly, lx = np.nonzero(on["lesion"].numpy()[0, 0] >= 0.5)
    assert abs((ys.mean() - ly.mean()) / (xs.mean() - lx.mean()) - (44 - 105) / (154 - 105)) < 0.3
    assert float(on["lesion_weight"].max()) >= 15.0


def torch_equal(a: object, b: object) -> bool:
    import torch

    return bool(torch.equal(a, b))  # type: ignore[arg-type]


def test_load_dataset_reads_where_devices_lie_only_when_weighed(tmp_path: object, volume: PhantomVolume) -> None:
    from pathlib import Path

    from encoder.dataset import generate_dataset, load_dataset

    root = Path(str(tmp_path))
    generate_dataset([1000], root / "dev", workers=1, lesion_mix="none", devices="ecg")
    generate_dataset([1001], root / "bare", workers=1, lesion_mix="none")
    assert load_dataset(root / "dev", root / "bare").devices is None
    data = load_dataset(root / "dev", root / "bare", devices=True)
    assert data.devices is not None
    assert data.devices[0].max() == 255 and data.devices[1].max() == 0  # a set without devices weighs none
