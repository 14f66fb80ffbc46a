"""``python -m core [--debug] <command>``: the command line.

Every failure is one ``error: ...`` answer on stderr and the exit status ``core.errors.DISPOSITIONS`` gives its
kind. Log records of WARNING and above print as ``warning: ...`` lines; a traceback is never printed unless
``--debug`` is given, which logs the ``core`` package at DEBUG level to stderr, tracebacks included.
"""

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
  {EXIT_INTERRUPTED}  interrupted

python -m core --debug COMMAND ... also prints the log (debug level) and any traceback on stderr."""
DEBUG_HINT = "run again as 'python -m core --debug {command} ...' to see the traceback"


class ConsoleLog(logging.Handler):
    """Log records as ``warning: ...`` lines on stderr; a record carrying a traceback is held back (counted)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.held_back = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.held_back += 1
            return
        print(f"warning: {record.getMessage()}", file=sys.stderr)


def configure_logging(debug: bool) -> ConsoleLog | None:
    """With ``debug``, the ``core`` package's log at DEBUG level with tracebacks; else the ConsoleLog."""
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("core").setLevel(logging.DEBUG)
        return None
    console = ConsoleLog()
    root.addHandler(console)
    return console


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its full options (and imports its module)."""
    parser = argparse.ArgumentParser(
        prog="python -m core", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="MGMT radiogenomics (research use only): synthetic data, ingestion, prediction, training.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="log at debug level to stderr, tracebacks included (before the command)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((word for word in (argv if argv is not None else sys.argv[1:]) if word in COMMANDS), None)
    for name, summary in COMMANDS.items():
        if name == chosen:
            importlib.import_module(f"core.cli.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def cli_message(err: Exception, command: str, console: ConsoleLog | None) -> str:
    """The one line answering ``err``: its own message, or for a bug its type; where the traceback is."""
    hint = "" if console is None else DEBUG_HINT.format(command=command)
    if disposition(err) is BUG:
        where = "please report it with the traceback above" if console is None else f"{hint}, and please report it"
        return f"a bug in '{command}' ({type(err).__name__}); {where}"
    return user_message(err) + (f" ({hint})" if console is not None and console.held_back else "")


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    console = configure_logging(args.debug)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # answered as core.errors.DISPOSITIONS says; a traceback only with --debug
        answer = disposition(err)
        if args.debug:
            logging.getLogger("core").log(logging.ERROR if answer is BUG else logging.DEBUG, "'%s' failed",
                                          args.command, exc_info=True)
        print(f"error: {cli_message(err, args.command, console)}", file=sys.stderr)
        return answer.exit_status
    finally:
        if console is not None:
            logging.getLogger().removeHandler(console)


if __name__ == "__main__":
    sys.exit(main())
