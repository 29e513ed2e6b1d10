"""Example films for the web page: phantom cases generated on first request, cached on disk."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import SessionNotFoundError


@dataclass(frozen=True)
class ExampleCase:
    seed: int
    title: str
    scenario: bool  # the docs/SCENARIO.md case (RML nodule + LLL strand) or the phantom's own draw


EXAMPLES: tuple[ExampleCase, ...] = (
    ExampleCase(7, "Phantom 7 · scenario case", True),
    ExampleCase(11, "Phantom 11", False),
    ExampleCase(23, "Phantom 23", False),
)


class UnknownExampleError(SessionNotFoundError):
    kind = "example_not_found"


class ExampleLibrary:
    """``png(seed)``: the film of one example case, generated once under ``cache_dir``."""

    def __init__(self, cache_dir: Path, cases: tuple[ExampleCase, ...] = EXAMPLES) -> None:
        self.cache_dir = Path(cache_dir) / "examples"
        self.cases = {case.seed: case for case in cases}
        self._lock = threading.Lock()

    def list(self) -> list[ExampleCase]:
        return list(self.cases.values())

    def png(self, seed: int) -> bytes:
        case = self.cases.get(seed)
        if case is None:
            raise UnknownExampleError(f"no example film {seed}; known: {sorted(self.cases)}")
        target = self.cache_dir / str(seed)
        with self._lock:  # one generation at a time: the phantom is CPU-heavy
            if not (target / "image.png").is_file():
                self._generate(case, target)
        return (target / "image.png").read_bytes()

    @staticmethod
    def _generate(case: ExampleCase, target: Path) -> None:
        from encoder.phantom import generate_case, scenario_spec

        spec = scenario_spec() if case.scenario else None
        target.mkdir(parents=True, exist_ok=True)
        generate_case(case.seed, spec).write(target)
