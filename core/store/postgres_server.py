"""The shared engine: the store in a PostgreSQL database (``MGMT_DB_URL``), for several app replicas on one log.

Each operation opens its own connection (psycopg 3), runs one transaction and closes: nothing is held between
requests, so a server that restarted or failed over is used again by the next operation without any reconnect
logic, and a transaction cut off half-way is rolled back by the server (nothing half-written). While the server
cannot be reached every operation raises ``StoreUnavailable`` naming it (without its password) and the cause:
the REST API answers 503 with that message, the log marks the prediction as not logged.

Migrations run under a transaction-scoped advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from core.errors import SettingsError
from core.store.connection import StoreBusy, StoreUnavailable
from core.store.schema import migrate
from core.store.session import Parameters, column_values, typed

try:
    import psycopg
    from psycopg import errors as pg_errors
except ImportError as err:  # an optional dependency: say what to install
    raise SettingsError("MGMT_DB_URL names a PostgreSQL server, but its client psycopg is not installed; expected "
                     "`pip install -r requirements-scale.txt` (or unset MGMT_DB_URL to use the DuckDB file).") from err

SCHEMA_LOCK = 0x6D676D74  # "mgmt": the advisory lock key migrations hold
SECRET_PARAMETERS = ("password", "sslpassword", "passfile")


def without_password(url: str) -> str:
    """The URL with its password (in the user part or the query) left out: safe to show and to log."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = urlencode([(key, value) for key, value in parse_qsl(parts.query) if key not in SECRET_PARAMETERS])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def cause_of(err: BaseException) -> str:
    """The first line of a psycopg error (what went wrong, for messages)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:300]


class PostgresSession:
    """One PostgreSQL transaction, as the queries see it (``?`` placeholders become psycopg's ``%s``)."""

    dialect = "postgresql"
    schema_conflicts: tuple[type[Exception], ...] = (pg_errors.DuplicateTable, pg_errors.DuplicateObject)

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _run(self, sql: str, parameters: Parameters) -> psycopg.Cursor:
        return self.connection.execute(self._sql(sql), list(parameters) or None)

    def rows(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        return self._run(sql, parameters).fetchall()

    def row(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        return self._run(sql, parameters).fetchone()

    def changed(self, sql: str, parameters: Parameters = ()) -> int:
        return max(self._run(sql, parameters).rowcount, 0)

    def frame(self, sql: str, parameters: Parameters, dtypes: Mapping[str, str]) -> pd.DataFrame:
        cursor = self._run(sql, parameters)
        names = [column.name for column in cursor.description or ()]
        return typed(pd.DataFrame.from_records(cursor.fetchall(), columns=names), dtypes)

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        names = ", ".join(f'"{name}"' for name in frame.columns)
        placeholders = ", ".join("%s" for _ in frame.columns)
        with self.connection.cursor() as cursor:
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})', list(column_values(frame)))

    def lock_schema(self) -> None:
        self.connection.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])


class PostgresServer:
    """The store's PostgreSQL database, migrated on open; every operation on a fresh connection."""

    set_aside: Path | None = None  # nothing to set aside: the server keeps its own files whole

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.location: Path | str = without_password(url)
        self.timeout_s = timeout_s
        with self.transaction() as session:
            self.schema_version = migrate(session, self.location)

    def _connect(self) -> psycopg.Connection:
        """A connection in autocommit mode (transactions are explicit), giving up after the timeout; waits for a
        lock at most that long too, so a stuck replica makes the others report busy rather than hang. What the URL
        sets itself (``connect_timeout``, ``options`` such as a search_path) is kept."""
        timeout_ms = max(int(self.timeout_s * 1000), 1)
        given = psycopg.conninfo.conninfo_to_dict(self.url)
        ours = f"-c lock_timeout={timeout_ms} -c statement_timeout={6 * timeout_ms}"
        try:
            return psycopg.connect(self.url, autocommit=True,
                                   connect_timeout=given.get("connect_timeout", max(int(self.timeout_s), 2)),
                                   options=f"{ours} {given.get('options', '')}".strip())
        except psycopg.Error as err:
            raise self._unavailable(err) from err

    def _unavailable(self, err: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"The PostgreSQL server of the prediction log at '{self.location}' cannot be used "
                                f"({cause_of(err)}); expected it running and accepting connections (MGMT_DB_URL). "
                                "The app connects again by itself once it is back.")

    @contextmanager
    def transaction(self) -> Iterator[PostgresSession]:
        """One transaction: committed when the block ends, rolled back (by us or by the server) if it raises."""
        connection = self._connect()
        try:
            with connection.transaction():
                yield PostgresSession(connection)
        except pg_errors.LockNotAvailable as err:
            raise StoreBusy(f"The prediction log at '{self.location}' stayed locked by another replica for more "
                            f"than {self.timeout_s:g} s ({cause_of(err)}); expected it to be free between "
                            "operations (retry shortly).") from err
        except (psycopg.OperationalError, psycopg.InterfaceError) as err:  # gone, shut down, out of disk or memory
            raise self._unavailable(err) from err
        finally:
            connection.close()
