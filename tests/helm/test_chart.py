"""The Helm chart renders to valid Kubernetes YAML, with the parts Hilum relies on.

No ``helm`` binary installs from PyPI or Debian here, so the chart is rendered by
``ops/helm_render.py`` (Go-template and Sprig semantics for exactly the constructs the chart
uses; anything else fails). ``tests/helm/test_rendered_manifests.py`` validates what it renders
against the Kubernetes schemas; where a real ``helm`` is on PATH, ``helm lint`` and
``helm template`` run too and must agree with it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.helm_render import TemplateError, merge, render_chart

CHART = Path(__file__).resolve().parents[2] / "helm" / "hilum"


def render(overrides: dict[str, Any] | None = None, release: str = "hilum") -> list[dict[str, Any]]:
    return render_chart(CHART, overrides=overrides, release=release).documents()


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


KEY_HASH = "sha256:" + "ab" * 32
SALT = {"narrator": {"cacheSaltKey": "test-key"}, "apiKeys": {"tenants": {"clinic-a": [KEY_HASH]}}}

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": SALT,
    "embedded-encoder-external-llm": merge(SALT, {"triton": {"enabled": False}, "vllm": {"enabled": False},
                                                  "narrator": {"externalUrls": ["http://gpu-box:8000"]}}),
    "bare": merge(SALT, {"triton": {"enabled": False}, "vllm": {"enabled": False}, "redis": {"enabled": False},
                         "serviceMonitor": {"enabled": False}, "orchestrator": {"autoscaling": {"enabled": False}},
                         "prometheusRule": {"enabled": False}, "grafanaDashboard": {"enabled": False}}),
    "model-repository-from-image": merge(SALT, {"triton": {"modelRepository": {"source": "image"}},
                                                "vllm": {"hfTokenSecret": {"name": "hf"}, "offline": True,
                                                         "cache": {"claimName": "hf-cache"},
                                                         "extraArgs": ["--max-num-seqs=64"]},
                                                "serviceMonitor": {"labels": {"release": "prom"}}}),
    "existing-secret": {"narrator": {"existingSecret": "my-secret"}, "apiKeys": {"existingSecret": "keys"}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_template_renders_to_kubernetes_objects(variant: str) -> None:
    docs = render(VARIANTS[variant])
    assert docs
    for doc in docs:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"].startswith("hilum-")
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "hilum"


def test_vllm_serves_medgemma_with_prefix_caching_one_pod_per_replica() -> None:
    docs = render(SALT)
    sts = _find(docs, "StatefulSet", "hilum-vllm")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["vllm"]
    args = container["args"]
    assert args[:2] == ["serve", "google/medgemma-4b-it"]
    assert "--enable-prefix-caching" in args and "--enable-prompt-tokens-details" in args
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    service = _find(docs, "Service", "hilum-vllm")
    assert service["spec"]["clusterIP"] == "None" and sts["spec"]["serviceName"] == "hilum-vllm"
    settings = _find(docs, "ConfigMap", "hilum-settings")["data"]
    assert json.loads(settings["HILUM_LLM_URLS"]) == [
        "http://hilum-vllm-0.hilum-vllm:8000", "http://hilum-vllm-1.hilum-vllm:8000"]
    assert settings["HILUM_LLM_MODEL"] == "google/medgemma-4b-it"


def test_orchestrator_ports_hpa_settings_and_salt_secret() -> None:
    docs = render(SALT)
    deployment = _find(docs, "Deployment", "hilum-orchestrator")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 7860, "grpc": 50051}
    salt_env = next(e for e in container["env"] if e["name"] == "HILUM_CACHE_SALT_KEY")
    assert salt_env["valueFrom"]["secretKeyRef"] == {"name": "hilum-narrator", "key": "cacheSaltKey"}
    assert _find(docs, "Secret", "hilum-narrator")["stringData"]["cacheSaltKey"] == "test-key"
    service = _find(docs, "Service", "hilum-orchestrator")
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 7860, "grpc": 50051}
    hpa = _find(docs, "HorizontalPodAutoscaler", "hilum-orchestrator")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "hilum-orchestrator" and "replicas" not in deployment["spec"]
    settings = _find(docs, "ConfigMap", "hilum-settings")["data"]
    assert settings["HILUM_ENCODER"] == "triton://hilum-triton:8001"
    assert settings["HILUM_REDIS_URL"] == "redis://hilum-redis:6379/0"
    assert settings["HILUM_LOG_LEVEL"] == "INFO" and all(isinstance(v, str) for v in settings.values())


def test_orchestrator_reads_the_tenants_api_keys_from_a_secret(tmp_path: Path) -> None:
    """The chart binds 0.0.0.0, so it must hand the orchestrator a keys file (and refuses to render
    without one); the rendered file is one the server loads."""
    from orchestrator.tenancy import KeyRing

    docs = render(SALT)
    container = _find(docs, "Deployment", "hilum-orchestrator")["spec"]["template"]["spec"]["containers"][0]
    path = next(e for e in container["env"] if e["name"] == "HILUM_API_KEYS_FILE")["value"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "api-keys")
    assert path == mount["mountPath"] + "/keys.json"
    keys = _find(docs, "Secret", "hilum-api-keys")["stringData"]["keys.json"]
    (tmp_path / "keys.json").write_text(keys)
    assert KeyRing.load(tmp_path / "keys.json").tenants == {"clinic-a"}
    volume = _find(render(VARIANTS["existing-secret"]), "Deployment", "hilum-orchestrator")["spec"]["template"]
    assert volume["spec"]["volumes"][0]["secret"]["secretName"] == "keys"
    with pytest.raises(TemplateError, match="apiKeys"):
        render({"narrator": {"cacheSaltKey": "k"}})


def test_the_configmap_feeds_the_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.settings import Settings

    for name, value in _find(render(SALT), "ConfigMap", "hilum-settings")["data"].items():
        monkeypatch.setenv(name, value)
    parsed = Settings()
    assert parsed.llm_urls == ["http://hilum-vllm-0.hilum-vllm:8000", "http://hilum-vllm-1.hilum-vllm:8000"]
    assert parsed.grpc_port == 50051 and parsed.llm_deadline_s == 8.0


def test_triton_gpu_model_repository_and_metrics_port() -> None:
    docs = render(SALT)
    pod = _find(docs, "Deployment", "hilum-triton")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--metrics-port=8002" in container["args"] and "--model-repository=/models" in container["args"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "hilum-model-repository"
    ports = {p["name"]: p["port"] for p in _find(docs, "Service", "hilum-triton")["spec"]["ports"]}
    assert ports == {"http": 8000, "grpc": 8001, "metrics": 8002}
    from_image = _find(render(VARIANTS["model-repository-from-image"]), "Deployment", "hilum-triton")
    assert from_image["spec"]["template"]["spec"]["initContainers"][0]["name"] == "model-repository"


def test_service_monitors_scrape_every_component() -> None:
    monitors = {d["metadata"]["name"]: d for d in render(SALT) if d["kind"] == "ServiceMonitor"}
    assert set(monitors) == {"hilum-orchestrator", "hilum-triton", "hilum-vllm"}
    assert monitors["hilum-triton"]["spec"]["endpoints"][0]["port"] == "metrics"
    labelled = [d for d in render(VARIANTS["model-repository-from-image"]) if d["kind"] == "ServiceMonitor"]
    assert all(d["metadata"]["labels"]["release"] == "prom" for d in labelled)


def test_variants_switch_parts_off_and_on() -> None:
    bare = render(VARIANTS["bare"])
    assert {d["kind"] for d in bare} == {"ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"}
    assert _find(bare, "Deployment", "hilum-orchestrator")["spec"]["replicas"] == 2
    external = _find(render(VARIANTS["embedded-encoder-external-llm"]), "ConfigMap", "hilum-settings")["data"]
    assert json.loads(external["HILUM_LLM_URLS"]) == ["http://gpu-box:8000"] and external["HILUM_ENCODER"] == "embedded"
    assert external["HILUM_LESION_READER"] == "embedded"  # on by default, where the encoder runs: in process here
    on_triton = _find(render(SALT), "ConfigMap", "hilum-settings")["data"]
    assert on_triton["HILUM_LESION_READER"] == "triton://hilum-triton:8001" == on_triton["HILUM_ENCODER"]  # follows
    off = _find(render(merge(SALT, {"lesionReader": {"enabled": False}})), "ConfigMap", "hilum-settings")
    assert off["data"]["HILUM_LESION_READER"] == "off"
    # the second reader follows the encoder alike: on Triton's second_reader model, in process, or off
    assert on_triton["HILUM_SECOND_READER"] == on_triton["HILUM_ENCODER"] and external["HILUM_SECOND_READER"] == "embedded"
    alone = _find(render(merge(SALT, {"secondReader": {"enabled": False}})), "ConfigMap", "hilum-settings")
    assert alone["data"]["HILUM_SECOND_READER"] == "off"
    assert on_triton["HILUM_SECOND_READER_READS_ALONE"] == "true"  # films the encoder withholds: read by it alone
    withheld = _find(render(merge(SALT, {"secondReader": {"readsAlone": False}})), "ConfigMap", "hilum-settings")
    assert withheld["data"]["HILUM_SECOND_READER_READS_ALONE"] == "false"
    existing = render(VARIANTS["existing-secret"])
    assert not [d for d in existing if d["kind"] == "Secret"]
    with pytest.raises(TemplateError, match="cacheSaltKey"):
        render({})


def _canonical(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(d, sort_keys=True) for d in docs)


@pytest.mark.skipif(shutil.which("helm") is None, reason="no helm binary on PATH (not on PyPI or Debian)")
@pytest.mark.parametrize("values_file", [None, "values-production.yaml"])
def test_real_helm_lints_renders_and_agrees_with_the_renderer(values_file: str | None, tmp_path: Path) -> None:
    """Where helm exists: it lints the chart, and ``helm template`` gives the same objects as
    ``ops/helm_render.py`` for the same values (the renderer's faithfulness, checked by helm)."""
    extra = merge(SALT, {}) if values_file is None else {}
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra))
    args = ["-f", str(tmp_path / "extra.yaml")]
    if values_file is not None:
        args = ["-f", str(CHART / values_file), *args]
    subprocess.run(["helm", "lint", str(CHART), *args], check=True)
    out = subprocess.run(["helm", "template", "hilum", str(CHART), "--namespace", "default", *args], check=True,
                         capture_output=True, text=True).stdout
    helm_docs = [d for d in yaml.safe_load_all(out) if d]
    files = [CHART / values_file] if values_file else []
    ours = render_chart(CHART, files, extra).documents()
    assert _canonical(helm_docs) == _canonical(ours)
