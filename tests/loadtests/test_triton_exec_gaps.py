"""The execute-gap diagnostic: the traced model is the shipped one plus timing, and the gap
statistics read a trace the way the docstring says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from export.repository import PYTHON_MODEL_SOURCE
from loadtests.triton_exec_gaps import WRAPPED_EXECUTE, gap_stats, traced_model_source


def test_the_traced_model_wraps_the_shipped_execute_and_still_compiles(tmp_path: Path) -> None:
    shipped = Path(PYTHON_MODEL_SOURCE).read_text()
    traced = traced_model_source(shipped, tmp_path)
    compile(traced, "model.py", "exec")
    assert traced.count("def execute(") == 1 and "def _timed_execute(" in traced
    assert f"{tmp_path}/stub_" in traced
    # everything else of the shipped model is kept as it is
    wrapper = WRAPPED_EXECUTE.replace("{TRACE_DIR}", str(tmp_path))
    assert traced.replace(wrapper, "    def execute(self, requests: list[Any]) -> list[Any]:\n") == shipped


def test_a_model_without_one_execute_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="execute"):
        traced_model_source("class TritonPythonModel:\n    pass\n", tmp_path)


def test_gaps_are_measured_from_one_execute_ending_to_the_next_starting() -> None:
    trace = np.array([[0.000, 0.100, 2], [0.110, 0.210, 2], [0.240, 0.300, 4]])
    s = gap_stats(trace)
    assert s["executions"] == 3 and s["mean_batch"] == pytest.approx(8 / 3)
    assert s["busy"] == pytest.approx(0.26 / 0.30)
    assert s["gap_mean_ms"] == pytest.approx(20.0) and s["gap_max_ms"] == pytest.approx(30.0)
    assert s["gap_p50_ms"] == pytest.approx(20.0)
