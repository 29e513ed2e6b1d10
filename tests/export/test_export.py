"""ONNX export parity, TensorRT availability, the Triton repository writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder.network import build_network
from export.onnx import PARITY_TOLERANCE, export_onnx, ort_session, parity
from export.repository import PYTHON_MODEL_SOURCE, RepositoryConfig, render_config, write_repository
from export.tensorrt import tensorrt_unavailable_reason
from orchestrator.settings import Settings

TRT_REASON = tensorrt_unavailable_reason()


def test_onnx_parity_and_dynamic_batch(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = build_network().eval()
    path = export_onnx(model, tmp_path / "m.onnx")
    rng = np.random.default_rng(0)
    assert parity(model, path, [rng.random((512, 512), dtype=np.float32) for _ in range(2)]) <= PARITY_TOLERANCE
    outs = ort_session(path).run(None, {"image": rng.random((3, 1, 512, 512), dtype=np.float32)})
    assert [o.shape[0] for o in outs] == [3, 3, 3]


def test_an_ensemble_exports_as_one_network_whose_outputs_are_the_members_mean(tmp_path: Path) -> None:
    """``hilum export onnx --checkpoint A --checkpoint B``: one ONNX, the same tensor contract, each output the mean of
    the two networks' logits (``encoder.network.MeanOfNets``); one member alone is no ensemble."""
    from encoder.network import MeanOfNets
    from export.onnx import save_weights
    from orchestrator.cli import main

    nets = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        nets.append(build_network().eval())
        save_weights(nets[-1], tmp_path / f"m{seed}.pt")
    out = tmp_path / "mean.onnx"
    assert main(["export", "onnx", "--checkpoint", str(tmp_path / "m1.pt"), "--checkpoint", str(tmp_path / "m2.pt"),
                 "--out", str(out), "--parity-films", "1"]) == 0
    film = np.random.default_rng(4).random((2, 1, 512, 512), dtype=np.float32)
    got = ort_session(out).run(None, {"image": film})
    with torch.no_grad():
        each = [n(torch.from_numpy(film)) for n in nets]
    for k, value in enumerate(got):
        mean = ((each[0][k] + each[1][k]) / 2).numpy()
        assert value.shape == mean.shape and np.abs(value - mean).max() <= PARITY_TOLERANCE
        assert np.abs(value - each[0][k].numpy()).max() > 10 * PARITY_TOLERANCE  # not one member's alone
    assert main(["export", "onnx", "--checkpoint", str(tmp_path / "m1.pt"), "--checkpoint",
                 str(tmp_path / "absent.pt"), "--out", str(tmp_path / "x.onnx")]) == 2
    with pytest.raises(ValueError, match="at least two"):
        MeanOfNets([nets[0]])


def test_committed_onnx_matches_the_committed_checkpoint_when_present() -> None:
    settings = Settings()
    checkpoint = settings.onnx_path.with_suffix(".pt")
    if not checkpoint.is_file():
        pytest.skip("no committed checkpoint yet")
    from export.onnx import load_checkpoint

    films = [np.random.default_rng(1).random((512, 512), dtype=np.float32)]
    assert parity(load_checkpoint(checkpoint), settings.onnx_path, films) <= PARITY_TOLERANCE


def test_the_served_second_reader_is_the_mean_of_its_committed_members() -> None:
    """The ONNX that reads a film alone (an ensemble) is what its ``members.json`` says: the mean of those
    checkpoints, made by the command written there."""
    import json

    from export.onnx import load_members
    from orchestrator.settings import REPO_ROOT

    onnx_path = Settings().alone_reader_onnx_path
    assert onnx_path is not None
    doc = json.loads(onnx_path.with_name("members.json").read_text(encoding="utf-8"))
    members = [REPO_ROOT / p for p in doc["members"]]
    assert len(members) == 2 and all(p.is_file() for p in members)
    assert all(f"--checkpoint {p}" in doc["command"] for p in doc["members"])
    films = [np.random.default_rng(2).random((512, 512), dtype=np.float32)]
    assert parity(load_members(members), onnx_path, films) <= PARITY_TOLERANCE


@pytest.mark.skipif(TRT_REASON is not None, reason=f"TensorRT: {TRT_REASON}")
def test_tensorrt_engine_parity(tmp_path: Path) -> None:  # pragma: no cover - GPU machines only
    from export.tensorrt import FP32_TOLERANCE, Profile, build_engine, parity_vs_onnx

    onnx_path = Settings().onnx_path
    plan = build_engine(onnx_path, tmp_path / "m.plan", Profile())
    films = np.random.default_rng(0).random((4, 1, 512, 512), dtype=np.float32)
    assert parity_vs_onnx(plan, onnx_path, films) <= FP32_TOLERANCE


@pytest.mark.skipif(TRT_REASON is None, reason="TensorRT is available here")
def test_tensorrt_export_says_why_it_cannot_run() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "export", "tensorrt"], capture_output=True, text=True
    )
    assert out.returncode == 3
    assert "TensorRT export not possible here" in out.stdout and str(TRT_REASON) in out.stdout


def test_cpu_config_has_batching_and_warmup_and_no_queue_policy_by_default() -> None:
    text = render_config(RepositoryConfig())
    for needle in ('backend: "python"', "dynamic_batching", "preferred_batch_size", "max_queue_delay_microseconds",
                   "model_warmup", "KIND_CPU", 'name: "image"', 'name: "anatomy"', 'name: "lesion"', 'name: "hilum"'):
        assert needle in text
    assert "default_queue_policy" not in text  # it costs a CPU Triton a third of its throughput (README)
    with_policy = render_config(RepositoryConfig(queue_policy=True))
    assert "timeout_action: REJECT" in with_policy and "max_queue_size" in with_policy
    assert "timeout_action: REJECT" in render_config(RepositoryConfig(target="tensorrt"))  # a GPU keeps it
    assert "dynamic_batching" not in render_config(RepositoryConfig(dynamic_batching=False))


def test_the_queue_policy_can_be_left_out_and_batching_stays() -> None:
    text = render_config(RepositoryConfig(queue_policy=False))
    assert "dynamic_batching" in text and "max_queue_delay_microseconds" in text
    assert "default_queue_policy" not in text and "REJECT" not in text
    assert text.count("{") == text.count("}")


def test_timeout_override_is_written_as_configured() -> None:
    assert "allow_timeout_override: true" in render_config(RepositoryConfig(queue_policy=True))
    quiet = render_config(RepositoryConfig(queue_policy=True, allow_timeout_override=False, queue_timeout_us=0,
                                           max_queue_size=0))
    assert "allow_timeout_override: false" in quiet and "default_timeout_microseconds: 0" in quiet


def test_tensorrt_config_uses_the_same_tensors() -> None:
    cpu, trt = render_config(RepositoryConfig()), render_config(RepositoryConfig(target="tensorrt"))
    assert 'platform: "tensorrt_plan"' in trt and "KIND_GPU" in trt
    tensors = [line for line in cpu.splitlines() if "data_type: TYPE_FP32 dims" in line and "name:" in line]
    for line in tensors:
        assert line in trt


def test_write_repository_and_the_committed_one_is_current(tmp_path: Path) -> None:
    settings = Settings()
    model_dir = write_repository(tmp_path, RepositoryConfig(), settings.onnx_path)
    assert (model_dir / "1" / "model.py").read_text() == PYTHON_MODEL_SOURCE.read_text()
    committed = settings.model_repository / "anatomy_encoder"
    assert (committed / "config.pbtxt").read_text() == (model_dir / "config.pbtxt").read_text()
    assert (committed / "1" / "model.py").read_text() == PYTHON_MODEL_SOURCE.read_text()
    assert (committed / "1" / "model.onnx").read_bytes() == settings.onnx_path.read_bytes(), (
        "model_repository is stale: run `hilum export repository`"
    )


def test_no_alone_reader_is_written_where_the_second_reader_reads_alone_itself(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.cli import main

    monkeypatch.setenv("HILUM_ALONE_READER_ONNX_PATH", str(Settings().second_reader_onnx_path))
    assert main(["export", "repository", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "second_reader" / "config.pbtxt").is_file() and not (tmp_path / "alone_reader").exists()


def test_export_repository_flags_reach_the_written_config(tmp_path: Path) -> None:
    from orchestrator.cli import main

    assert main(["export", "repository", "--out", str(tmp_path / "plain")]) == 0
    assert main(["export", "repository", "--out", str(tmp_path / "bounded"), "--queue-policy"]) == 0
    # the second reader beside the encoder, configured alike, from its own weights; the committed one is current
    second = tmp_path / "plain" / "second_reader"
    committed = Settings().model_repository / "second_reader"
    assert (second / "config.pbtxt").read_text() == (committed / "config.pbtxt").read_text()
    assert 'name: "second_reader"' in (second / "config.pbtxt").read_text()
    assert (second / "1" / "model.onnx").read_bytes() == (committed / "1" / "model.onnx").read_bytes() \
        == Settings().second_reader_onnx_path.read_bytes()
    # and the weights that read a film alone, where they are others than the second reader's
    alone, committed_alone = tmp_path / "plain" / "alone_reader", Settings().model_repository / "alone_reader"
    assert (alone / "config.pbtxt").read_text() == (committed_alone / "config.pbtxt").read_text()
    assert 'name: "alone_reader"' in (alone / "config.pbtxt").read_text()
    alone_onnx = Settings().alone_reader_onnx_path
    assert alone_onnx is not None and alone_onnx.read_bytes() != Settings().second_reader_onnx_path.read_bytes()
    assert (alone / "1" / "model.onnx").read_bytes() == (committed_alone / "1" / "model.onnx").read_bytes() \
        == alone_onnx.read_bytes()
    plain = (tmp_path / "plain" / "anatomy_encoder" / "config.pbtxt").read_text()
    bounded = (tmp_path / "bounded" / "anatomy_encoder" / "config.pbtxt").read_text()
    assert "default_queue_policy" in bounded and "default_queue_policy" not in plain
    assert "dynamic_batching" in bounded and "dynamic_batching" in plain
    fast = plain
    assert "dynamic_batching" in fast
