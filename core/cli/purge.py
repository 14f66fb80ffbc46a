"""``python -m core purge --days N``: delete prediction-log rows older than N days (the retention an admin sets).

The log keeps no patient data, but it is kept only until an administrator purges it; this is that purge.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

from core.cli import COMMANDS
from core.config import get_settings
from core.errors import InputError

if TYPE_CHECKING:  # the store brings pandas and DuckDB: imported when the command runs
    from core.store import Store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "purge", help=COMMANDS["purge"],
        description="Delete the rows of the prediction log (the DuckDB file MGMT_DB, default "
                    "MGMT_DATA_DIR/mgmt.duckdb) that are older than N days, and print how many went. Asks before "
                    "deleting when run in a terminal; --yes deletes without asking (for scripts and cron).")
    parser.add_argument("--days", required=True, metavar="N",
                        help="age in days (0 or more, fractions allowed); rows logged before now minus N days go")
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    parser.set_defaults(run=run)


def purge_age(text: str) -> float:
    """``--days`` as a number of days: finite and 0 or more; InputError otherwise."""
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and days >= 0):
        raise InputError(f"--days is {text!r}; expected a number of days, 0 or more (e.g. --days 30).")
    return days


def confirmed(count: int, total: int, days: float, store: Store) -> bool:
    """Ask on the terminal before deleting; without one, the caller must have passed --yes."""
    question = (f"Delete {count} of the {total} prediction-log row(s), those older than {days:g} days, from "
                f"'{store.path}'?")
    if not sys.stdin.isatty():
        raise InputError(f"{question} Not asking outside a terminal; expected --yes to confirm.")
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    days = purge_age(args.days)
    settings = get_settings()
    path = settings.db_path
    if settings.db_url is None and not path.is_file():
        raise InputError(f"There is no prediction log at '{path}'; expected the database of the app (set MGMT_DB "
                         "or MGMT_DATA_DIR as the app has them).")
    from core.store import Store

    store = Store(settings.store_location, recover=False)  # a damaged file is reported, not replaced, by an admin
    count, total = store.count_older_than(days)
    if count and not args.yes and not confirmed(count, total, days, store):
        print("purge cancelled; nothing was deleted", file=sys.stderr)
        return 0  # the user's answer, carried out: no error (1 would say a bug, 2 a wrong input)
    deleted = store.purge(days)
    _, remaining = store.count_older_than(days)
    print(f"deleted {deleted} prediction-log row(s) older than {days:g} days from '{store.path}'; "
          f"{remaining} remain")
    return 0
