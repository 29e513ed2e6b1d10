"""What the engine reports as it works; the metrics module implements it for Prometheus."""

from __future__ import annotations

from typing import Protocol


class EngineObserver(Protocol):
    def stage(self, stage: str, seconds: float) -> None:
        """decode, encode, findings, compose, narrate."""

    def turn(self, intent: str, seconds: float) -> None: ...

    def anchor_resolution(self, outcome: str) -> None:
        """resolved, ambiguous, none."""

    def error(self, kind: str) -> None: ...

    def sessions_active(self, count: int) -> None: ...


class NullObserver:
    def stage(self, stage: str, seconds: float) -> None:
        return None

    def turn(self, intent: str, seconds: float) -> None:
        return None

    def anchor_resolution(self, outcome: str) -> None:
        return None

    def error(self, kind: str) -> None:
        return None

    def sessions_active(self, count: int) -> None:
        return None
