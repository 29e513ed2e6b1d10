"""The Helm chart renders to valid Kubernetes YAML, with the parts Hilum relies on.

No ``helm`` binary installs from PyPI or Debian here, so the chart keeps to a small subset of
Go templates (if/else/range/with, variables, and the functions in ``FUNCTIONS``) and this test
renders it with ``MiniGoTemplate`` below, strictly: a missing value or an unknown function
fails the test. Where a real ``helm`` is on PATH, ``helm lint`` and ``helm template`` run too.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

CHART = Path(__file__).resolve().parents[2] / "helm" / "hilum"
_ACTION = re.compile(r"\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}", re.DOTALL)


# --- a strict renderer for the Go-template subset the chart uses ---------------------------


@dataclass
class _Node:
    kind: str  # text, action, if, range, with
    text: str = ""
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, list | dict) and not value)


def _indent(n: int, text: str) -> str:
    return "\n".join(" " * n + line for line in str(text).split("\n"))


def _required(message: str, value: Any) -> Any:
    if not _truthy(value):
        raise ValueError(f"required: {message}")
    return value


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "quote": lambda v: json.dumps("" if v is None else str(v), ensure_ascii=False),
    "squote": lambda v: "'" + ("" if v is None else str(v)) + "'",
    "toYaml": _to_yaml,
    "toJson": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
    "nindent": lambda n, s: "\n" + _indent(int(n), s),
    "indent": lambda n, s: _indent(int(n), s),
    "int": int,
    "until": lambda n: list(range(int(n))),
    "not": lambda v: not _truthy(v),
    "eq": lambda a, b: a == b,
    "default": lambda d, v: v if _truthy(v) else d,
    "required": _required,
}


def _tokens(source: str) -> list[tuple[str, str]]:
    """('text', s) and ('action', s) with the {{- -}} trimming applied."""
    out: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        out.append(("text", text))
        out.append(("action", m.group(2)))
        pos, trim_next = m.end(), bool(m.group(3))
    tail = source[pos:]
    out.append(("text", tail.lstrip() if trim_next else tail))
    return out


def _parse(tokens: list[tuple[str, str]]) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node | None, list[_Node]]] = [(None, root)]
    for kind, text in tokens:
        target = stack[-1][1]
        if kind == "text":
            target.append(_Node("text", text))
        elif text.startswith("/*"):
            continue
        elif text.split(" ", 1)[0] in ("if", "range", "with"):
            word, _, rest = text.partition(" ")
            node = _Node(word, rest.strip())
            target.append(node)
            stack.append((node, node.body))
        elif text == "else":
            node = stack[-1][0]
            assert node is not None, "else outside a block"
            stack[-1] = (node, node.orelse)
        elif text == "end":
            stack.pop()
        else:
            target.append(_Node("action", text))
    assert len(stack) == 1, "unclosed block"
    return root


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quote, current = [], 0, False, ""
    for ch in text:
        if ch == '"':
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quote:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


class MiniGoTemplate:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def render(self, source: str) -> str:
        return self._run(_parse(_tokens(source)), self.root, {})

    def _run(self, nodes: list[_Node], dot: Any, variables: dict[str, Any]) -> str:
        return "".join(self._node(n, dot, variables) for n in nodes)

    def _node(self, node: _Node, dot: Any, variables: dict[str, Any]) -> str:
        if node.kind == "text":
            return node.text
        if node.kind == "action":
            if ":=" in node.text:
                name, _, pipeline = node.text.partition(":=")
                variables[name.strip()] = self._pipeline(pipeline, dot, variables)
                return ""
            return self._print(self._pipeline(node.text, dot, variables))
        if node.kind == "if":
            value = self._pipeline(node.text, dot, variables)
            return self._run(node.body if _truthy(value) else node.orelse, dot, variables)
        if node.kind == "with":
            value = self._pipeline(node.text, dot, variables)
            return self._run(node.body, value, dict(variables)) if _truthy(value) else self._run(node.orelse, dot, variables)
        return self._range(node, dot, variables)

    def _range(self, node: _Node, dot: Any, variables: dict[str, Any]) -> str:
        names: list[str] = []
        pipeline = node.text
        if ":=" in pipeline:
            declared, _, pipeline = pipeline.partition(":=")
            names = [n.strip() for n in declared.split(",")]
        value = self._pipeline(pipeline, dot, variables)
        items = sorted(value.items()) if isinstance(value, dict) else list(enumerate(value or []))
        if not items:
            return self._run(node.orelse, dot, variables)
        out = []
        for key, element in items:
            scope = dict(variables)
            if len(names) == 1:
                scope[names[0]] = element
            elif len(names) == 2:
                scope[names[0]], scope[names[1]] = key, element
            out.append(self._run(node.body, element, scope))
        return "".join(out)

    def _pipeline(self, text: str, dot: Any, variables: dict[str, Any]) -> Any:
        commands = _split_top(text, "|")
        value = self._command(commands[0], dot, variables, piped=())
        for command in commands[1:]:
            value = self._command(command, dot, variables, piped=(value,))
        return value

    def _command(self, text: str, dot: Any, variables: dict[str, Any], piped: tuple[Any, ...]) -> Any:
        words = _split_top(text, " ")
        if words[0] in FUNCTIONS:
            args = [self._term(w, dot, variables) for w in words[1:]]
            return FUNCTIONS[words[0]](*args, *piped)
        assert len(words) == 1 and not piped, f"unknown function in {text!r}"
        return self._term(words[0], dot, variables)

    def _term(self, word: str, dot: Any, variables: dict[str, Any]) -> Any:
        if word.startswith("("):
            return self._pipeline(word[1:-1], dot, variables)
        if word.startswith('"'):
            return json.loads(word)
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if word in ("true", "false"):
            return word == "true"
        if word.startswith("$"):
            head, _, path = word.partition(".")
            base = self.root if head == "$" else variables[head]
            return self._path(base, path)
        if word.startswith("."):
            return self._path(dot, word[1:])
        raise AssertionError(f"unknown term {word!r}")

    @staticmethod
    def _path(base: Any, path: str) -> Any:
        for part in [p for p in path.split(".") if p]:
            if not isinstance(base, dict) or part not in base:
                raise KeyError(f"missing value .{path} (at {part!r})")
            base = base[part]
        return base

    @staticmethod
    def _print(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


# --- rendering the chart ---------------------------------------------------------------------


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def render(overrides: dict[str, Any] | None = None, release: str = "hilum") -> list[dict[str, Any]]:
    values = _merge(yaml.safe_load((CHART / "values.yaml").read_text()), overrides or {})
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    root = {"Values": values, "Release": {"Name": release, "Namespace": "default"},
            "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]}}
    engine = MiniGoTemplate(root)
    documents: list[dict[str, Any]] = []
    for template in sorted((CHART / "templates").glob("*.yaml")):
        rendered = engine.render(template.read_text())
        for doc in yaml.safe_load_all(rendered):
            if doc is not None:
                documents.append(doc)
    engine.render((CHART / "templates" / "NOTES.txt").read_text())
    return documents


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


KEY_HASH = "sha256:" + "ab" * 32
SALT = {"narrator": {"cacheSaltKey": "test-key"}, "apiKeys": {"tenants": {"clinic-a": [KEY_HASH]}}}

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": SALT,
    "embedded-encoder-external-llm": _merge(SALT, {"triton": {"enabled": False}, "vllm": {"enabled": False},
                                                   "narrator": {"externalUrls": ["http://gpu-box:8000"]}}),
    "bare": _merge(SALT, {"triton": {"enabled": False}, "vllm": {"enabled": False}, "redis": {"enabled": False},
                          "serviceMonitor": {"enabled": False}, "orchestrator": {"autoscaling": {"enabled": False}}}),
    "model-repository-from-image": _merge(SALT, {"triton": {"modelRepository": {"source": "image"}},
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
    with pytest.raises(ValueError, match="apiKeys"):
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
    assert {d["kind"] for d in bare} == {"ConfigMap", "Secret", "Deployment", "Service"}
    assert _find(bare, "Deployment", "hilum-orchestrator")["spec"]["replicas"] == 2
    external = _find(render(VARIANTS["embedded-encoder-external-llm"]), "ConfigMap", "hilum-settings")["data"]
    assert json.loads(external["HILUM_LLM_URLS"]) == ["http://gpu-box:8000"] and external["HILUM_ENCODER"] == "embedded"
    existing = render(VARIANTS["existing-secret"])
    assert not [d for d in existing if d["kind"] == "Secret"]
    with pytest.raises(ValueError, match="cacheSaltKey"):
        render({})


def test_the_renderer_is_strict() -> None:
    engine = MiniGoTemplate({"Values": {"a": {"b": 1}}})
    assert engine.render("x{{- if .Values.a }}\n  y{{ .Values.a.b }}{{- end }}") == "x\n  y1"
    with pytest.raises(KeyError):
        engine.render("{{ .Values.a.c }}")
    with pytest.raises(AssertionError):
        engine.render("{{ .Values.a | lower }}")


@pytest.mark.skipif(shutil.which("helm") is None, reason="no helm binary on PATH (not on PyPI or Debian)")
def test_real_helm_lints_and_renders_the_chart() -> None:
    subprocess.run(["helm", "lint", str(CHART), "--set", "narrator.cacheSaltKey=k",
                    "--set", "apiKeys.existingSecret=keys"], check=True)
    out = subprocess.run(["helm", "template", "hilum", str(CHART), "--set", "narrator.cacheSaltKey=k",
                          "--set", "apiKeys.existingSecret=keys"], check=True, capture_output=True, text=True).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    assert {"Deployment", "StatefulSet", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} <= kinds
