"""Uploads are staged safely: zips checked before extraction, paths kept inside, temp folders always removed."""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest

from core.errors import InputError, UploadTooLarge
from core.ingest import UploadedFile, load_study, staged


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _staging_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("mgmt-upload-*")}


def _error(source) -> InputError:
    with pytest.raises(InputError) as err, staged(source):
        pass
    return err.value


def test_zip_is_extracted_and_removed_afterwards(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"00042/FLAIR/Image-1.dcm": b"abc", "00042/T1w/Image-1.dcm": b"xyz"})
    before = _staging_dirs()
    with staged(archive) as folder:
        assert (folder / "study" / "00042" / "FLAIR" / "Image-1.dcm").read_bytes() == b"abc"
        assert len(_staging_dirs() - before) == 1
    assert _staging_dirs() == before


def test_staging_is_removed_when_reading_fails(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"notes.txt": b"not a study"})
    before = _staging_dirs()
    with pytest.raises(InputError):
        load_study(archive)
    assert _staging_dirs() == before


def test_folder_is_used_in_place(tmp_path: Path) -> None:
    with staged(tmp_path) as folder:
        assert folder == tmp_path


def test_missing_path(tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "nothing.zip").user_message


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "study.zip").write_bytes(b"this is text, not an archive")
    assert "'study.zip' is not a readable zip archive" in _error(tmp_path / "study.zip").user_message


def test_corrupt_zip(tmp_path: Path) -> None:
    data = bytearray(_zip(tmp_path / "good.zip", {"a/Image-1.dcm": b"A" * 5000}).read_bytes())
    data[60:90] = b"\xff" * 30  # damage the compressed stream of the only entry
    (tmp_path / "bad.zip").write_bytes(bytes(data))
    message = _error(tmp_path / "bad.zip").user_message
    assert "'bad.zip' is not a readable zip archive" in message


@pytest.mark.parametrize("name", ["../evil.dcm", "/etc/evil.dcm", "a/../../evil.dcm", "C:\\evil.dcm"])
def test_entries_outside_the_archive(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "study.zip", {"ok/Image-1.dcm": b"x", name: b"y"})
    message = _error(archive).user_message
    assert name in message and "points outside the upload" in message
    assert not (tmp_path / "evil.dcm").exists()


def test_symlink_entry(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "study.zip", "w") as archive:
        info = zipfile.ZipInfo("FLAIR/link.dcm")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    message = _error(tmp_path / "study.zip").user_message
    assert "'FLAIR/link.dcm'" in message and "symbolic link" in message


def test_encrypted_entry(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"FLAIR/Image-1.dcm": b"x"})
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the 'encrypted' flag bit
        at = data.find(signature)
        data[at + offset] |= 0x1
    archive.write_bytes(bytes(data))
    assert "is encrypted" in _error(archive).user_message


def test_too_many_entries_checked_before_extraction(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_ZIP_ENTRIES", "3")
    archive = _zip(tmp_path / "study.zip", {f"FLAIR/Image-{i}.dcm": b"x" for i in range(5)})
    before = _staging_dirs()
    with pytest.raises(UploadTooLarge) as err, staged(archive):
        pass
    assert "has 5 entries; expected at most 3" in err.value.user_message
    assert _staging_dirs() == before


def test_declared_size_over_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", "1000")
    archive = _zip(tmp_path / "study.zip", {"FLAIR/Image-1.dcm": b"\0" * 5000})
    with pytest.raises(UploadTooLarge) as err, staged(archive):
        pass
    assert "unpacks to 5,000 bytes; expected at most 1,000" in err.value.user_message


def test_zip_bomb_lying_about_its_size_is_stopped_while_streaming(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", "100000")
    archive = _zip(tmp_path / "bomb.zip", {"FLAIR/Image-1.dcm": b"\0" * 1_000_000})
    data = bytearray(archive.read_bytes())
    true_size = (1_000_000).to_bytes(4, "little")
    fake_size = (10).to_bytes(4, "little")
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed-size fields
        at = data.find(signature)
        assert data[at + offset: at + offset + 4] == true_size
        data[at + offset: at + offset + 4] = fake_size
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError) as err, staged(archive):
        pass
    assert "bomb.zip" in err.value.user_message


def test_uploaded_files_keep_their_relative_paths(tmp_path: Path) -> None:
    files = [UploadedFile("00042/FLAIR/Image-1.dcm", b"one"), UploadedFile("00042/T2w/Image-9.dcm", io.BytesIO(b"two")),
             UploadedFile("__MACOSX/00042/._Image-1.dcm", b"junk")]
    with staged(files) as folder:
        assert (folder / "00042" / "FLAIR" / "Image-1.dcm").read_bytes() == b"one"
        assert (folder / "00042" / "T2w" / "Image-9.dcm").read_bytes() == b"two"
        assert not (folder / "__MACOSX").exists()
    assert not folder.exists()


def test_uploaded_file_escaping_the_folder(tmp_path: Path) -> None:
    message = _error([UploadedFile("../../etc/cron.d/x", b"y")]).user_message
    assert "'../../etc/cron.d/x'" in message and "points outside the upload" in message


def test_empty_upload() -> None:
    assert "The upload is empty" in _error([]).user_message


def test_uploaded_files_over_the_size_limit(monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", "10")
    with pytest.raises(UploadTooLarge), staged([UploadedFile("a.dcm", b"x" * 11)]):
        pass


def test_a_single_uploaded_zip_is_extracted(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"00042/FLAIR/Image-1.dcm": b"abc"})
    with staged([UploadedFile("study.zip", archive.read_bytes())]) as folder:
        assert (folder / "study" / "00042" / "FLAIR" / "Image-1.dcm").read_bytes() == b"abc"
        assert not (folder / "study.zip").exists()


def test_zip_of_a_real_study_loads(study_dir, tmp_path: Path) -> None:
    root, written = study_dir
    with zipfile.ZipFile(tmp_path / "00042.zip", "w") as archive:
        for path in root.rglob("*.dcm"):
            archive.write(path, path.relative_to(root.parent).as_posix())
    study = load_study(tmp_path / "00042.zip")
    assert study["T2w"].plane == "oblique" and study["FLAIR"].shape == written["FLAIR"].shape
