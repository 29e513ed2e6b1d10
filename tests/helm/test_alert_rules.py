"""The chart's alert rules pass ``promtool check rules`` and their unit tests (``promtool test rules``),
and name only metrics that exist: the orchestrator's from its real registry."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "helm" / "hilum" / "rules"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) not installed")
ALERTS = {"HilumFirstTurnP99OverBudget", "HilumErrorRateHigh", "HilumTritonDown", "HilumEncoderNotReady",
          "HilumSecondReaderNotReady", "HilumFilmsUnlikeTraining",
          "HilumVLLMDown", "HilumGPUSaturatedQueueGrowing", "HilumPrefixCacheHitRateCollapsed", "HilumRedisDown"}


def promtool(*args: str, cwd: Path = RULES) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rules_pass_promtool_check() -> None:
    done = promtool("check", "rules", "hilum-alerts.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_every_alert_has_a_passing_unit_test() -> None:
    tests = sorted((RULES / "tests").glob("*.yaml"))
    assert tests
    done = promtool("test", "rules", *[str(t.relative_to(RULES)) for t in tests])
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {case["alertname"] for t in tests for group in yaml.safe_load(t.read_text())["tests"]
              for case in group.get("alert_rule_test", [])}
    fired = {case["alertname"] for t in tests for group in yaml.safe_load(t.read_text())["tests"]
             for case in group.get("alert_rule_test", []) if case.get("exp_alerts")}
    rules = {r["alert"] for g in yaml.safe_load((RULES / "hilum-alerts.yaml").read_text())["groups"] for r in g["rules"]}
    assert rules == ALERTS and tested == ALERTS and fired == ALERTS


def test_a_broken_expectation_fails(tmp_path: Path) -> None:
    """promtool test rules can fail: the same test with the budget's summary changed does."""
    source = (RULES / "tests" / "hilum-alerts-test.yaml").read_text()
    broken = source.replace("../hilum-alerts.yaml", str(RULES / "hilum-alerts.yaml")).replace("9.95s", "9.9s")
    assert broken != source
    (tmp_path / "broken.yaml").write_text(broken)
    done = promtool("test", "rules", "broken.yaml", cwd=tmp_path)
    assert done.returncode != 0 and "HilumFirstTurnP99OverBudget" in done.stdout + done.stderr


def test_hilum_metric_names_in_rules_exist_in_the_orchestrator_registry() -> None:
    from prometheus_client import generate_latest

    from orchestrator.metrics import ServiceMetrics

    metrics = ServiceMetrics()
    metrics.request("http", "POST /v1/sessions", 200, 0.1)
    metrics.turn("screen", 0.1)
    metrics.error("bad_input")
    metrics.inflight.labels("http")
    metrics.store_up("redis", True)  # labelled series appear once the store has answered or failed once
    metrics.tenant_sessions("default", 1)

    class Encoder:
        calls, batches, pending = 1, 1, 0

        def ready(self) -> bool:
            return True

    metrics.watch_encoder(Encoder())
    metrics.watch_second_reader(Encoder())  # its series are the encoder's under hilum_second_reader_*
    metrics.watch_alone_reader(Encoder())  # and hilum_alone_reader_*
    exposed = set(re.findall(r"^(hilum_\w+?)(?:\{| )", generate_latest(metrics.registry).decode(), re.M))
    used = set(re.findall(r"\bhilum_\w+", (RULES / "hilum-alerts.yaml").read_text()))
    used -= {"hilum_narrator_replica_requests_total"}  # runbook text; registered only with a vLLM narrator
    assert used and used <= exposed, used - exposed
