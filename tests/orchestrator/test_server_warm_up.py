"""``orchestrator.server.warm_up``: the service says it is ready only after its encoder answered a blank
film, and ``hilum serve`` (``freeze_gc``) moves what start-up made out of the garbage collector's view
first; in-process services (tests) leave the collector as it is."""

from __future__ import annotations

import gc
import threading

import pytest

from orchestrator.server import build_services, warm_up
from orchestrator.settings import Settings


@pytest.mark.parametrize("freeze", [False, True])
def test_warm_up_marks_ready_and_freezes_only_when_asked(freeze: bool) -> None:
    services = build_services(Settings())
    frozen_before = gc.get_freeze_count()
    try:
        assert not services.readiness.warmed.is_set()
        warm_up(services, threading.Event(), freeze_gc=freeze)
        assert services.readiness.warmed.is_set()
        if freeze:
            assert gc.get_freeze_count() > frozen_before
        else:
            assert gc.get_freeze_count() == frozen_before
    finally:
        gc.unfreeze()  # the test process's collector as it was (nothing was frozen before: see below)
        services.close()
    assert frozen_before == 0
