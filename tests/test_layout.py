"""The package layout's rule: serving never imports torch or the training side.

``orchestrator/`` is the serving runtime. It owns the contracts (``orchestrator/contracts``: tensor
names, sizes, class lists, the film normalisation) that ``encoder/`` (training), ``export/`` and
``evaluation/`` import; none of those, nor torch or ``loadtests/``, is imported by serving.

Three checks:

- an AST scan of every module under ``orchestrator/``: no import of a forbidden package at module
  level (``if TYPE_CHECKING:`` included); inside a function only in :data:`CLI_ENTRY_MODULES`;
  ``importlib.import_module`` / ``__import__`` take a literal name (checked the same way) except
  in :data:`CLI_ENTRY_MODULES`;
- a subprocess with an import hook that refuses the forbidden packages builds the serving path,
  opens a session on the committed example film, asks a follow-up and imports every module under
  ``orchestrator/`` (but the CLI entry modules and ``orchestrator/grpc_gen``); none of the
  forbidden packages may end up in ``sys.modules``, and no module under ``orchestrator/`` may
  even try to import one (a ``try: ... except ImportError`` would hide it otherwise);
- no tracked file cites the shared folder outside the repository: design documents live in ``docs/``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVING = ROOT / "orchestrator"
FORBIDDEN: tuple[str, ...] = ("torch", "encoder", "export", "evaluation", "loadtests")
GENERATED = ("orchestrator/grpc_gen",)  # protoc output, imported through grpc_service/proto.py

# The only serving modules that may reach the training / export side, and only inside functions:
# the command-line entry points, whose training, evaluation and export commands run in a
# development checkout, never in the serving path. Path (repository-relative) -> why.
CLI_ENTRY_MODULES: dict[str, str] = {
    # the `hilum` console script: build_parser() imports COMMAND_MODULES with importlib
    # (encoder.phantom_cli: `hilum phantom`; encoder.training_cli: `hilum train` / `hilum evaluate`;
    # encoder.lesion_reader.cli: `hilum train-reader` / `hilum evaluate-reader`; export.cli:
    # `hilum export ...` / `hilum triton`) so that each registers its own subcommands
    "orchestrator/cli.py": "dispatches to the training, evaluation and export commands",
}
EXAMPLE_FILM = ROOT / "orchestrator" / "api" / "data" / "examples" / "phantom-7.dcm"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def serving_modules() -> list[Path]:
    return sorted(p for p in SERVING.rglob("*.py")
                  if not any(_rel(p).startswith(g + "/") for g in GENERATED))


def _forbidden(name: str | None) -> bool:
    return name is not None and name.partition(".")[0] in FORBIDDEN


def _dynamic_import(node: ast.Call) -> bool:
    f = node.func
    return ((isinstance(f, ast.Attribute) and f.attr == "import_module")
            or (isinstance(f, ast.Name) and f.id in ("import_module", "__import__")))


def scan(source: str, rel: str) -> list[str]:
    """What in one module breaks the rule, as 'path:line: why'."""
    allowed_in_functions = rel in CLI_ENTRY_MODULES
    problems: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        names: list[str | None] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names = [arg.value]
            elif not allowed_in_functions:
                problems.append(f"{rel}:{node.lineno}: a dynamic import of a computed name")
        for name in names:
            if not _forbidden(name):
                continue
            if not in_function:
                problems.append(f"{rel}:{node.lineno}: imports {name} at module level")
            elif not allowed_in_functions:
                problems.append(f"{rel}:{node.lineno}: imports {name} (only CLI entry modules may, in a function)")
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source, filename=rel), False)
    return problems


def test_serving_modules_import_nothing_from_training_at_module_level() -> None:
    modules = serving_modules()
    assert len(modules) > 50, "the scan found too few modules: is SERVING right?"
    problems = [p for m in modules for p in scan(m.read_text(encoding="utf-8"), _rel(m))]
    assert not problems, "\n".join(problems)


def test_the_allow_list_names_existing_modules() -> None:
    for rel in CLI_ENTRY_MODULES:
        assert (ROOT / rel).is_file(), f"{rel} is allow-listed but gone: drop it from CLI_ENTRY_MODULES"


@pytest.mark.parametrize(("source", "flagged"), [
    ("import torch\n", True),
    ("from encoder.network import INPUT_NAME\n", True),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from evaluation.scoring import Score\n", True),
    ("def f():\n    from export.onnx import ort_session\n", True),
    ("def f():\n    import importlib\n    importlib.import_module('loadtests.bench_encoder')\n", True),
    ("import importlib\nNAME = 'x'\nimportlib.import_module(NAME)\n", True),
    ("import encoders_of_mine\nfrom orchestrator.contracts.encoder import INPUT_NAME\n", False),
    ("from .encoder import x\n", False),  # relative: a sibling module, not the training package
])
def test_the_scan_flags_what_it_should(source: str, flagged: bool) -> None:
    assert bool(scan(source, "orchestrator/example.py")) is flagged


def test_the_scan_lets_cli_entry_modules_import_in_functions_only() -> None:
    rel = next(iter(CLI_ENTRY_MODULES))
    assert not scan("def f():\n    from encoder.training_cli import register\n", rel)
    assert scan("from encoder.training_cli import register\n", rel)


PROBE = textwrap.dedent('''
    import importlib, importlib.abc, json, os, sys
    from pathlib import Path

    ROOT = Path(os.getcwd())
    FORBIDDEN = set(json.loads(sys.argv[1]))
    SKIP = set(json.loads(sys.argv[2]))
    SERVING = str(ROOT / "orchestrator") + os.sep
    attempts = []


    class Refuse(importlib.abc.MetaPathFinder):
        """Serving runs where torch and the training side are not installed."""

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] not in FORBIDDEN:
                return None
            frame = sys._getframe(1)  # the importer: past the import machinery and importlib
            while frame is not None and (frame.f_code.co_filename.startswith("<frozen")
                                         or frame.f_code.co_filename == importlib.__file__):
                frame = frame.f_back
            who = frame.f_code.co_filename if frame is not None else "?"
            if who.startswith(SERVING):
                attempts.append(f"{name} from {who}:{frame.f_lineno}")
            raise ImportError(f"{name} is not available to serving")


    sys.meta_path.insert(0, Refuse())

    from orchestrator.server import build_services
    from orchestrator.settings import Settings

    s = build_services(Settings())
    try:
        data = (ROOT / "orchestrator/api/data/examples/phantom-7.dcm").read_bytes()
        view = s.engine.create_session(data, "film.dcm", "en")
        answer = s.engine.ask(view.session_id, "How far is it from the right hilum?")
    finally:
        s.close()

    imported = []
    for path in sorted((ROOT / "orchestrator").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in SKIP or rel.startswith("orchestrator/grpc_gen/"):
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        importlib.import_module(".".join(parts))
        imported.append(rel)

    print(json.dumps({
        "session": view.session_id, "answered": bool(answer), "imported": len(imported),
        "attempts": attempts,
        "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in FORBIDDEN),
    }))
''')


def run_probe(root: Path = ROOT, timeout: float = 300) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HILUM_")}  # the defaults: embedded, memory
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(FORBIDDEN), json.dumps(sorted(CLI_ENTRY_MODULES))],
        cwd=root, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, f"the serving path failed without the training side:\n{proc.stderr[-6000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not EXAMPLE_FILM.is_file(), reason="no committed example film")
def test_serving_runs_and_imports_without_torch_or_the_training_side() -> None:
    if not (ROOT / "encoder" / "weights" / "anatomy_encoder.onnx").is_file():
        pytest.skip("no encoder weights: the embedded encoder cannot start")
    got = run_probe()
    assert got["session"] and got["answered"]
    assert got["imported"] == len(serving_modules()) - len(CLI_ENTRY_MODULES)
    assert not got["attempts"], "serving tried to import: " + "; ".join(got["attempts"])
    assert not got["loaded"], f"serving loaded {got['loaded']}"


DOC_ROOTS = ("orchestrator", "encoder", "export", "loadtests", "ops", "helm", "tests", "docs")


def test_nothing_cites_the_shared_folder() -> None:
    """Design documents live in ``docs/``; the shared folder is outside the repository."""
    listed = subprocess.run(["git", "ls-files", "--", *DOC_ROOTS, "README.md"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    needle = "../" + "shared/"  # spelled apart so that this file does not cite it
    offenders = []
    for rel in listed.stdout.splitlines():
        path = ROOT / rel
        if path.suffix in (".py", ".md") and path.is_file() and needle in path.read_text(encoding="utf-8",
                                                                                          errors="replace"):
            offenders.append(rel)
    assert not offenders, f"these cite {needle}: {offenders}"
