"""``python -m core purge --days N``: deletes log rows older than N days, keeps the rest, says how many went."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.__main__ import main
from core.store import Store
from tests.store.conftest import record

ROOT = Path(__file__).resolve().parents[2]


class Terminal(io.StringIO):
    """A stdin that is a terminal, with the user's answer typed in."""

    def isatty(self) -> bool:
        return True


def _log(db: Path | str, ages_days: list[float]) -> Store:
    """A store at ``db`` (a DuckDB file or a PostgreSQL URL) with one row per age (in days before now),
    probability = the row's position / 10."""
    store = Store(db)
    now = datetime.now(UTC)
    for n, age in enumerate(ages_days):
        store.log_prediction(record(time=now - timedelta(days=age), probability=n / 10))
    return store


def _kept(store: Store) -> list[float]:
    return sorted(store.predictions()["probability"].round(3))


def test_rows_older_than_n_days_go_and_newer_ones_stay(db: Path, capsys) -> None:
    store = _log(db, [45, 31, 29.5, 2, 0])
    assert main(["purge", "--days", "30", "--yes"]) == 0
    assert capsys.readouterr().out.strip() == (f"deleted 2 prediction-log row(s) older than 30 days from "
                                               f"'{store.path}'; 3 remain")
    assert _kept(store) == [0.2, 0.3, 0.4]


def test_zero_days_deletes_every_row_logged_until_now(db: Path, capsys) -> None:
    store = _log(db, [3, 1, 0.001])
    assert main(["purge", "--days", "0", "--yes"]) == 0
    assert capsys.readouterr().out.startswith("deleted 3 prediction-log row(s) older than 0 days")
    assert store.predictions().empty


def test_a_fraction_of_a_day_is_an_age_too(db: Path, capsys) -> None:
    store = _log(db, [1, 0.25, 0])
    assert main(["purge", "--days", "0.5", "--yes"]) == 0
    assert "deleted 1 " in capsys.readouterr().out and _kept(store) == [0.1, 0.2]


@pytest.mark.parametrize("days", ["-1", "abc", "nan", "inf", "", "30d"])
def test_a_bad_age_is_refused_with_exit_2_and_nothing_deleted(db: Path, capsys, days: str) -> None:
    store = _log(db, [40, 0])
    assert main(["purge", "--days", days, "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --days is {days!r}; expected a number of days, 0 or more")
    assert len(store.predictions()) == 2


def test_without_yes_outside_a_terminal_nothing_is_deleted(db: Path, capsys, monkeypatch) -> None:
    store = _log(db, [40, 0])
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert main(["purge", "--days", "30"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Delete 1 of the 2 prediction-log row(s)") and "expected --yes" in err
    assert len(store.predictions()) == 2


@pytest.mark.parametrize(("answer", "left"), [("y\n", 1), ("yes\n", 1), ("n\n", 2), ("\n", 2)])
def test_in_a_terminal_it_asks_first(db: Path, capsys, monkeypatch, answer: str, left: int) -> None:
    store = _log(db, [40, 0])
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    assert main(["purge", "--days", "30"]) == 0  # a "no" is carried out too: nothing deleted, no error
    out, err = capsys.readouterr()
    assert out.startswith(f"Delete 1 of the 2 prediction-log row(s), those older than 30 days, from '{store.path}'?")
    assert len(store.predictions()) == left
    assert ("purge cancelled; nothing was deleted" in err) == (left == 2)


def test_a_missing_database_is_an_error_and_is_not_created(db: Path, capsys) -> None:
    assert main(["purge", "--days", "30", "--yes"]) == 2
    assert capsys.readouterr().err.startswith(f"error: There is no prediction log at '{db}'")
    assert not db.exists()


def test_a_damaged_database_is_reported_and_left_where_it_is(db: Path, capsys) -> None:
    db.write_bytes(b"\x00garbage" * 1000)
    assert main(["purge", "--days", "30", "--yes"]) == 3  # the service's problem, not the command's input
    assert "is not a DuckDB database" in capsys.readouterr().err
    assert db.read_bytes() == b"\x00garbage" * 1000 and [p.name for p in db.parent.iterdir()] == [db.name]


def test_python_m_core_purge_runs_as_a_command(db: Path) -> None:
    store = _log(db, [10, 0])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MGMT_DB": str(db)}
    run = subprocess.run([sys.executable, "-m", "core", "purge", "--days", "5", "--yes"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("deleted 1 prediction-log row(s) older than 5 days") and len(store.predictions()) == 1


def test_purge_works_on_a_shared_postgresql_log_named_by_mgmt_db_url(
        postgres_database: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("MGMT_DB_URL", postgres_database)
    store = _log(postgres_database, [40, 31, 2])
    assert main(["purge", "--days", "30", "--yes"]) == 0
    assert "deleted 2 prediction-log row(s) older than 30 days" in capsys.readouterr().out
    assert _kept(store) == [0.2]
