"""Liveness and readiness: ready once the encoder answers, not ready again while draining."""

from __future__ import annotations

import threading
from typing import Any


class Readiness:
    def __init__(self, encoder: Any | None) -> None:
        self.encoder = encoder
        self.warmed = threading.Event()  # set after the encoder's first pass (server warm-up)
        self.draining = threading.Event()

    def encoder_ready(self) -> bool:
        if self.encoder is None:
            return True
        if not self.warmed.is_set():
            return False
        try:
            return bool(self.encoder.ready())
        except Exception:  # noqa: BLE001 - a failing probe means not ready
            return False

    def check(self) -> tuple[bool, dict[str, Any]]:
        encoder_ok = self.encoder_ready()
        detail = {
            "encoder": getattr(self.encoder, "name", "none"),
            "encoder_ready": encoder_ok,
            "warmed": self.warmed.is_set(),
            "draining": self.draining.is_set(),
        }
        return encoder_ok and not self.draining.is_set(), detail
