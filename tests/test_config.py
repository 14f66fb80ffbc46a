"""Settings and the study-hash salt (core/config.py)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from core.config import get_settings, study_salt
from core.errors import ServiceUnavailable, SettingsError


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MGMT_SALT", raising=False)
    monkeypatch.setenv("MGMT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_threads_racing_to_create_the_salt_all_get_the_one_stored(data_dir: Path) -> None:
    salts: list[bytes] = []
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        salts.append(study_salt(get_settings()))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = (data_dir / "salt").read_bytes()
    assert len(set(salts)) == 1 and salts[0] == stored and len(stored) == 64
    assert stat.S_IMODE((data_dir / "salt").stat().st_mode) == 0o600
    assert sorted(p.name for p in data_dir.iterdir()) == ["salt"]  # no private leftovers


def test_an_empty_salt_file_is_refused_rather_than_hashing_unsalted(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "salt").write_bytes(b"")
    with pytest.raises(ServiceUnavailable, match="is empty"):
        study_salt(get_settings())


def test_an_unwritable_data_folder_is_a_clear_server_side_error(data_dir: Path) -> None:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.write_text("a file where the data folder should be")
    with pytest.raises(ServiceUnavailable, match="cannot be read or created"):
        study_salt(get_settings())


def test_replicas_sharing_a_postgresql_log_must_be_given_their_common_salt(data_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MGMT_DB_URL", "postgresql://mgmt@db.example/mgmt")
    with pytest.raises(ServiceUnavailable, match="MGMT_SALT"):
        study_salt(get_settings())
    assert not (data_dir / "salt").exists()  # no replica-private salt was made
    monkeypatch.setenv("MGMT_SALT", "shared-secret")
    assert study_salt(get_settings()) == b"shared-secret"


def test_a_database_url_of_another_engine_is_refused_naming_the_expected_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MGMT_DB_URL", "mysql://mgmt:s3cret@db.example/mgmt")
    with pytest.raises(SettingsError, match="expected a PostgreSQL URL") as caught:
        get_settings()
    assert "s3cret" not in caught.value.user_message


def test_the_store_is_the_database_url_when_set_else_the_duckdb_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_DB_URL", raising=False)
    monkeypatch.setenv("MGMT_DB", "/srv/mgmt.duckdb")
    assert get_settings().store_location == Path("/srv/mgmt.duckdb")
    monkeypatch.setenv("MGMT_DB_URL", "postgresql://mgmt@db.example/mgmt")
    assert get_settings().store_location == "postgresql://mgmt@db.example/mgmt"
