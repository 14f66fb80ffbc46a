"""The PostgreSQL engine without its optional client installed: a SettingsError saying what to install."""

from __future__ import annotations

import importlib
import sys

import pytest

from core.errors import SettingsError


def test_the_postgres_engine_without_psycopg_installed_is_a_settings_error_naming_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now raises ImportError
    monkeypatch.delitem(sys.modules, "core.store.postgres_server", raising=False)
    with pytest.raises(SettingsError, match="its client psycopg is not installed") as caught:
        importlib.import_module("core.store.postgres_server")
    assert "`pip install -r requirements-scale.txt`" in caught.value.user_message
