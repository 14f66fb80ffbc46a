"""``python -m core <command>``: the command line. User errors print ``error: ...`` and exit 2."""

from __future__ import annotations

import argparse
import importlib
import sys

from core.errors import InputError, ServiceUnavailable

COMMANDS = ("synth", "inspect", "predict", "batch", "train", "tune", "evaluate", "push", "purge")
"""Subcommands, each a module of ``core.cli`` with ``add_parser`` and ``run``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="MGMT radiogenomics (research use only): synthetic data, ingestion, prediction, training.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"core.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (InputError, ServiceUnavailable) as err:
        print(f"error: {err.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
