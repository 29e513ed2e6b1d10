"""Phantom films for the evaluation tests, generated once per session (truth maps as input)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from evaluation.scoring import case_spacing, truth_maps
from orchestrator.facts import ImageFacts
from orchestrator.findings import analyse

Results = list[tuple[ImageFacts, list[dict[str, Any]]]]


@pytest.fixture(scope="session")
def phantom_results() -> Callable[[int], Results]:
    """``get(n)``: (facts, truth lesions) for phantom seeds 0..n-1, analysed from the truth
    maps; films are generated once per session and shared between tests."""
    phantom = pytest.importorskip("encoder.phantom")
    done: Results = []

    def get(n: int) -> Results:
        while len(done) < n:
            case = phantom.generate_case(len(done))
            done.append((analyse(truth_maps(case), case_spacing(case)), list(case.truth["lesions"])))
        return done[:n]

    return get
