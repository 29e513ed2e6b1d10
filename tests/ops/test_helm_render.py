"""``ops/helm_render.py`` follows Go template / Sprig / Helm semantics where they differ from Python's,
and refuses what it does not implement (the expected outputs are what ``helm template`` writes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.helm_render import Files, Template, TemplateError, go_float, helm_values, render_chart


def run(source: str, values: dict | None = None, files: Path | None = None) -> str:
    root = {"Values": helm_values(values or {}), "Release": {"Name": "r"}}
    if files is not None:
        root["Files"] = Files(files)
    return Template(root).render(source)


def test_trim_markers_and_comments() -> None:
    assert run("a  {{- 1 }}  b") == "a1  b"
    assert run("a  {{ 1 -}}  \n b") == "a  1b"
    assert run("x\n{{- /* note */ -}}\n  y") == "xy"
    assert run("a {{-1}}") == "a -1"


def test_numbers_print_as_go_float64_from_values() -> None:
    assert run("{{ .Values.n }}", {"n": 2}) == "2"
    assert run("{{ .Values.n }}", {"n": 1000000}) == "1e+06"
    assert run("{{ .Values.n | int }}", {"n": 1000000}) == "1000000"
    assert run("{{ .Values.n | toJson }}", {"n": 1000000}) == "1000000"
    assert run("{{ .Values.n | quote }}", {"n": 0.9}) == '"0.9"'
    assert [go_float(v) for v in (1234567.0, 0.0001, 0.00001, 100000.0)] == ["1.234567e+06", "0.0001", "1e-05",
                                                                            "100000"]


def test_control_flow() -> None:
    src = "{{ if eq .Values.s \"a\" }}A{{ else if eq .Values.s \"b\" }}B{{ else }}C{{ end }}"
    assert [run(src, {"s": s}) for s in "abc"] == ["A", "B", "C"]
    assert run("{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}", {"m": {"b": "2", "a": "1"}}) == "a=1;b=2;"
    assert run("{{ range $i := until 3 }}{{ if $i }},{{ end }}{{ $i }}{{ end }}") == "0,1,2"
    assert run("{{ range .Values.l }}x{{ else }}empty{{ end }}", {"l": []}) == "empty"
    assert run("{{ with .Values.m }}{{ .a }}{{ else }}none{{ end }}", {"m": {"a": "1"}}) == "1"
    assert run("{{ with .Values.m }}{{ .a }}{{ else }}none{{ end }}", {"m": {}}) == "none"
    assert run("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}") == "2"
    with pytest.raises(TemplateError, match="undefined variable"):
        run("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}")


def test_sprig_and_helm_functions() -> None:
    assert run("{{ .Values.s | default \"d\" }}", {"s": ""}) == "d"
    assert run("{{ .Values.l | toJson }}", {"l": ["<a&b>"]}) == '["\\u003ca\\u0026b\\u003e"]'
    assert run("k:{{- toYaml .Values.m | nindent 2 }}", {"m": {"b": 1, "a": [1, 2]}}) == "k:\n  a:\n  - 1\n  - 2\n  b: 1"
    assert run("{{ .Values.s | squote }}", {"s": "x"}) == "'x'"
    # Sprig's required lets an empty map through: only nil and "" are missing
    assert run("{{ required \"m\" .Values.m | toJson }}", {"m": {}}) == "{}"
    with pytest.raises(TemplateError, match="required: need s"):
        run("{{ required \"need s\" .Values.s }}", {"s": ""})
    with pytest.raises(TemplateError, match="fail: stop"):
        run("{{ fail \"stop\" }}")
    # and/or return an operand and stop early (the missing value after `false` is never read)
    assert run("{{ and .Values.a .Values.nope }}", {"a": False}) == "false"
    assert run("{{ or .Values.a \"x\" }}", {"a": ""}) == "x"


def test_go_comparison_rules() -> None:
    assert run("{{ gt (int .Values.n) 1 }}", {"n": 2}) == "true"
    with pytest.raises(TemplateError, match="incompatible types"):
        run("{{ eq .Values.n 2 }}", {"n": 2})  # float64 from values against an int constant, as in Go


def test_strict_where_helm_is_silent_and_refuses_what_it_lacks(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="missing value"):
        run("{{ .Values.a.nope }}", {"a": {}})
    with pytest.raises(TemplateError, match="refusing to print"):
        run("{{ .Values.a }}", {"a": {"b": 1}})
    with pytest.raises(TemplateError, match="function 'lower' not defined"):
        run("{{ .Values.s | lower }}", {"s": "A"})
    for construct in ('{{ define "x" }}{{ end }}', '{{ include "x" . }}', '{{ template "x" }}', "{{ tpl . . }}"):
        with pytest.raises(TemplateError, match="unsupported"):
            run(construct)
    with pytest.raises(TemplateError, match="unclosed"):
        run("{{ if true }}x")
    (tmp_path / "f.txt").write_text("hello\nworld")
    assert run('{{ .Files.Get "f.txt" | indent 2 }}', files=tmp_path) == "  hello\n  world"
    with pytest.raises(TemplateError, match="no such file"):
        run('{{ .Files.Get "missing.txt" }}', files=tmp_path)
    with pytest.raises(TemplateError, match="no such file"):
        run('{{ .Files.Get "../etc/passwd" }}', files=tmp_path)


def test_render_chart_skips_partials_and_names_the_failing_template(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("name: c\nversion: 0.1.0\nappVersion: '1'\n")
    (tmp_path / "values.yaml").write_text("replicas: 3\n")
    (tmp_path / "templates" / "_notes.yaml").write_text("{{ nonsense }}")
    (tmp_path / "templates" / "a.yaml").write_text("kind: A\nmetadata: {name: {{ .Release.Name }}}\n"
                                                   "spec: {replicas: {{ .Values.replicas }}}\n")
    docs = render_chart(tmp_path, release="rel").documents()
    assert docs == [{"kind": "A", "metadata": {"name": "rel"}, "spec": {"replicas": 3}}]
    (tmp_path / "templates" / "b.yaml").write_text("{{ .Values.nope }}")
    with pytest.raises(TemplateError, match="templates/b.yaml: missing value"):
        render_chart(tmp_path)
