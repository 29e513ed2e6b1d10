"""Placeholder: subcommands for this component arrive with its issue."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    return None
