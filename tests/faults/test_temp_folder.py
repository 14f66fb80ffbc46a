"""A temporary folder that cannot take an upload (missing, not a folder, full): a clear 503-kind error, no leftovers."""

from __future__ import annotations

import builtins
import errno
import io
import os
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from core.config import get_settings
from core.errors import InputError, ServiceUnavailable
from core.ingest import UploadedFile, staged, staging
from core.service import Service

FILES = [UploadedFile(f"{sequence}/Image-{n}.dcm", bytes([n]) * 3000) for sequence in ("FLAIR", "T2w")
         for n in range(1, 4)]


class FillingDisk:
    """``open`` for the staging module on a disk with ``room`` bytes left: writes past it fail with ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, file, mode: str = "r", *args, **kwargs):
        handle = builtins.open(file, mode, *args, **kwargs)
        return handle if "r" in mode else FillingFile(handle, self)


class FillingFile(io.RawIOBase):
    """A file written through a FillingDisk: what fits is written, then ``[Errno 28] No space left on device``."""

    def __init__(self, handle, disk: FillingDisk) -> None:
        self.handle, self.disk = handle, disk

    def write(self, data) -> int:
        fits = min(len(data), self.disk.room)
        self.handle.write(data[:fits])
        self.disk.room -= fits
        if fits < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return fits

    def close(self) -> None:
        self.handle.close()
        super().close()


@pytest.fixture
def staging_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private tempfile.gettempdir() for the test."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _refusal(source) -> ServiceUnavailable:
    with pytest.raises(ServiceUnavailable) as caught, staged(source):
        pass
    assert not isinstance(caught.value, InputError)  # the server's problem: 503, not 400
    return caught.value


def test_a_file_in_place_of_the_temporary_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "tmp"
    blocker.write_text("a file where the temporary folder should be")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    message = _refusal(FILES).user_message
    assert f"temporary folder '{blocker}' of this server cannot take the upload (Not a directory)" in message
    assert "TMPDIR" in message


def test_a_missing_temporary_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    message = _refusal(FILES).user_message
    assert f"'{tmp_path / 'gone'}' of this server cannot take the upload (No such file or directory)" in message


def test_no_usable_temporary_folder_at_all_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    def none_usable() -> str:
        raise FileNotFoundError(errno.ENOENT, "No usable temporary directory found in ['/nowhere', '/tmp']")

    monkeypatch.setattr(tempfile, "gettempdir", none_usable)
    message = _refusal(FILES).user_message
    assert message.startswith("The server has no usable temporary folder") and "'/nowhere'" in message


@pytest.mark.parametrize("room", [0, 5000, 17000])
def test_a_disk_filling_up_mid_upload_is_named_and_leaves_nothing(staging_root: Path, monkeypatch, room: int) -> None:
    monkeypatch.setattr(staging, "open", FillingDisk(room), raising=False)
    message = _refusal(FILES).user_message
    assert f"'{staging_root}' of this server cannot take the upload (No space left on device)" in message
    assert list(staging_root.iterdir()) == []  # the partly written files went with the staging folder


def test_a_disk_filling_up_while_a_zip_is_extracted_leaves_nothing(staging_root: Path, monkeypatch) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for upload in FILES:
            archive.writestr(f"case/{upload.relative_path}", upload.content)
    monkeypatch.setattr(staging, "open", FillingDisk(len(buffer.getvalue()) + 7000), raising=False)
    assert "No space left on device" in _refusal([UploadedFile("case.zip", buffer.getvalue())]).user_message
    assert list(staging_root.iterdir()) == []


def test_a_path_too_long_to_store_is_the_uploads_doing(staging_root: Path) -> None:
    deep = "/".join(["d" * 250] * 20) + "/Image-1.dcm"  # every part is allowed, the whole is past PATH_MAX
    with pytest.raises(InputError, match="has a path too long to store") as caught, staged([UploadedFile(deep, b"x")]):
        pass
    assert not isinstance(caught.value, ServiceUnavailable) and list(staging_root.iterdir()) == []


def test_the_service_passes_a_full_disk_on_and_logs_it_without_the_folder(staging_root: Path, monkeypatch,
                                                                          tmp_path: Path) -> None:
    service = Service(settings=replace(get_settings(), db_path=tmp_path / "mgmt.duckdb"), import_cohort=False)
    service.start(background=False)
    monkeypatch.setattr(staging, "open", FillingDisk(100), raising=False)
    with pytest.raises(ServiceUnavailable, match="No space left on device") as caught:
        service.predict(FILES, channel="api")
    assert str(staging_root) in caught.value.user_message
    row = service.store.predictions().iloc[0]
    assert row["status"] == "failed" and "No space left on device" in row["error"]
    assert str(staging_root) not in row["error"] and list(staging_root.iterdir()) == []
