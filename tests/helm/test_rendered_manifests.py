"""Both value sets (defaults, ``values-production.yaml``) render, and every manifest is valid against the
Kubernetes OpenAPI schemas bundled in ``kubernetes-validate`` (strict: unknown fields are errors) for
the oldest and newest Kubernetes the chart states; the Prometheus Operator objects, which no
Kubernetes schema covers, are checked against the files they carry."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ops.helm_render import render_chart

CHART = Path(__file__).resolve().parents[2] / "helm" / "hilum"
ADAPTER = CHART.parent / "prometheus-adapter-values.yaml"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # Chart.yaml kubeVersion floor, and the newest bundled schemas
OPERATOR_GROUP = "monitoring.coreos.com/v1"
KEY = "sha256:" + "ab" * 32
DEFAULTS = {"narrator": {"cacheSaltKey": "test-key"}, "apiKeys": {"tenants": {"clinic-a": [KEY]}}}
VALUE_SETS: dict[str, tuple[list[Path], dict[str, Any]]] = {
    "defaults": ([], DEFAULTS),
    "production": ([CHART / "values-production.yaml"], {}),
}


def documents(value_set: str) -> list[dict[str, Any]]:
    files, overrides = VALUE_SETS[value_set]
    return render_chart(CHART, files, overrides).documents()


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)}"
    return found[0]


def schema_errors(docs: list[dict[str, Any]], version: str) -> list[str]:
    errors = []
    for doc in docs:
        if doc["apiVersion"] == OPERATOR_GROUP:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: no schema ({exc})")
    return errors


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_manifest_is_valid_kubernetes(value_set: str, version: str) -> None:
    docs = documents(value_set)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "StatefulSet", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "NetworkPolicy", "ConfigMap", "PrometheusRule", "ServiceMonitor"} <= kinds
    assert schema_errors(docs, version) == []


def test_the_validator_catches_what_it_should() -> None:
    """The schema check can fail: a misspelt field, a wrong type and a missing required field are caught."""
    docs = documents("defaults")
    deployment = copy.deepcopy(find(docs, "Deployment", "hilum-orchestrator"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    hpa = copy.deepcopy(find(docs, "HorizontalPodAutoscaler", "hilum-orchestrator"))
    hpa["spec"]["maxReplicas"] = "ten"
    pdb = copy.deepcopy(find(docs, "PodDisruptionBudget", "hilum-orchestrator"))
    del pdb["spec"]["selector"]["matchLabels"]
    pdb["spec"]["selector"]["matchLabel"] = {}
    assert len(schema_errors([deployment, hpa, pdb], KUBERNETES_VERSIONS[0])) == 3


def test_chart_states_the_kubernetes_floor() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}-0"


def test_production_runs_gpu_nodes_replicas_and_external_redis() -> None:
    docs = documents("production")
    hpas = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    assert hpas["hilum-orchestrator"]["minReplicas"] == 3
    assert hpas["hilum-triton"]["minReplicas"] == 2 and hpas["hilum-vllm"]["minReplicas"] == 2
    assert hpas["hilum-vllm"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "hilum-vllm"}
    for name in ("hilum-triton", "hilum-vllm"):
        kind = "Deployment" if name == "hilum-triton" else "StatefulSet"
        pod = find(docs, kind, name)["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert find(docs, "DaemonSet", "hilum-dcgm-exporter")["spec"]["template"]["spec"]["nodeSelector"]
    assert not [d for d in docs if d["metadata"]["name"].startswith("hilum-redis")]
    container = find(docs, "Deployment", "hilum-orchestrator")["spec"]["template"]["spec"]["containers"][0]
    redis = next(e for e in container["env"] if e["name"] == "HILUM_REDIS_URL")
    assert redis["valueFrom"]["secretKeyRef"] == {"name": "hilum-redis", "key": "url"}
    settings = find(docs, "ConfigMap", "hilum-settings")["data"]
    assert "HILUM_REDIS_URL" not in settings
    # the orchestrator's replica list names every pod the vLLM autoscaler may run
    assert json.loads(settings["HILUM_LLM_URLS"]) == [f"http://hilum-vllm-{i}.hilum-vllm:8000" for i in range(4)]


def test_autoscalers_read_metrics_the_adapter_serves() -> None:
    """Every custom metric an HPA names is one the Prometheus adapter rules publish, from a real series name."""
    adapter = yaml.safe_load(ADAPTER.read_text())["rules"]["custom"]
    served = {rule["name"]["as"]: rule["seriesQuery"] for rule in adapter}
    wanted = {}
    for doc in documents("production"):
        if doc["kind"] == "HorizontalPodAutoscaler":
            for metric in doc["spec"]["metrics"]:
                if metric["type"] == "Pods":
                    wanted[doc["metadata"]["name"]] = metric["pods"]["metric"]["name"]
    assert wanted == {"hilum-orchestrator": "hilum_inflight_requests", "hilum-triton": "triton_queue_us_per_request",
                      "hilum-vllm": "vllm_num_requests_waiting"}
    assert set(wanted.values()) <= set(served)
    assert served["triton_queue_us_per_request"].startswith("nv_inference_queue_duration_us{")
    assert served["vllm_num_requests_waiting"].startswith("vllm:num_requests_waiting{")
    # without the adapter, the orchestrator scales on CPU only, and GPU autoscaling refuses to render
    default_hpa = find(documents("defaults"), "HorizontalPodAutoscaler", "hilum-orchestrator")
    assert [m["type"] for m in default_hpa["spec"]["metrics"]] == ["Resource"]


def test_only_the_orchestrator_reaches_triton_vllm_and_redis() -> None:
    docs = documents("defaults")
    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    assert set(policies) == {"hilum-triton", "hilum-vllm", "hilum-redis"}
    orchestrator = {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "hilum",
                                                    "app.kubernetes.io/component": "orchestrator"}}}
    for name, spec in policies.items():
        assert spec["policyTypes"] == ["Ingress"]
        component = name.removeprefix("hilum-")
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
        peers = [peer for rule in spec["ingress"] for peer in rule["from"]]
        others = [p for p in peers if p != orchestrator]
        assert orchestrator in peers
        # the only other peer is Prometheus's namespace, and on Triton only on the metrics port
        assert all(set(p) == {"namespaceSelector"} for p in others)
    triton_rules = policies["hilum-triton"]["ingress"]
    assert [p["port"] for p in triton_rules[1]["ports"]] == [8002]
    assert not [p for p in policies["hilum-redis"]["ingress"][0]["from"] if p != orchestrator]


def test_disruption_budgets_probes_resources_and_spread() -> None:
    docs = documents("defaults")
    budgets = {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert budgets == {"hilum-orchestrator", "hilum-triton", "hilum-vllm"}
    for kind, name in (("Deployment", "hilum-orchestrator"), ("Deployment", "hilum-triton"),
                       ("StatefulSet", "hilum-vllm"), ("Deployment", "hilum-redis")):
        pod = find(docs, kind, name)["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        assert container["readinessProbe"]["timeoutSeconds"] >= 2, name
        if name != "hilum-redis":
            assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    orchestrator = find(docs, "Deployment", "hilum-orchestrator")["spec"]["template"]["spec"]["containers"][0]
    startup = orchestrator["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 60  # /healthz within 60 s (test_cli_service)


def test_redis_keeps_its_append_only_file_on_a_volume() -> None:
    docs = documents("defaults")
    redis = find(docs, "Deployment", "hilum-redis")["spec"]
    assert redis["strategy"] == {"type": "Recreate"}
    assert redis["template"]["spec"]["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    persisted = render_chart(CHART, overrides={**DEFAULTS, "redis": {"persistence": {"enabled": True}}}).documents()
    claim = find(persisted, "PersistentVolumeClaim", "hilum-redis-data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    volume = find(persisted, "Deployment", "hilum-redis")["spec"]["template"]["spec"]["volumes"][0]
    assert volume["persistentVolumeClaim"]["claimName"] == "hilum-redis-data"


def test_prometheus_rule_and_dashboard_carry_the_chart_files_unchanged() -> None:
    docs = documents("defaults")
    rule = find(docs, "PrometheusRule", "hilum-alerts")
    assert rule["apiVersion"] == OPERATOR_GROUP
    assert rule["spec"] == yaml.safe_load((CHART / "rules" / "hilum-alerts.yaml").read_text())
    dashboard = find(docs, "ConfigMap", "hilum-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["hilum.json"]) == json.loads((CHART / "dashboards" / "hilum.json").read_text())
    for monitor in (d for d in documents("production") if d["kind"] == "ServiceMonitor"):
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
        assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "hilum"


def test_teleradiology_wiring_renders_valid_and_connected() -> None:
    """The DICOM node (a C-STORE port on every orchestrator pod and its Service) and the PACS poller
    (one pod, Recreate, its state on a claim, its API key and the PACS credentials from Secrets) render as
    valid Kubernetes, and point at each other; a poller without an API key or a PACS refuses to render."""
    from ops.helm_render import TemplateError

    pacs = {"pacs": {"dicomwebUrl": "http://orthanc:8042/dicom-web", "existingSecret": "pacs-cred", "compareEarlier": True,
                     "poller": {"enabled": True, "apiKeySecret": "poller-key", "stateClaimName": "pacs-state"}},
            "dicomNode": {"enabled": True, "aeTenants": {"CR_ROOM1": "clinic-a"}}}
    docs = render_chart(CHART, [], {**DEFAULTS, **pacs}).documents()
    for version in KUBERNETES_VERSIONS:
        assert schema_errors(docs, version) == []
    settings = find(docs, "ConfigMap", "hilum-settings")["data"]
    assert settings["HILUM_DICOM_PORT"] == "11112" and json.loads(settings["HILUM_DICOM_AE_TENANTS"]) == {
        "CR_ROOM1": "clinic-a"}
    assert settings["HILUM_PACS_DICOMWEB_URL"] == "http://orthanc:8042/dicom-web"
    assert settings["HILUM_PACS_COMPARE_EARLIER"] == "true"  # the poller and the DICOM node compare earlier films
    assert settings["HILUM_DICOM_RESULTS_STATE_FILE"].startswith("/var/lib/hilum-dicom-node/")
    service = find(docs, "Service", "hilum-orchestrator")["spec"]
    assert {"name": "dicom", "port": 11112, "targetPort": "dicom"} in service["ports"]
    orchestrator = find(docs, "Deployment", "hilum-orchestrator")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "dicom", "containerPort": 11112} in orchestrator["ports"]
    assert {"name": "dicom-node-results", "mountPath": "/var/lib/hilum-dicom-node"} in orchestrator["volumeMounts"]
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in orchestrator["env"] if "valueFrom" in e}
    assert secret_env["HILUM_PACS_PASSWORD"] == {"name": "pacs-cred", "key": "password"}
    poller = find(docs, "Deployment", "hilum-pacs-poller")["spec"]
    assert poller["replicas"] == 1 and poller["strategy"] == {"type": "Recreate"}  # one poller per state file
    pod = poller["template"]["spec"]
    command = pod["containers"][0]["command"]
    assert command[:2] == ["hilum", "pacs"] and "--once" not in command
    assert command[command.index("--server") + 1] == "http://hilum-orchestrator:7860"
    assert pod["volumes"] == [{"name": "state", "persistentVolumeClaim": {"claimName": "pacs-state"}}]
    poller_env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in pod["containers"][0]["env"]}
    assert poller_env["HILUM_API_KEY"] == {"name": "poller-key", "key": "apiKey"}
    values = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert values["HILUM_PACS_COMPARE_EARLIER"] == "true"
    # off by default: no DICOM port, no poller
    defaults = documents("defaults")
    assert not [d for d in defaults if d["metadata"]["name"] == "hilum-pacs-poller"]
    assert "HILUM_DICOM_PORT" not in find(defaults, "ConfigMap", "hilum-settings")["data"]
    for missing, message in (({"apiKeySecret": ""}, "apiKeySecret"), ({}, "dicomwebUrl")):
        values = copy.deepcopy({**DEFAULTS, **pacs})
        values["pacs"]["poller"].update(missing)
        if not missing:
            values["pacs"]["dicomwebUrl"] = ""
        with pytest.raises(TemplateError, match=message):
            render_chart(CHART, [], values).documents()
