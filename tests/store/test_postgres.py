"""What only the PostgreSQL engine has to show: a server that goes away and comes back, transactions cut off by
the server, replicas migrating at once, and a URL whose password never reaches a message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.store import Store, StoreUnavailable
from core.store.schema import MIGRATIONS
from tests.app_server import free_port
from tests.pg_server import PostgresCluster
from tests.store.conftest import record

psycopg = pytest.importorskip("psycopg", reason="psycopg (requirements-scale.txt) is not installed")
from core.store.postgres_server import without_password  # noqa: E402  (needs psycopg)

ROOT = Path(__file__).resolve().parents[2]
CASES = pd.DataFrame({"case": ["00001", "00002"], "fold": [0, 1], "label": [1, 0], "probability": [0.9, 0.2]})


def test_a_server_that_went_away_is_named_with_the_cause_and_used_again_once_back(
        postgres_cluster: PostgresCluster, postgres_database: str) -> None:
    store = Store(postgres_database)
    first = store.log_prediction(record())
    postgres_cluster.stop("fast")
    try:
        with pytest.raises(StoreUnavailable, match="PostgreSQL server of the prediction log") as caught:
            store.predictions()
        assert store.log_prediction(record()) is None  # reported as not logged, not an error of the request
    finally:
        postgres_cluster.start()
    assert f"'{store.path}'" in caught.value.user_message and "No such file or directory" in caught.value.user_message
    again = store.log_prediction(record(user="after"))
    assert first is not None and again is not None and again > first
    assert store.predictions()["user"].tolist() == ["after", "anonymous"]


def test_a_transaction_cut_off_by_the_server_leaves_the_previous_cohort_whole(postgres_database: str) -> None:
    store = Store(postgres_database)
    store.replace_cohort("external", "org/net", "rev1", CASES)
    with pytest.raises(StoreUnavailable), store.backend.transaction() as session:
        session.changed("DELETE FROM cohort_cases")
        with psycopg.connect(postgres_database, autocommit=True) as admin:  # the server ends our session
            admin.execute("SELECT pg_terminate_backend(%s)", [session.connection.info.backend_pid])
        session.changed("DELETE FROM model_metrics")
    kept = store.cohort("external", "org/net", "rev1")
    assert kept["case"].tolist() == ["00001", "00002"] and kept["probability"].tolist() == [0.9, 0.2]


def test_replicas_starting_together_migrate_the_database_once(postgres_database: str) -> None:
    script = "import sys; from core.store import Store; print(Store(sys.argv[1]).schema_version)"
    replicas = [subprocess.Popen([sys.executable, "-c", script, postgres_database], cwd=ROOT, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outputs = [replica.communicate(timeout=120) for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
    latest = MIGRATIONS[-1].version
    assert [out.strip() for out, _ in outputs] == [str(latest)] * 3
    with psycopg.connect(postgres_database) as connection:
        versions = connection.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(v,) for v in range(1, latest + 1)]


def test_an_abstained_prediction_is_logged_with_its_reasons_on_postgresql(postgres_database: str) -> None:
    store = Store(postgres_database)
    store.log_prediction(record(status="abstained", label="indeterminate", reasons=("No tumour was found.",)))
    row = store.predictions(status="abstained").iloc[0]
    assert row["label"] == "indeterminate" and json.loads(row["reasons"]) == ["No tumour was found."]


def test_the_urls_password_is_left_out_of_what_messages_show() -> None:
    shown = without_password("postgresql://mgmt:s3cret@db.example:5432/mgmt?sslmode=require&password=s3cret")
    assert shown == "postgresql://mgmt@db.example:5432/mgmt?sslmode=require"


def test_an_unreachable_server_at_start_is_named_without_its_password() -> None:
    url = f"postgresql://mgmt:s3cret@127.0.0.1:{free_port()}/mgmt"
    with pytest.raises(StoreUnavailable, match="cannot be used") as caught:
        Store(url, lock_timeout_s=2)
    assert "s3cret" not in caught.value.user_message and "127.0.0.1" in caught.value.user_message


def test_options_in_the_url_are_kept_so_the_log_can_live_in_its_own_schema(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA mgmt")
    store = Store(f"{postgres_database}&options=-csearch_path%3Dmgmt")
    store.log_prediction(record())
    with psycopg.connect(postgres_database) as connection:
        assert connection.execute("SELECT count(*) FROM mgmt.predictions").fetchone() == (1,)
        assert connection.execute("SELECT to_regclass('public.predictions')").fetchone() == (None,)
