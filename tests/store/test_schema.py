"""Schema: created on a new file, found on reopening, migrated forward, and refused when unknown."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.store import Store, StoreBusy, StoreUnavailable
from core.store.duckdb_file import DuckDBSession
from core.store.schema import MIGRATIONS, Migration, migrate, schema_version


def _versions(path: Path) -> list[tuple[int, str]]:
    with duckdb.connect(str(path)) as connection:
        return connection.execute("SELECT version, description FROM schema_version ORDER BY version").fetchall()


def test_a_new_file_gets_the_latest_schema_and_records_it(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "mgmt.duckdb"
    store = Store(path)
    assert path.is_file() and store.schema_version == MIGRATIONS[-1].version
    assert _versions(path) == [(m.version, m.description) for m in MIGRATIONS]


def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    Store(path)
    Store(path)
    assert len(_versions(path)) == len(MIGRATIONS)


def test_migration_versions_count_up_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_an_empty_duckdb_file_of_version_zero_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()
    with duckdb.connect(str(path)) as connection:
        assert schema_version(DuckDBSession(connection)) == 0
    assert Store(path).predictions().empty


def test_a_file_at_an_older_version_gets_only_the_newer_migrations(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    Store(path)
    added = Migration(len(MIGRATIONS) + 1, "a note per prediction",
                      ("ALTER TABLE predictions ADD COLUMN note VARCHAR",))
    with duckdb.connect(str(path)) as connection:
        assert migrate(DuckDBSession(connection), path, (*MIGRATIONS, added)) == added.version
        columns = [row[0] for row in connection.execute("DESCRIBE predictions").fetchall()]
    assert columns[-1] == "note"
    assert _versions(path)[-1] == (added.version, added.description)


def test_a_file_from_a_newer_app_is_refused_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    Store(path)
    with duckdb.connect(str(path)) as connection:
        connection.execute("INSERT INTO schema_version VALUES (99, 'from the future', now())")
    latest = MIGRATIONS[-1].version
    with pytest.raises(StoreUnavailable, match=rf"schema version 99.*expected version {latest} or older") as caught:
        Store(path)
    assert str(path) in caught.value.user_message


def test_without_recovery_a_file_that_is_not_a_database_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(StoreUnavailable, match="is not a DuckDB database") as caught:
        Store(path, recover=False)
    assert not isinstance(caught.value, StoreBusy) and f"'{path}'" in caught.value.user_message
    assert path.read_text().startswith("these are my notes")  # left as it was


def test_a_database_with_foreign_tables_of_the_same_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE predictions (x INTEGER)")
    with pytest.raises(StoreUnavailable, match="holds tables this app did not create"):
        Store(path)
    with duckdb.connect(str(path)) as connection:  # rolled back: no half-made schema left behind
        assert schema_version(DuckDBSession(connection)) == 0
