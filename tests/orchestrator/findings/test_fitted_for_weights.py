"""What is fitted on the encoder's maps belongs to one set of weights: promoting other weights
without refitting it fails here (the confidence tables, the plausibility step's certainty limit),
and the Triton repository serves the same weights as the embedded encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests.fit_entropy_limit import FACTOR
from orchestrator.findings import calibration, plausibility
from orchestrator.findings.fitted import weights_tag
from orchestrator.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_calibration_and_entropy_limit_name_the_shipped_weights() -> None:
    shipped = weights_tag(Path(Settings().onnx_path))
    assert json.loads(calibration.CALIBRATION_PATH.read_text())["weights"] == shipped
    assert json.loads(plausibility.ENTROPY_LIMIT_PATH.read_text())["weights"] == shipped


def test_entropy_limit_is_the_rule_applied_to_its_own_numbers() -> None:
    doc = json.loads(plausibility.ENTROPY_LIMIT_PATH.read_text())
    assert doc["factor"] == FACTOR
    assert plausibility.ENTROPY_MAX == doc["entropy_max"] == round(FACTOR * doc["mirrored_min"], 3)
    assert doc["films"]["mirrored"]["under_limit"] == 0  # no mirrored validation film passes
    assert doc["films"]["upright"]["under_limit"] == doc["films"]["upright"]["n"]  # every upright one does


def test_triton_repository_serves_the_embedded_weights() -> None:
    served = REPO_ROOT / "model_repository" / "anatomy_encoder" / "1" / "model.onnx"
    assert served.read_bytes() == Path(Settings().onnx_path).read_bytes()


@pytest.mark.parametrize("model", ["second_reader", "alone_reader"])
def test_the_second_readers_limit_and_tables_name_its_weights_and_triton_serves_them(model: str) -> None:
    """The second reader's and the films-read-alone reader's weights each carry their own fitted limit and tables,
    and Triton's repository serves each under its model name."""
    from orchestrator.findings.fitted import calibration_for, entropy_limit_for

    onnx = Path(getattr(Settings(), f"{model}_onnx_path"))
    assert entropy_limit_for(onnx) != plausibility.ENTROPY_MAX  # its own, fitted for it
    tables = calibration_for(onnx)
    assert tables is not None and json.loads(tables.read_text())["weights"] == weights_tag(onnx)
    served = REPO_ROOT / "model_repository" / model / "1" / "model.onnx"
    assert served.read_bytes() == onnx.read_bytes()
