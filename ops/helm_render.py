"""Render ``helm/hilum`` the way ``helm template`` does, for the machines that have no helm binary.

No maintained Python implementation of Helm's rendering exists on PyPI (``go-template`` 0.0.3,
2019, wraps a Go shared library and is unmaintained), so this module implements the part of Go's
``text/template`` and of Helm/Sprig that the chart uses, with Go's semantics where they differ
from Python's, and refuses everything else with ``TemplateError``:

- actions ``{{ }}`` with ``{{-`` / ``-}}`` trimming and ``{{/* comments */}}``; ``if`` / ``else if`` /
  ``else``, ``range`` (lists and maps, maps in key order, ``$i, $v :=``, ``else``), ``with`` (and
  ``else``), ``$var :=`` / ``$var =``, ``$`` (the root), parenthesised pipelines;
- functions: ``and or not eq ne lt le gt ge`` (Go's: mixed int/float comparison is an error, and
  ``and``/``or`` return an operand), ``quote squote toYaml toJson indent nindent int until default
  required fail``; and ``.Files.Get``;
- Helm's values typing: every number in a values file is a float64, so ``{{ 1000000 }}`` prints
  ``1e+06`` as Go does, while ``toYaml``/``toJson`` write it as JSON does (``1000000``);
- Sprig's ``required``: only nil and ``""`` are missing (an empty map passes, as in helm);
- Go truthiness: false, 0, nil and empty strings, lists and maps are false.

Stricter than helm, on purpose: a missing value (``.Values.a.nope``), a missing file for
``.Files.Get`` or printing a map or list is an error here (helm prints ``""`` / ``map[...]``).
Templates whose name starts with ``_`` are not rendered; ``define``/``include``/``template``/
``tpl``/``lookup`` are refused (the chart does not use them).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.DOTALL)
BLOCKS = ("if", "range", "with")
REFUSED = ("define", "template", "block", "include", "tpl", "lookup", "break", "continue")


class TemplateError(Exception):
    """A construct the renderer does not implement, a missing value, or a chart's ``fail``/``required``."""


# --- Go values -----------------------------------------------------------------------------------


def go_float(value: float) -> str:
    """Go's ``%v`` for a float64 (strconv 'g', shortest): ``2`` -> 2, ``1e6`` -> 1e+06, ``0.9`` -> 0.9."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "0"
    digits = repr(float(value))  # shortest round-trip digits, as Go's
    mantissa, _, exp_text = digits.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    whole, _, frac = mantissa.partition(".")
    frac = "" if frac == "0" else frac
    exponent = int(exp_text or 0)
    significant = (whole + frac).lstrip("0")
    # decimal exponent of the first significant digit
    if whole.strip("0"):
        point = len(whole.lstrip("0")) + exponent
    else:
        point = exponent - (len(frac) - len(frac.lstrip("0")))
    significant = significant.rstrip("0") or "0"
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:  # Go: %e when exp < -4 or exp >= 6 (shortest precision)
        head, tail = significant[0], significant[1:]
        text = head + ("." + tail if tail else "")
        return f"{sign}{text}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    if exp10 >= 0:
        int_part = significant[: exp10 + 1].ljust(exp10 + 1, "0")
        frac_part = significant[exp10 + 1 :]
        return sign + int_part + ("." + frac_part if frac_part else "")
    return sign + "0." + "0" * (-exp10 - 1) + significant


def go_print(value: Any) -> str:
    """What ``{{ value }}`` writes (helm turns nil's ``<no value>`` into nothing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict | list):
        raise TemplateError(f"refusing to print a {type(value).__name__} ({value!r}): use toYaml or toJson")
    return str(value)


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def helm_values(value: Any) -> Any:
    """Values as helm holds them after reading YAML: every number a float64."""
    if isinstance(value, dict):
        return {str(k): helm_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [helm_values(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _json_ready(value: Any) -> Any:
    """Go's encoding/json writes an integral float64 below 1e21 without a fraction."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    raise TemplateError(f"non-comparable value {value!r}")


def _comparable(a: Any, b: Any) -> None:
    if _kind(a) != _kind(b):
        raise TemplateError(f"incompatible types for comparison: {a!r} ({_kind(a)}) and {b!r} ({_kind(b)})")


# --- Sprig / Helm functions ------------------------------------------------------------------------


def _to_yaml(value: Any) -> str:
    if value is None:
        return "null"
    return yaml.safe_dump(_json_ready(value), default_flow_style=False, sort_keys=True,
                          allow_unicode=True).rstrip("\n")


def _to_json(value: Any) -> str:
    text = json.dumps(_json_ready(value), separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def _indent(spaces: Any, text: Any) -> str:
    pad = " " * _to_int(spaces)
    return pad + str(text).replace("\n", "\n" + pad)


def _to_int(value: Any) -> int:
    """Sprig's ``int`` (cast.ToInt): floats truncate, unparseable strings give 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            return 0
    return 0


def _quote(*values: Any) -> str:
    return " ".join(json.dumps(go_print(v), ensure_ascii=False) for v in values if v is not None)


def _squote(*values: Any) -> str:
    return " ".join(f"'{go_print(v)}'" for v in values if v is not None)


def _default(default: Any, *given: Any) -> Any:
    return given[0] if given and truthy(given[0]) else default


def _required(message: str, value: Any) -> Any:
    if value is None or value == "":
        raise TemplateError(f"required: {message}")
    return value


def _fail(message: str) -> Any:
    raise TemplateError(f"fail: {message}")


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("eq needs at least two arguments")
    for other in others:
        _comparable(first, other)
        if first == other:
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        _comparable(a, b)
        if _kind(a) in ("bool", "nil"):
            raise TemplateError(f"invalid type for comparison: {a!r}")
        return op(a, b)

    return compare


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "not": lambda v: not truthy(v),
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
    "quote": _quote,
    "squote": _squote,
    "toYaml": _to_yaml,
    "toJson": _to_json,
    "indent": _indent,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "int": _to_int,
    "until": lambda n: list(range(_to_int(n))),
    "default": _default,
    "required": _required,
    "fail": _fail,
}
LAZY = ("and", "or")  # Go evaluates their arguments only as far as needed


# --- parsing ------------------------------------------------------------------------------------


@dataclass
class Node:
    kind: str  # text, action, if, range, with
    text: str = ""
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


def tokens(source: str) -> list[tuple[str, str]]:
    """('text', s) and ('action', s), with the trim markers applied to the neighbouring text."""
    out: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in ACTION.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        out.append(("text", text))
        out.append(("action", m.group(2).strip()))
        pos, trim_next = m.end(), bool(m.group(3))
    tail = source[pos:]
    out.append(("text", tail.lstrip(" \t\r\n") if trim_next else tail))
    return out


def parse(source: str) -> list[Node]:
    root: list[Node] = []
    # each frame: the block node and the list being filled; `else if` replaces its frame, so one
    # `end` closes the whole chain, as in Go
    stack: list[tuple[Node | None, list[Node]]] = [(None, root)]
    for kind, text in tokens(source):
        if kind == "text":
            if text:
                stack[-1][1].append(Node("text", text))
        elif text.startswith("/*"):
            if not text.endswith("*/"):
                raise TemplateError(f"unterminated comment {text!r}")
        else:
            _action(text, stack)
    if len(stack) != 1:
        raise TemplateError("unclosed block (missing {{ end }})")
    return root


def _action(text: str, stack: list[tuple[Node | None, list[Node]]]) -> None:
    word = text.split(None, 1)[0] if text else ""
    if word in REFUSED:
        raise TemplateError(f"unsupported template construct {{{{ {text} }}}}")
    if word in BLOCKS:
        node = Node(word, text[len(word):].strip())
        stack[-1][1].append(node)
        stack.append((node, node.body))
    elif word == "else":
        block = stack[-1][0]
        if block is None:
            raise TemplateError("{{ else }} outside a block")
        rest = text[4:].strip()
        if not rest:
            stack[-1] = (block, block.orelse)
        elif rest.startswith("if ") and block.kind == "if":
            inner = Node("if", rest[3:].strip())
            block.orelse.append(inner)
            stack[-1] = (inner, inner.body)
        else:
            raise TemplateError(f"unsupported {{{{ {text} }}}}")
    elif word == "end":
        if len(stack) == 1:
            raise TemplateError("{{ end }} without a block")
        stack.pop()
    else:
        stack[-1][1].append(Node("action", text))


def split_words(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside strings and parentheses."""
    parts: list[str] = []
    depth, quote, current, i = 0, "", "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            current += ch
            if ch == "\\" and quote == '"' and i + 1 < len(text):
                current += text[i + 1]
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"`":
            quote = ch
            current += ch
        elif ch == "(":
            depth += 1
            current += ch
        elif ch == ")":
            depth -= 1
            current += ch
        elif depth == 0 and (ch == sep or (sep == " " and ch in "\t\r\n")):
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    if quote or depth:
        raise TemplateError(f"unbalanced quotes or parentheses in {text!r}")
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


# --- evaluation ----------------------------------------------------------------------------------


class Files:
    """``.Files``: the chart's files, read by path relative to the chart's root."""

    def __init__(self, chart: Path) -> None:
        self.chart = chart

    def Get(self, path: str) -> str:  # noqa: N802 - helm's name
        target = (self.chart / path).resolve()
        if self.chart.resolve() not in target.parents or not target.is_file():
            raise TemplateError(f".Files.Get {path!r}: no such file in the chart")
        return target.read_text(encoding="utf-8")


class Template:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def render(self, source: str) -> str:
        return self._run(parse(source), self.root, [{"$": self.root}])

    # scopes: a stack of variable frames; a block's own variables die with it, as in Go
    def _lookup(self, scopes: list[dict[str, Any]], name: str) -> Any:
        for frame in reversed(scopes):
            if name in frame:
                return frame[name]
        raise TemplateError(f"undefined variable {name}")

    def _assign(self, scopes: list[dict[str, Any]], name: str, value: Any) -> None:
        for frame in reversed(scopes):
            if name in frame:
                frame[name] = value
                return
        raise TemplateError(f"undefined variable {name}")

    def _run(self, nodes: list[Node], dot: Any, scopes: list[dict[str, Any]]) -> str:
        return "".join(self._node(n, dot, scopes) for n in nodes)

    def _node(self, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> str:
        if node.kind == "text":
            return node.text
        if node.kind == "action":
            m = re.fullmatch(r"(\$\w*)\s*(:?=)\s*(.+)", node.text, re.DOTALL)
            if m:
                value = self._pipeline(m.group(3), dot, scopes)
                if m.group(2) == ":=":
                    scopes[-1][m.group(1)] = value
                else:
                    self._assign(scopes, m.group(1), value)
                return ""
            return go_print(self._pipeline(node.text, dot, scopes))
        if node.kind == "if":
            value = self._pipeline(node.text, dot, scopes)
            return self._run(node.body if truthy(value) else node.orelse, dot, [*scopes, {}])
        if node.kind == "with":
            m = re.fullmatch(r"(\$\w*)\s*:=\s*(.+)", node.text, re.DOTALL)
            value = self._pipeline(m.group(2) if m else node.text, dot, scopes)
            if truthy(value):
                return self._run(node.body, value, [*scopes, {m.group(1): value} if m else {}])
            return self._run(node.orelse, dot, [*scopes, {}])
        return self._range(node, dot, scopes)

    def _range(self, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> str:
        names: list[str] = []
        pipeline = node.text
        m = re.fullmatch(r"(\$\w*(?:\s*,\s*\$\w*)?)\s*:=\s*(.+)", pipeline, re.DOTALL)
        if m:
            names = [n.strip() for n in m.group(1).split(",")]
            pipeline = m.group(2)
        value = self._pipeline(pipeline, dot, scopes)
        if isinstance(value, dict):
            items = sorted(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        elif value is None:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {value!r}")
        if not items:
            return self._run(node.orelse, dot, [*scopes, {}])
        out = []
        for key, element in items:
            frame: dict[str, Any] = {}
            if len(names) == 1:
                frame[names[0]] = element
            elif len(names) == 2:
                frame[names[0]], frame[names[1]] = key, element
            out.append(self._run(node.body, element, [*scopes, frame]))
        return "".join(out)

    def _pipeline(self, text: str, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        commands = split_words(text, "|")
        if not commands:
            raise TemplateError(f"empty pipeline in {text!r}")
        value = self._command(commands[0], dot, scopes, piped=())
        for command in commands[1:]:
            value = self._command(command, dot, scopes, piped=(value,))
        return value

    def _command(self, text: str, dot: Any, scopes: list[dict[str, Any]], piped: tuple[Any, ...]) -> Any:
        words = split_words(text, " ")
        head = words[0]
        if head in LAZY:
            operands = [lambda w=w: self._term(w, dot, scopes) for w in words[1:]]
            operands += [lambda v=v: v for v in piped]
            if len(operands) < 2:
                raise TemplateError(f"{head} needs at least two arguments")
            result: Any = None
            for operand in operands:
                result = operand()
                if truthy(result) == (head == "or"):
                    return result
            return result
        if head in FUNCTIONS:
            args = [self._term(w, dot, scopes) for w in words[1:]]
            try:
                return FUNCTIONS[head](*args, *piped)
            except TypeError as exc:
                raise TemplateError(f"wrong arguments to {head} in {text!r}: {exc}") from exc
        if re.fullmatch(r"[A-Za-z_]\w*", head) and head not in ("true", "false", "nil"):
            raise TemplateError(f"function {head!r} not defined (the renderer implements {sorted(FUNCTIONS)})")
        target = self._term(head, dot, scopes)
        if callable(target):
            return target(*[self._term(w, dot, scopes) for w in words[1:]], *piped)
        if len(words) > 1 or piped:
            raise TemplateError(f"can't give arguments to non-function {head!r} in {text!r}")
        return target

    def _term(self, word: str, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        if word.startswith("("):
            if not word.endswith(")"):
                raise TemplateError(f"unsupported term {word!r} (a field of a parenthesised pipeline)")
            return self._pipeline(word[1:-1], dot, scopes)
        if word.startswith('"'):
            return json.loads(word)
        if word.startswith("`"):
            return word[1:-1]
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if re.fullmatch(r"-?\d+\.\d*(e[-+]?\d+)?", word):
            return float(word)
        if word in ("true", "false"):
            return word == "true"
        if word == "nil":
            return None
        if word.startswith("$"):
            head, _, path = word.partition(".")
            return self._path(self._lookup(scopes, head), path, word)
        if word.startswith("."):
            return self._path(dot, word[1:], word)
        raise TemplateError(f"unsupported term {word!r}")

    @staticmethod
    def _path(base: Any, path: str, word: str) -> Any:
        for part in [p for p in path.split(".") if p]:
            if isinstance(base, dict):
                if part not in base:
                    raise TemplateError(f"missing value {word} (no {part!r})")
                base = base[part]
            elif hasattr(base, part) and not part.startswith("_"):
                base = getattr(base, part)
            else:
                raise TemplateError(f"can't evaluate field {part!r} in {word} of {type(base).__name__}")
        return base


# --- the chart ---------------------------------------------------------------------------------


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the chart's values (maps merge, the rest replaces;
    a null in the override deletes the key)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class Rendered:
    manifests: dict[str, str]  # template path -> rendered text
    notes: str

    def documents(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for name, text in self.manifests.items():
            for doc in yaml.safe_load_all(text):
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise TemplateError(f"{name}: a document that is not a mapping: {doc!r}")
                docs.append(doc)
        return docs


def render_chart(chart: Path, values_files: list[Path] | None = None, overrides: dict[str, Any] | None = None,
                 release: str = "hilum", namespace: str = "default") -> Rendered:
    """``helm template RELEASE CHART -f FILE... `` (overrides last, like ``--set``, but typed as YAML)."""
    values = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8")) or {}
    for path in values_files or []:
        values = merge(values, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    values = merge(values, overrides or {})
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    root = {
        "Values": helm_values(values),
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": True,
                    "IsUpgrade": False, "Revision": 1},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta.get("appVersion", "")},
        "Files": Files(chart),
    }
    engine = Template(root)
    manifests: dict[str, str] = {}
    for template in sorted((chart / "templates").iterdir()):
        if template.name.startswith("_") or template.suffix not in (".yaml", ".yml", ".tpl"):
            continue
        if template.suffix == ".tpl":
            raise TemplateError(f"{template.name}: named templates (define/include) are not supported")
        try:
            manifests[f"templates/{template.name}"] = engine.render(template.read_text(encoding="utf-8"))
        except TemplateError as exc:
            raise TemplateError(f"templates/{template.name}: {exc}") from exc
    notes_path = chart / "templates" / "NOTES.txt"
    notes = engine.render(notes_path.read_text(encoding="utf-8")) if notes_path.is_file() else ""
    return Rendered(manifests, notes)
