"""``python -m core <command>``: the command line. Failures print ``error: ...`` and exit with their status."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from core.cli import COMMANDS
from core.errors import BUG, EXIT_BUG, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_SERVICE, disposition, user_message

EPILOG = f"""exit status:
  0    done
  {EXIT_BUG}    a bug in this program (please report it; the message says where the details are)
  {EXIT_INPUT}    the input cannot be used (a study, a file or an option): the message says what was found and expected
  {EXIT_SERVICE}    the service cannot answer now: the model cannot be loaded, the database is busy or broken, the
       disk is full, or an MGMT_* setting is wrong (not the input's fault)
  {EXIT_INTERRUPTED}  interrupted"""


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its full options (and imports its module)."""
    parser = argparse.ArgumentParser(
        prog="python -m core", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="MGMT radiogenomics (research use only): synthetic data, ingestion, prediction, training.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((word for word in (argv if argv is not None else sys.argv[1:]) if word in COMMANDS), None)
    for name, summary in COMMANDS.items():
        if name == chosen:
            importlib.import_module(f"core.cli.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # answered as core.errors.DISPOSITIONS says; a bug is logged with its traceback
        answer = disposition(err)
        if answer is BUG:
            logging.basicConfig()
            logging.getLogger("core").exception("bug in '%s'", args.command)
        print(f"error: {user_message(err)}", file=sys.stderr)
        return answer.exit_status


if __name__ == "__main__":
    sys.exit(main())
