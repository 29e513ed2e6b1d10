"""Training pieces: targets share the serving geometry, the loss goes down, checkpoints resume.

The phantom engine is replaced here by a small synthetic case (a *double* named as such):
these tests check the training code, not the phantom.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.dataset import (
    EVAL_SEEDS,
    TRAIN_SEEDS,
    TrainingSet,
    case_targets,
    format_seeds,
    load_dataset,
    parse_seeds,
    to_working_points,
)
from encoder.train import (
    LESION_MAX_BOOST,
    TrainConfig,
    compute_losses,
    hilum_target,
    lesion_pixel_weights,
    make_batch,
    train,
)
from export.onnx import load_checkpoint
from orchestrator.contracts.preprocess import Resampling, prepare_film
from orchestrator.encoders.postprocess import heatmap_point


def double_case(seed: int, size: int = 600) -> SimpleNamespace:
    """A synthetic stand-in for encoder.phantom's case (not the phantom)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, : size - 40]
    masks = np.zeros((len(ANATOMY_CLASSES), *yy.shape), dtype=bool)
    masks[0] = ((xx - 170) / 120.0) ** 2 + ((yy - 300) / 200.0) ** 2 < 1
    masks[1] = ((xx - 390) / 120.0) ** 2 + ((yy - 300) / 200.0) ** 2 < 1
    image = (0.6 - 0.3 * (masks[0] | masks[1]) + 0.05 * rng.random(yy.shape)).astype(np.float32)
    cx, cy = 150 + int(rng.integers(0, 40)), 260 + int(rng.integers(0, 60))
    lesion = (xx - cx) ** 2 + (yy - cy) ** 2 < 10**2
    image[lesion] += 0.3
    return SimpleNamespace(
        image=image, masks=masks, lesion_mask=lesion, pixel_spacing_mm=(0.7, 0.7),
        hilum_px={"right": (230.0, 280.0), "left": (330.0, 290.0)},
        truth={"lesions": [{"center_px": [float(cx), float(cy)], "diameter_mm": 14.0}]},
    )


def test_load_dataset_reads_every_directory_in_order(tmp_path: Path) -> None:
    data = _training_set(3)
    _write_cases(tmp_path / "a", data, slice(0, 2), [1001, 1000])
    _write_cases(tmp_path / "b", data, slice(2, 3), [1500])
    both = load_dataset(tmp_path / "a", tmp_path / "b")
    assert both.seeds.tolist() == [1000, 1001, 1500]
    assert np.array_equal(both.lesion[2], data.lesion[2])
    with pytest.raises(FileNotFoundError, match="hilum train --generate"):
        load_dataset(tmp_path / "missing")


def test_generate_refuses_seeds_outside_the_training_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli import main

    code = main(["train", "--generate", "20", "--first-seed", "1990", "--generate-only", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "training range 1000-1999" in capsys.readouterr().out
    assert not list(tmp_path.glob("case_*"))


def test_train_and_eval_seed_ranges_are_disjoint() -> None:
    assert not set(TRAIN_SEEDS) & set(EVAL_SEEDS)
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert format_seeds(parse_seeds("200-399,0-49,60")) == "0-49,60,200-399"
    assert format_seeds([5, 3, 9, 4]) == "3-5,9"
    assert parse_seeds(format_seeds([0, 2, 3, 10])) == [0, 2, 3, 10]


def test_targets_follow_the_film_geometry() -> None:
    case = double_case(0)
    t = case_targets(case)
    assert t.image.shape == (512, 512) and t.anatomy.shape == (len(ANATOMY_CLASSES), 128, 128)
    assert t.lesion.shape == (256, 256)
    # a non-square film is padded left/right by 20 px then scaled 600 -> 512
    x, y = to_working_points((0.0, 0.0), prepare_resampling(case))
    assert abs(x - ((20 + 0.5) * 512 / 600 - 0.5)) < 1e-6 and abs(y - (0.5 * 512 / 600 - 0.5)) < 1e-6
    # the lesion target's centre of mass sits where the lesion is
    ys, xs = np.nonzero(t.lesion > 0.5)
    cx, cy = to_working_points(case.truth["lesions"][0]["center_px"], prepare_resampling(case))
    assert abs((xs.mean() + 0.5) * 2 - 0.5 - cx) < 2.0 and abs((ys.mean() + 0.5) * 2 - 0.5 - cy) < 2.0


def prepare_resampling(case: SimpleNamespace) -> Resampling:
    return prepare_film(case.image)[1]


def test_hilum_target_peak_decodes_to_the_point() -> None:
    points = torch.tensor([[[201.3, 250.7], [333.0, 260.2]]])
    target = hilum_target(points, 128, 4).reshape(1, 2, 128, 128)
    for side in range(2):
        x, y = heatmap_point(np.log(target[0, side].numpy() + 1e-30), 4.0)
        assert abs(x - float(points[0, side, 0])) < 0.5 and abs(y - float(points[0, side, 1])) < 0.5


def _training_set(n: int) -> TrainingSet:
    ts = [case_targets(double_case(s)) for s in range(n)]
    return TrainingSet(
        images=np.stack([t.image for t in ts]).astype(np.float16),
        anatomy=np.stack([np.rint(t.anatomy * 255) for t in ts]).astype(np.uint8),
        lesion=np.stack([np.rint(t.lesion * 255) for t in ts]).astype(np.uint8),
        hilum=np.stack([t.hilum for t in ts]), seeds=np.arange(n),
    )


def test_a_few_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    from encoder.network import build_network

    data = _training_set(2)
    rng = np.random.default_rng(0)
    model = build_network().train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = make_batch(data, np.array([0, 1]), rng, max_shift=0)
    first = None
    for _ in range(8):
        loss = compute_losses(model(batch["image"]), batch)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first


def test_lesion_weights_balance_small_and_large_lesions() -> None:
    target = np.zeros((256, 256), dtype=np.float32)
    target[20:25, 20:25] = 1.0  # a 5x5 nodule
    target[100:200, 100:200] = 1.0  # an effusion-sized opacity
    target[60, 60] = 0.3  # soft edge below 0.5: not a lesion
    w = lesion_pixel_weights(target)
    assert w[22, 22] == LESION_MAX_BOOST  # clipped boost for the small one
    assert w[150, 150] == 1.0  # large opacities are not boosted
    assert w[18, 22] == LESION_MAX_BOOST  # the ring just outside the nodule edge counts too
    assert w[22, 30] == 1.0 and w[60, 60] == 1.0  # background stays 1
    mid = np.zeros_like(target)
    mid[0:20, 0:20] = 1.0  # 400 px = the reference area
    assert lesion_pixel_weights(mid)[10, 10] == 1.0


def test_init_from_starts_from_given_weights(tmp_path: Path) -> None:
    from encoder.network import build_network
    from encoder.train import init_state
    from export.onnx import save_weights

    torch.manual_seed(5)
    source = build_network()
    save_weights(source, tmp_path / "w.pt")
    cfg = TrainConfig(data_dir=tmp_path, out_dir=tmp_path / "run", weights_out=tmp_path / "o.pt",
                      seed=1, init_from=tmp_path / "w.pt")
    state = init_state(cfg)
    assert state.step == 0
    for name, value in source.state_dict().items():
        assert torch.equal(state.model.state_dict()[name], value), name


def _write_cases(data_dir: Path, data: TrainingSet, rows: slice, seeds: list[int]) -> None:
    data_dir.mkdir()
    for i, seed in zip(range(len(data))[rows], seeds, strict=True):
        np.savez(data_dir / f"case_{seed:05d}.npz", image=data.images[i], anatomy=data.anatomy[i],
                 lesion=data.lesion[i], hilum=data.hilum[i], spacing=np.float32(0.8), seed=np.int64(seed))


def test_train_writes_weights_and_resumes(tmp_path: Path) -> None:
    data = _training_set(2)
    _write_cases(tmp_path / "data", data, slice(0, 1), [0])
    _write_cases(tmp_path / "more", data, slice(1, 2), [1])
    cfg = TrainConfig(data_dir=tmp_path / "data", out_dir=tmp_path / "run", weights_out=tmp_path / "w.pt",
                      steps=2, batch_size=2, threads=1, extra_data_dirs=(tmp_path / "more",))
    first = train(cfg)
    assert (first["steps"], first["cases"]) == (2, 2)
    resumed = train(TrainConfig(**{**cfg.__dict__, "steps": 3, "resume": True}))
    assert resumed["steps"] == 3
    model = load_checkpoint(tmp_path / "w.pt")
    assert model(torch.zeros(1, 1, 512, 512))[0].shape[1] == len(ANATOMY_CLASSES)


def test_training_the_lesion_branch_alone_keeps_every_other_map(tmp_path: Path) -> None:
    """``--train-only lesion``: the lesion branch learns, the trunk, anatomy and hilum heads (and their
    batch-norm statistics) stay the init weights' own, so the anatomy maps are unchanged."""
    from encoder.network import LESION_BRANCH, build_network
    from export.onnx import save_weights

    torch.manual_seed(3)
    save_weights(build_network().eval(), tmp_path / "init.pt")
    data = _training_set(2)
    _write_cases(tmp_path / "data", data, slice(0, 2), [0, 1])
    cfg = TrainConfig(data_dir=tmp_path / "data", out_dir=tmp_path / "run", weights_out=tmp_path / "w.pt",
                      steps=3, batch_size=2, threads=1, lr=1e-2, init_from=tmp_path / "init.pt", train_only="lesion")
    assert train(cfg)["train_only"] == "lesion"
    before, after = load_checkpoint(tmp_path / "init.pt").state_dict(), load_checkpoint(tmp_path / "w.pt").state_dict()
    changed = {name.split(".")[0] for name in before if not torch.equal(before[name], after[name])}
    assert changed and changed <= set(LESION_BRANCH)
    film = torch.rand(1, 1, 512, 512)
    with torch.no_grad():
        a0, l0, h0 = load_checkpoint(tmp_path / "init.pt").eval()(film)
        a1, l1, h1 = load_checkpoint(tmp_path / "w.pt").eval()(film)
    assert torch.equal(a0, a1) and torch.equal(h0, h1) and not torch.equal(l0, l1)


def test_train_only_needs_weights_to_keep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli import main

    code = main(["train", "--train-only", "lesion", "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "r")])
    assert code == 2 and "--init-from" in capsys.readouterr().out


def test_init_from_keeps_its_architecture_and_a_wider_head_copies_the_rest(tmp_path: Path) -> None:
    from encoder.network import NetworkConfig, build_network
    from encoder.train import init_state
    from export.onnx import save_weights

    torch.manual_seed(5)
    wide = NetworkConfig(lesion=24, lesion_fine_blocks=2)
    save_weights(build_network(wide), tmp_path / "wide.pt")
    base = {"data_dir": tmp_path, "out_dir": tmp_path / "run", "weights_out": tmp_path / "o.pt", "seed": 1}
    # no architecture asked for: the source's, every tensor copied
    inherited = init_state(TrainConfig(**base, init_from=tmp_path / "wide.pt"))
    assert inherited.model.config == wide
    # a wider lesion head than the source's: the backbone is copied, the head is new
    save_weights(build_network(), tmp_path / "narrow.pt")
    source = load_checkpoint(tmp_path / "narrow.pt").state_dict()
    changes = (("lesion", 24), ("lesion_fine_blocks", 2))
    widened = init_state(TrainConfig(**base, init_from=tmp_path / "narrow.pt", network_changes=changes)).model.state_dict()
    assert torch.equal(widened["stage4.0.pw.0.weight"], source["stage4.0.pw.0.weight"])
    assert widened["lesion_head.weight"].shape == (1, 24, 1, 1) != source["lesion_head.weight"].shape
    assert "lesion_refine.0.dw.0.weight" in widened and "lesion_refine.0.dw.0.weight" not in source
    # a change to one field keeps the source's other fields (its 24-channel head), not the default's
    deeper = init_state(TrainConfig(**base, init_from=tmp_path / "wide.pt", network_changes=(("lesion_fine_blocks", 3),)))
    assert deeper.model.config == NetworkConfig(lesion=24, lesion_fine_blocks=3)


def test_step_batches_do_not_depend_on_who_builds_them() -> None:
    from encoder.train import StepBatches

    data = _training_set(3)
    one, other = StepBatches(data, seed=4, batch_size=2, max_shift=8), StepBatches(data, seed=4, batch_size=2, max_shift=8)
    for step in (0, 7):
        a, b = one[step], other[step]
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(one[0]["image"], one[1]["image"])  # each step draws its own batch
    # a spawned loader worker builds the very batches this process would, from the run's current step
    from encoder.train import batch_stream

    cfg = TrainConfig(data_dir=Path("."), out_dir=Path("."), weights_out=Path("."), seed=4, batch_size=2,
                      max_shift_px=8, loader_workers=1)
    stream = batch_stream(data, cfg, SimpleNamespace(step=7))  # type: ignore[arg-type]
    try:
        built = next(stream)
    finally:
        stream.close()
    assert all(torch.equal(built[k], one[7][k]) for k in built)


def test_training_with_loader_workers(tmp_path: Path) -> None:
    data = _training_set(2)
    _write_cases(tmp_path / "data", data, slice(0, 2), [0, 1])
    cfg = TrainConfig(data_dir=tmp_path / "data", out_dir=tmp_path / "run", weights_out=tmp_path / "w.pt",
                      steps=2, batch_size=2, threads=1, loader_workers=1)
    assert train(cfg)["steps"] == 2
    assert load_checkpoint(tmp_path / "w.pt")(torch.zeros(1, 1, 512, 512))[1].shape[-1] == 256


def _outputs_and_batch(n: int = 3) -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    c = len(ANATOMY_CLASSES)
    outputs = (torch.randn(n, c, 16, 16, generator=g), torch.randn(n, 1, 32, 32, generator=g),
               torch.randn(n, 2, 16, 16, generator=g))
    batch = {"anatomy": (torch.rand(n, c, 16, 16, generator=g) > 0.5).float(),
             "lesion": (torch.rand(n, 1, 32, 32, generator=g) > 0.9).float(),
             "hilum": torch.rand(n, 2, 2, generator=g) * 60}
    return outputs, batch


def test_a_fully_labelled_batch_gives_the_plain_losses() -> None:
    outputs, batch = _outputs_and_batch()
    plain = compute_losses(outputs, batch)
    marked = compute_losses(outputs, {**batch, "anatomy_known": torch.ones(3, len(ANATOMY_CLASSES)),
                                      "hilum_known": torch.ones(3)})
    for key in ("anat", "les", "hil", "total"):
        assert torch.allclose(plain[key], marked[key], atol=1e-6), key


def test_channels_and_hila_a_film_does_not_label_add_nothing() -> None:
    """Films of another patient's CT label only the lungs and the lesions (encoder/dataset.py)."""
    outputs, batch = _outputs_and_batch()
    known = torch.ones(3, len(ANATOMY_CLASSES))
    known[2, 2:] = 0.0  # the third film: lungs only
    hk = torch.tensor([1.0, 1.0, 0.0])
    base = compute_losses(outputs, {**batch, "anatomy_known": known, "hilum_known": hk})
    changed = {k: v.clone() for k, v in batch.items()}
    changed["anatomy"][2, 2:] = 1.0 - changed["anatomy"][2, 2:]  # whatever the unlabelled targets hold
    changed["hilum"][2] = 0.0
    other = compute_losses(outputs, {**changed, "anatomy_known": known, "hilum_known": hk})
    assert torch.allclose(base["anat"], other["anat"]) and torch.allclose(base["hil"], other["hil"])
    # ... while a labelled channel's target still counts
    changed["anatomy"][2, 0] = 1.0 - changed["anatomy"][2, 0]
    assert not torch.allclose(base["anat"], compute_losses(outputs, {**changed, "anatomy_known": known,
                                                                      "hilum_known": hk})["anat"])
    none = compute_losses(outputs, {**batch, "anatomy_known": known, "hilum_known": torch.zeros(3)})
    assert float(none["hil"]) == 0.0


def test_a_training_set_without_marks_is_fully_labelled_and_batches_carry_the_marks() -> None:
    data = _training_set(2)
    assert data.anatomy_known is not None and data.anatomy_known.shape == (2, len(ANATOMY_CLASSES))
    assert data.anatomy_known.all() and data.hilum_known is not None and data.hilum_known.all()
    batch = make_batch(data, np.array([1, 0]), np.random.default_rng(0), max_shift=0)
    assert batch["anatomy_known"].shape == (2, len(ANATOMY_CLASSES)) and batch["hilum_known"].tolist() == [1.0, 1.0]
