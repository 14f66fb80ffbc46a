"""Settings read from the environment (``MGMT_*``), gathered in one frozen dataclass."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise InputError(f"Setting {name}={raw!r} is not a whole number.") from err


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a demo on a small machine needs."""

    data_dir: Path
    max_unzipped_bytes: int
    max_zip_entries: int
    max_voxels: int
    max_dimension: int
    db_path: Path
    api_token: str | None
    admins: frozenset[str]
    max_upload_bytes: int

    @property
    def salt_file(self) -> Path:
        return self.data_dir / "salt"


def get_settings() -> Settings:
    """Read the settings from the environment now (cheap; call where needed, tests may change env)."""
    data_dir = Path(os.environ.get("MGMT_DATA_DIR", "data"))
    admins = os.environ.get("MGMT_ADMINS", "")
    return Settings(
        data_dir=data_dir,
        max_unzipped_bytes=_int_env("MGMT_MAX_UNZIPPED_BYTES", 2 * 1024**3),
        max_zip_entries=_int_env("MGMT_MAX_ZIP_ENTRIES", 5000),
        max_voxels=_int_env("MGMT_MAX_VOXELS", 300_000_000),
        max_dimension=_int_env("MGMT_MAX_DIMENSION", 2048),
        db_path=Path(os.environ.get("MGMT_DB") or data_dir / "mgmt.duckdb"),
        api_token=os.environ.get("MGMT_API_TOKEN") or None,
        admins=frozenset(a.strip().lower() for a in admins.replace(";", ",").split(",") if a.strip()),
        max_upload_bytes=_int_env("MGMT_MAX_UPLOAD_MB", 1024) * 1024**2,
    )


def study_salt(settings: Settings | None = None) -> bytes:
    """The secret salt of study hashes: ``MGMT_SALT``, else one generated once and kept in the data dir."""
    env = os.environ.get("MGMT_SALT")
    if env:
        return env.encode()
    settings = settings or get_settings()
    path = settings.salt_file
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32).encode()
    try:
        with open(path, "xb") as handle:  # another thread or process may have won the race
            handle.write(salt)
    except FileExistsError:
        return path.read_bytes().strip()
    os.chmod(path, 0o600)
    return salt
