"""The reader network answers the contract's outputs; the symmetries turn clock hours correctly;
a few training steps fit a small batch; the scorer counts what it says it counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from encoder.lesion_reader.evaluate import ece, score
from encoder.lesion_reader.network import LesionReaderNet, load_reader, save_reader
from encoder.lesion_reader.train import (
    LOSS_WEIGHTS,
    dihedral,
    hour_map,
    hour_vector,
    losses,
    make_batch,
    permute_hours,
    targets,
)
from orchestrator.contracts.lesion_reader import OUTPUTS, LesionReading


def test_the_network_answers_every_contract_output_with_its_shape(tmp_path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    model = LesionReaderNet().eval()
    with torch.no_grad():
        out = model.named_outputs(torch.rand(3, 2, 256, 256))
    assert list(out) == list(OUTPUTS)
    for name, shape in OUTPUTS.items():
        assert tuple(out[name].shape) == (3, *shape), name
    assert (out["diameter_mm"] > 0).all() and (out["spicule_count"] >= 0).all()
    assert sum(p.numel() for p in model.parameters()) * 4 < 10 * 2**20  # ships under 10 MB
    save_reader(model, tmp_path / "r.pt", {"note": "test"})
    again = load_reader(tmp_path / "r.pt")
    x = torch.rand(1, 2, 256, 256)
    with torch.no_grad():
        assert torch.equal(model(x)[1], again(x)[1])


def _hour_of(img: np.ndarray) -> int:
    ys, xs = np.nonzero(img)
    c = (img.shape[0] - 1) / 2
    angle = math.degrees(math.atan2(xs.mean() - c, -(ys.mean() - c))) % 360
    h = round(angle / 30) % 12
    return 12 if h == 0 else h


@pytest.mark.parametrize("op", range(8))
def test_a_symmetry_of_the_crop_moves_clock_hours_as_the_labels_say(op: int) -> None:
    for hour in range(1, 13):
        a = math.radians(hour * 30)
        img = torch.zeros(64, 64)
        x, y = round(31.5 + 20 * math.sin(a)), round(31.5 - 20 * math.cos(a))
        img[y - 1 : y + 2, x - 1 : x + 2] = 1.0
        assert _hour_of(img.numpy()) == hour
        moved = _hour_of(dihedral(img, op).numpy())
        assert moved == hour_map(op)[hour - 1] + 1
        label = permute_hours(torch.from_numpy(hour_vector([hour])), op)
        assert int(torch.argmax(label)) + 1 == moved


def _truth(margin: str, notches: list[int], spicules: list[int], diameter: float = 14.0, kind: str = "nodule") -> dict:
    return {"type": kind, "margin": margin, "notches_clock": notches, "spicule_clock": spicules,
            "spicule_count": len(spicules), "spicule_lengths_mm": [4.0] * len(spicules),
            "calcified": kind == "calcified_nodule", "cavitation": kind == "cavity", "diameter_mm": diameter}


def test_a_few_steps_fit_a_small_batch() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    truths = [_truth("spiculated", [], [1, 4, 7, 10]), _truth("smooth", [], [], 20.0),
              _truth("lobulated", [2, 8], [], 11.0), _truth("smooth", [], [], 9.0, "calcified_nodule")]
    crops = rng.random((4, 2, 256, 256)).astype(np.float16)
    masks = np.zeros((4, 128, 128), bool)
    masks[:, 50:78, 50:78] = True
    tg = targets(truths)
    model = LesionReaderNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = last = 0.0
    for step in range(12):
        x, t = make_batch(crops, masks, tg, np.arange(4), rng)
        parts = losses(model.train().named_outputs(x), t)
        total = sum(LOSS_WEIGHTS[k] * v for k, v in parts.items())
        opt.zero_grad()
        total.backward()
        opt.step()
        first = float(total.detach()) if step == 0 else first
        last = float(total.detach())
    assert last < 0.8 * first, (first, last)


def _reading(margin: str, notches: list[int], spicules: list[int], diameter: float) -> LesionReading:
    probs = {m: 0.9 if m == margin else 0.05 for m in ("smooth", "lobulated", "spiculated")}
    return LesionReading(margin=margin, margin_probs=probs, notches_clock=notches, notch_probs=[0.0] * 12,
                         spicules=len(spicules), spicule_clock=spicules, spicule_probs=[0.0] * 12,
                         spicule_length_mm=[4.0] * len(spicules), spicule_count_raw=float(len(spicules)),
                         calcified=False, p_calcified=0.1, cavitation=False, p_cavity=0.1, diameter_mm=diameter,
                         mask=np.zeros((128, 128), np.float32))


def test_the_scorer_counts_hits_and_misses() -> None:
    truths = [_truth("spiculated", [], [1, 4, 7, 10]), _truth("lobulated", [3, 9], []), _truth("smooth", [], [], 8.0)]
    right = [_reading("spiculated", [], [1, 4, 7, 11], 14.5), _reading("lobulated", [4, 9], [], 14.0),
             _reading("smooth", [], [], 8.0)]
    s = score(right, truths)
    assert s["margin_class_nodules_ge10mm"] == {"rate": 1.0, "n": 2, "hits": 2}  # the 8 mm one is not counted
    assert s["spicule_count_within_1"]["rate"] == 1.0 and s["notch_hours_found_within_1h"]["rate"] == 1.0
    assert s["diameter_within_15pct_round_ge8mm"] == {"rate": 1.0, "n": 3, "hits": 3}
    wrong = [_reading("smooth", [], [], 20.0), _reading("spiculated", [], [2, 5], 14.0), _reading("smooth", [], [], 8.0)]
    s = score(wrong, truths)
    assert s["margin_class_nodules_ge10mm"]["hits"] == 0
    assert s["smooth_vs_irregular_nodules_ge10mm"]["rate"] == 0.5  # lobulated read spiculated: still irregular
    assert s["spicule_count_within_1"]["rate"] == 0.0
    assert s["diameter_within_15pct_round_ge8mm"]["hits"] == 2
    assert ece([0.9, 0.9], [True, True]) == pytest.approx(0.1)


def test_film_randomisation_changes_the_look_and_keeps_the_range() -> None:
    from encoder.lesion_reader.train import randomise_film

    films = torch.rand(16, 256, 256) * 0.5 + 0.25
    before = films.clone()
    out = randomise_film(films, np.random.default_rng(3))
    assert out.shape == films.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    changed = [not torch.equal(a, b) for a, b in zip(out, films, strict=True)]
    assert 8 <= sum(changed) <= 16  # each transform is drawn per crop
    assert torch.equal(films, before)  # the input is not modified in place


def test_the_fitted_temperature_undoes_overconfidence_and_keeps_decisions() -> None:
    from encoder.lesion_reader.calibrate import fit_temperature, nll

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    logits = rng.normal(0.0, 1.0, (600, 3))
    logits[np.arange(600), labels] += 1.0  # informative logits ...
    sharp = logits * 4.0  # ... made four times too sure
    t = fit_temperature(sharp, labels)
    assert 3.0 < t < 5.5, t
    assert nll(sharp, labels, t) < nll(sharp, labels, 1.0)


def test_the_temperature_divides_the_margin_logits_only() -> None:
    from encoder.lesion_reader.network import ReaderConfig

    torch.manual_seed(0)
    plain = LesionReaderNet().eval()
    warm = LesionReaderNet(ReaderConfig(margin_temperature=2.0)).eval()
    warm.load_state_dict(plain.state_dict())
    x = torch.rand(2, 2, 256, 256)
    with torch.no_grad():
        a, b = plain.named_outputs(x), warm.named_outputs(x)
    assert torch.allclose(a["margin"], 2.0 * b["margin"], atol=1e-6)
    assert torch.equal(a["diameter_mm"], b["diameter_mm"])
    assert ReaderConfig.from_dict(warm.config.as_dict()).margin_temperature == 2.0


def test_the_mask_blur_keeps_where_the_candidate_is_not_its_outline() -> None:
    from encoder.lesion_reader.network import ReaderConfig

    yy, xx = np.mgrid[:256, :256]
    r = np.hypot(yy - 128, xx - 128)
    disk = (r < 40).astype(np.float32)
    notched = disk.copy()
    for a in np.linspace(0, 2 * np.pi, 8, endpoint=False):  # eight notches 2 mm deep in the outline
        notched[np.hypot(yy - 128 - 40 * np.sin(a), xx - 128 - 40 * np.cos(a)) < 8] = 0.0
    crops = torch.zeros(2, 2, 256, 256)
    crops[0, 1], crops[1, 1] = torch.from_numpy(disk), torch.from_numpy(notched * 0.6)  # weaker, like a map
    net = LesionReaderNet(ReaderConfig(mask_blur_px=12.0))
    m = net._blurred_mask(crops)[:, 1]
    assert torch.allclose(m.amax(dim=(1, 2)), torch.ones(2), atol=2e-3)  # scaled to a peak of 1
    assert float((m[0] - m[1]).abs().max()) < 0.2  # the outlines' difference is blurred away ...
    assert float(m[0, 128, 128]) > 0.9 > 0.2 > float(m[0, 128, 10])  # ... where the candidate is stays
    raw = LesionReaderNet()._blurred_mask(crops)
    assert torch.equal(raw, crops)  # 0: the channel as given
