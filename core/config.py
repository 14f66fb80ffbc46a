"""Settings read from the environment (``MGMT_*``), gathered in one frozen dataclass."""

from __future__ import annotations

import difflib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from core.admission import (
    RECEIVING_WANTED,
    STUDY_BUDGET_BYTES,
    available_cores,
    available_memory_bytes,
    default_queue_size,
    default_receiving_bytes,
    default_slots,
)
from core.errors import ServiceUnavailable, SettingsError

Number = TypeVar("Number", int, float)


def _number_env(name: str, default: Number, kind: Callable[[str], Number], what: str,
                minimum: Number | None = None) -> Number:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError as err:
        raise SettingsError(f"Setting {name}={raw!r} is not {what}.") from err
    if minimum is not None and not value >= minimum:
        raise SettingsError(f"Setting {name}={raw!r} is too small; expected {what} of at least {minimum}.")
    return value


def _int_env(name: str, default: int, minimum: int | None = None) -> int:
    return _number_env(name, default, int, "a whole number", minimum)


@cache
def _machine() -> tuple[int, int | None]:
    """The cores and the memory available to the process, probed once (at start), for the admission defaults."""
    return available_cores(), available_memory_bytes()


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a demo on a small machine needs."""

    data_dir: Path
    max_unzipped_bytes: int
    max_zip_entries: int
    max_voxels: int
    max_dimension: int
    db_path: Path
    db_url: str | None
    """``MGMT_DB_URL``: a PostgreSQL server shared by several replicas (``postgresql://...``); None: ``db_path``."""
    api_token: str | None
    admin_token: str | None
    admins: frozenset[str]
    max_upload_bytes: int
    max_concurrent: int
    queue_size: int
    queue_timeout_s: float
    model_repo: str | None = None
    model_revision: str | None = None
    skull_strip: str | None = None  # None: as the model's config.json says; else forced (auto, always, never)
    salt: str | None = None
    max_receiving: int = 32
    """``MGMT_MAX_RECEIVING``: uploads whose body may be arriving at once (apart from the slots and the queue)."""
    receiving_bytes: int | None = None
    """``MGMT_RECEIVING_MB``: bytes those uploads may hold together; None: no bound (memory unknown)."""
    upload_idle_s: float = 15.0
    """``MGMT_UPLOAD_IDLE_S``: an upload that sends no byte for this long is dropped (408)."""
    upload_min_rate: int = 50 * 1024
    """``MGMT_UPLOAD_MIN_RATE_KB`` (KiB/s): an upload slower than this on average, once ``upload_idle_s`` has
    passed, is dropped (408)."""
    upload_max_s: float = 600.0
    """``MGMT_UPLOAD_MAX_S``: an upload still arriving after this long is dropped (408)."""
    max_study_voxels: int = STUDY_BUDGET_BYTES // 4
    """``MGMT_MAX_STUDY_VOXELS``: voxels of all four sequences together, checked from the headers before any is
    read (the slot's memory at 4 bytes a voxel, float32)."""

    @property
    def salt_file(self) -> Path:
        return self.data_dir / "salt"

    @property
    def store_location(self) -> Path | str:
        """Where the prediction log lives: the PostgreSQL URL when one is set, else the DuckDB file."""
        return self.db_url or self.db_path


SKULL_STRIP_MODES = ("auto", "always", "never")
"""How the brain is found: ``auto`` strips the skull when the study still has one; ``always``; ``never``."""


def _choice_env(name: str, allowed: tuple[str, ...]) -> str | None:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        close = difflib.get_close_matches(raw, allowed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise SettingsError(f"Setting {name}={raw!r} is not one of {', '.join(allowed)}.{hint}")
    return raw


def get_settings() -> Settings:
    """Read the settings from the environment now (cheap; call where needed, tests may change env)."""
    data_dir = Path(os.environ.get("MGMT_DATA_DIR", "data"))
    admins = os.environ.get("MGMT_ADMINS", "")
    cores, memory = _machine()
    slots = _int_env("MGMT_MAX_CONCURRENT", 0, minimum=1) or default_slots(cores, memory)
    queue_size = _int_env("MGMT_QUEUE_SIZE", default_queue_size(slots, memory), minimum=0)
    return Settings(
        data_dir=data_dir,
        max_unzipped_bytes=_int_env("MGMT_MAX_UNZIPPED_BYTES", 2 * 1024**3),
        max_zip_entries=_int_env("MGMT_MAX_ZIP_ENTRIES", 5000),
        max_voxels=_int_env("MGMT_MAX_VOXELS", DEFAULT_MAX_VOXELS, minimum=1),
        max_dimension=_int_env("MGMT_MAX_DIMENSION", 2048),
        db_path=Path(os.environ.get("MGMT_DB") or data_dir / "mgmt.duckdb"),
        db_url=_database_url(os.environ.get("MGMT_DB_URL", "").strip() or None),
        api_token=os.environ.get("MGMT_API_TOKEN") or None,
        admin_token=os.environ.get("MGMT_ADMIN_TOKEN") or None,
        admins=frozenset(a.strip().lower() for a in admins.replace(";", ",").split(",") if a.strip()),
        max_upload_bytes=_int_env("MGMT_MAX_UPLOAD_MB", 1024) * 1024**2,
        # Admission (core/admission.py). MGMT_MAX_CONCURRENT: studies read and scored at once; default one per core
        # while each gets 1 GiB of the memory available at start (an RSNA-size study measured +0.6 GB). Further
        # requests wait, at most MGMT_QUEUE_SIZE of them (default 4 per slot, fewer if the memory left cannot hold
        # 0.5 GiB of upload each) for at most MGMT_QUEUE_TIMEOUT_S seconds each (default 60); beyond that they are
        # refused as busy (REST: 503 with Retry-After; the page says so).
        max_concurrent=slots,
        queue_size=queue_size,
        queue_timeout_s=_number_env("MGMT_QUEUE_TIMEOUT_S", 60.0, float, "a number of seconds", minimum=0.0),
        model_repo=os.environ.get("MGMT_MODEL_REPO") or None,
        model_revision=os.environ.get("MGMT_MODEL_REVISION") or None,
        skull_strip=_choice_env("MGMT_SKULL_STRIP", SKULL_STRIP_MODES),
        salt=os.environ.get("MGMT_SALT") or None,
        **_upload_limits(slots, queue_size, memory),
    )


DEFAULT_MAX_VOXELS = STUDY_BUDGET_BYTES // 8
"""One sequence's voxels by default: half the study's (an RSNA-size T2w of 408 x 512 x 512 is 107 M)."""


def _upload_limits(slots: int, queue_size: int, memory: int | None) -> dict[str, int | float | None]:
    """The limits on receiving uploads and on what a study may cost (docs/api-limits.md)."""
    seconds = "a number of seconds"
    return {
        "max_receiving": _int_env("MGMT_MAX_RECEIVING", RECEIVING_WANTED, minimum=1),
        "receiving_bytes": _receiving_bytes(default_receiving_bytes(slots, queue_size, memory)),
        "upload_idle_s": _number_env("MGMT_UPLOAD_IDLE_S", 15.0, float, seconds, minimum=0.1),
        "upload_min_rate": _int_env("MGMT_UPLOAD_MIN_RATE_KB", 50, minimum=0) * 1024,
        "upload_max_s": _number_env("MGMT_UPLOAD_MAX_S", 600.0, float, seconds, minimum=0.1),
        "max_study_voxels": _int_env("MGMT_MAX_STUDY_VOXELS", STUDY_BUDGET_BYTES // 4, minimum=1),
    }


def _receiving_bytes(default: int | None) -> int | None:
    megabytes = _int_env("MGMT_RECEIVING_MB", 0, minimum=1)
    return megabytes * 1024**2 if megabytes else default


DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def _database_url(url: str | None) -> str | None:
    """``MGMT_DB_URL`` checked for its scheme (None when unset)."""
    if url is not None and not url.startswith(DATABASE_URL_SCHEMES):
        shown = url.split("://", 1)[0] + "://..." if "://" in url else "a value without a scheme"
        raise SettingsError(f"Setting MGMT_DB_URL is {shown}; expected a PostgreSQL URL such as "
                         "postgresql://user@host:5432/mgmt (unset it to keep the log in the DuckDB file MGMT_DB).")
    return url


def study_salt(settings: Settings | None = None) -> bytes:
    """The secret salt of study hashes: ``MGMT_SALT``, else one generated once and kept in the data dir.

    Replicas sharing a PostgreSQL log (``MGMT_DB_URL``) must hash alike, so there ``MGMT_SALT`` is required: the same
    secret on every replica. It is never stored in the database: whoever reads the log must not also hold the salt.

    The file appears whole or not at all (written under a private name, mode 0600, then hard-linked into place),
    so no thread or process can ever read a half-written, empty salt and hash studies unsalted.
    """
    settings = settings or get_settings()
    if settings.salt:
        return settings.salt.encode()
    if settings.db_url is not None:
        raise SettingsError("MGMT_DB_URL puts the prediction log on a server shared by replicas, but MGMT_SALT is "
                            "not set; expected the same secret salt in MGMT_SALT on every replica (e.g. 64 hex "
                            "characters from `python -c \"import secrets; print(secrets.token_hex(32))\"`).")
    path = settings.salt_file
    try:
        if not path.exists():
            _create_salt_file(path)
        salt = path.read_bytes().strip()
    except OSError as err:
        cause = err.strerror or err
        raise ServiceUnavailable(f"The salt file '{path}' of study hashes cannot be read or created ({cause}); "
                                 "expected a writable data folder (MGMT_DATA_DIR), or set MGMT_SALT.") from err
    if not salt:
        raise ServiceUnavailable(f"The salt file '{path}' of study hashes is empty; expected a secret of 64 hex "
                                 "characters. Delete the file to generate a new one (stored study hashes then change), "
                                 "or set MGMT_SALT.")
    return salt


def _create_salt_file(path: Path) -> None:
    """Write a new random salt to ``path`` unless another thread or process has just done so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(private, path)  # atomic, and fails if another writer got there first: theirs is kept
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: an atomic rename (two first-ever writers racing
            if not path.exists():  # within microseconds could each see their own salt once)
                os.rename(private, path)
    finally:
        private.unlink(missing_ok=True)
