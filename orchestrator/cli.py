"""The ``hilum`` console script: a thin dispatcher. Each component registers its own subcommands.

Registration only declares arguments (no heavy imports), so ``hilum --help`` is instant.
Each registered handler receives ``(args, settings)`` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from orchestrator.logging_setup import configure_logging
from orchestrator.settings import Settings

# module path -> each exposes ``register(subparsers) -> None``
COMMAND_MODULES: tuple[str, ...] = (
    "encoder.phantom_cli",      # hilum phantom
    "encoder.training_cli",     # hilum train, hilum evaluate
    "encoder.lesion_reader.cli",  # hilum train-reader, evaluate-reader, calibrate-reader
    "export.cli",               # hilum export onnx|tensorrt|repository, hilum triton
    "orchestrator.service_cli",  # hilum serve, hilum ask, hilum status
    "orchestrator.pacs_cli",     # hilum pacs pull|push
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hilum", description="Hilum: spatially anchored dialogue about chest radiographs."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_path in COMMAND_MODULES:
        importlib.import_module(module_path).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `hilum ask FILM --earlier E "question"`: questions after an option are questions too (argparse takes a
    # positional list only where it starts); anything else left over is an error, as parse_args would say
    if extra and getattr(args, "command", None) == "ask" and not any(e.startswith("-") for e in extra):
        args.questions = [*args.questions, *extra]
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    settings = Settings()
    configure_logging(settings.log_level)
    return int(args.handler(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
