"""The one place that imports the generated ``hilum.v1`` code.

``make install`` (the ``grpc`` target) generates it into ``orchestrator/grpc_gen/hilum/v1/``
with ``-I orchestrator/proto``, so the generated modules import each other as ``hilum.v1``;
this module puts ``orchestrator/grpc_gen`` on ``sys.path`` once and, when the generated
code is missing or older than the ``.proto`` (a fresh checkout run without make), generates it
with the same protoc invocation.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = PACKAGE_ROOT / "proto"
GEN_DIR = PACKAGE_ROOT / "grpc_gen"
PROTO_FILE = PROTO_DIR / "hilum" / "v1" / "dialog.proto"
GENERATED = GEN_DIR / "hilum" / "v1" / "dialog_pb2.py"


def _stale() -> bool:
    return not GENERATED.is_file() or GENERATED.stat().st_mtime < PROTO_FILE.stat().st_mtime


def generate() -> None:
    """Run protoc exactly as the Makefile's ``grpc`` target does."""
    from importlib.resources import files

    from grpc_tools import protoc

    GEN_DIR.mkdir(parents=True, exist_ok=True)
    (GEN_DIR / "__init__.py").touch()
    well_known = str(files("grpc_tools") / "_proto")
    args = [
        "protoc", f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={GEN_DIR}",
        f"--grpc_python_out={GEN_DIR}", f"--pyi_out={GEN_DIR}", str(PROTO_FILE),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO_FILE}")


def _load() -> tuple[ModuleType, ModuleType]:
    if _stale():
        generate()
    if str(GEN_DIR) not in sys.path:
        sys.path.insert(0, str(GEN_DIR))
    return importlib.import_module("hilum.v1.dialog_pb2"), importlib.import_module("hilum.v1.dialog_pb2_grpc")


dialog_pb2, dialog_pb2_grpc = _load()

__all__ = ["dialog_pb2", "dialog_pb2_grpc", "generate"]
