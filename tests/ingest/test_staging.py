"""Uploads are staged safely: zips checked before extraction, paths kept inside, temp folders always removed."""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest

from core.errors import InputError, UploadTooLarge
from core.ingest import UploadedFile, load_study, staged, staging


@pytest.fixture(autouse=True)
def staging_root(tmp_path: Path, monkeypatch) -> Path:
    """A private tempfile.gettempdir() per test, so leftovers of staging are visible and nothing else is."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _error(source, kind: type[InputError] = InputError) -> str:
    with pytest.raises(kind) as err, staged(source):
        pass
    return err.value.user_message


def _patch_header(archive: Path, changes: dict[tuple[bytes, int], bytes]) -> None:
    """Overwrite fields of the first local (PK\\3\\4) or central (PK\\1\\2) header: {(signature, offset): bytes}."""
    data = bytearray(archive.read_bytes())
    for (signature, offset), value in changes.items():
        at = data.find(signature) + offset
        data[at: at + len(value)] = value
    archive.write_bytes(bytes(data))


def _no_extraction(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("an entry was opened for extraction")
    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


def test_folder_is_yielded_in_place(tmp_path: Path, staging_root: Path) -> None:
    (tmp_path / "FLAIR").mkdir()
    (tmp_path / "FLAIR" / "Image-1.dcm").write_bytes(b"x")
    with staged(tmp_path) as folder:
        assert folder == tmp_path and not any(staging_root.iterdir())
    assert (tmp_path / "FLAIR" / "Image-1.dcm").exists()


def test_missing_path_is_named(tmp_path: Path) -> None:
    message = _error(tmp_path / "nothing.zip")
    assert "nothing.zip' does not exist" in message and "expected a study folder" in message


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty" / "FLAIR").mkdir(parents=True)
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"junk")
    assert "'empty' is empty; expected a study folder" in _error(tmp_path / "empty")


def test_zip_is_extracted_under_its_stem_with_the_original_bytes(tmp_path: Path, staging_root: Path) -> None:
    payload = bytes(range(256)) * 40
    archive = _zip(tmp_path / "00042.zip", {"FLAIR/Image-1.dcm": payload, "T1w/Image-1.dcm": b"xyz"})
    with staged(archive) as folder:
        assert folder.parent == staging_root and folder.name.startswith("mgmt-upload-")
        assert (folder / "00042" / "FLAIR" / "Image-1.dcm").read_bytes() == payload
        assert (folder / "00042" / "T1w" / "Image-1.dcm").read_bytes() == b"xyz"
    assert not any(staging_root.iterdir())


def test_zip_is_recognised_by_content_not_by_name(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.upload", {"FLAIR/Image-1.dcm": b"abc"})
    with staged(archive) as folder:
        assert (folder / "study" / "FLAIR" / "Image-1.dcm").read_bytes() == b"abc"


def test_temp_dir_is_removed_when_the_body_raises(tmp_path: Path, staging_root: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"FLAIR/Image-1.dcm": b"abc"})
    with pytest.raises(RuntimeError, match="reader failed"), staged(archive) as folder:
        assert folder.exists()
        raise RuntimeError("reader failed")
    assert not folder.exists() and not any(staging_root.iterdir())


def test_temp_dir_is_removed_when_staging_fails_halfway(tmp_path: Path, staging_root: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"FLAIR/Image-1.dcm": b"abc", "a": b"file", "a/b.dcm": b"clash"})
    assert "'a/b.dcm'" in _error(archive)
    assert not any(staging_root.iterdir())


def test_temp_dir_is_removed_when_reading_the_study_fails(tmp_path: Path, staging_root: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"notes.txt": b"not a study"})
    with pytest.raises(InputError):
        load_study(archive)
    assert not any(staging_root.iterdir())


def test_file_named_zip_that_is_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "study.zip").write_bytes(b"this is text, not an archive")
    message = _error(tmp_path / "study.zip")
    assert message.startswith("'study.zip' is not a readable zip archive (")
    assert "expected a .zip of one study folder, or the folder itself" in message


def test_zip_with_a_bad_crc(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bad.zip", {"FLAIR/Image-1.dcm": b"A" * 100}, zipfile.ZIP_STORED)
    data = archive.read_bytes()
    at = data.find(b"A" * 100)
    archive.write_bytes(data[:at] + b"B" + data[at + 1:])
    message = _error(archive)
    assert "'bad.zip' is not a readable zip archive" in message and "'FLAIR/Image-1.dcm'" in message


def test_zip_with_a_damaged_compressed_stream(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bad.zip", {"FLAIR/Image-1.dcm": bytes(range(256)) * 50})
    data = bytearray(archive.read_bytes())
    start = data.find(b"Image-1.dcm") + len("Image-1.dcm")  # the compressed data follows the local header's name
    data[start: start + 40] = b"\xff" * 40
    archive.write_bytes(bytes(data))
    message = _error(archive)
    assert "'bad.zip' is not a readable zip archive (entry 'FLAIR/Image-1.dcm': " in message


@pytest.mark.parametrize("name", ["../evil.dcm", "/etc/evil.dcm", "a/../../evil.dcm", "C:\\evil.dcm", "C:/evil.dcm",
                                  "..\\..\\evil.dcm", "\\\\server\\share\\evil.dcm"])
def test_zip_entry_outside_the_archive(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "study.zip", {"ok/Image-1.dcm": b"x", name: b"y"})
    message = _error(archive)
    assert message == (f"Zip entry '{name}' in 'study.zip' points outside the archive; "
                       "expected relative paths inside one study folder.")
    assert not (tmp_path / "evil.dcm").exists()


def test_zip_entry_with_an_empty_name(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"./": b"", "ok/Image-1.dcm": b"x"})
    assert "Zip entry './' in 'study.zip' has an empty or unusable name" in _error(archive)


def test_symlink_entry(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "study.zip", "w") as archive:
        info = zipfile.ZipInfo("FLAIR/link.dcm")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    message = _error(tmp_path / "study.zip")
    assert "Zip entry 'FLAIR/link.dcm' in 'study.zip' is a symbolic link" in message


def test_encrypted_entry(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"FLAIR/Image-1.dcm": b"x"})
    _patch_header(archive, {(b"PK\x03\x04", 6): b"\x01", (b"PK\x01\x02", 8): b"\x01"})  # general purpose flag bit 0
    assert "Zip entry 'FLAIR/Image-1.dcm' in 'study.zip' is encrypted" in _error(archive)


def test_directory_entries_are_created_and_macos_litter_skipped(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"T2w/": b"", "FLAIR/Image-1.dcm": b"x",
                                             "__MACOSX/FLAIR/._Image-1.dcm": b"j", "FLAIR/.DS_Store": b"j"})
    with staged(archive) as folder:
        assert (folder / "study" / "T2w").is_dir()
        assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
            "study/FLAIR/Image-1.dcm"]


@pytest.mark.parametrize("entries", [{}, {"FLAIR/": b"", "__MACOSX/._x": b"j", ".DS_Store": b"j"}])
def test_zip_without_files_is_empty(tmp_path: Path, entries: dict[str, bytes]) -> None:
    message = _error(_zip(tmp_path / "study.zip", entries))
    assert message.startswith("'study.zip' is empty") and "expected a .zip of one study folder" in message


def test_too_many_entries_are_refused_before_extracting(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_ZIP_ENTRIES", "3")
    archive = _zip(tmp_path / "study.zip", {f"FLAIR/Image-{i}.dcm": b"x" for i in range(4)})
    _no_extraction(monkeypatch)
    assert "'study.zip' has 4 entries; expected at most 3" in _error(archive, UploadTooLarge)


def test_declared_size_over_the_limit_is_refused_before_extracting(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", "1000")
    archive = _zip(tmp_path / "study.zip", {"FLAIR/Image-1.dcm": b"\0" * 600, "T1w/Image-1.dcm": b"\0" * 600})
    _no_extraction(monkeypatch)
    assert "'study.zip' unpacks to 1,200 bytes; expected at most 1,000" in _error(archive, UploadTooLarge)


def test_zip_bomb_lying_about_its_size_is_refused(tmp_path: Path, monkeypatch, staging_root: Path) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", "100000")
    archive = _zip(tmp_path / "bomb.zip", {"FLAIR/Image-1.dcm": b"\0" * 1_000_000})
    fake_size = (10).to_bytes(4, "little")
    _patch_header(archive, {(b"PK\x03\x04", 22): fake_size, (b"PK\x01\x02", 24): fake_size})  # uncompressed size
    message = _error(archive)
    assert "'bomb.zip' is not a readable zip archive" in message and "'FLAIR/Image-1.dcm'" in message
    assert not any(staging_root.iterdir())


def test_extraction_stops_at_the_byte_budget_when_the_declared_sizes_pass(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", "1000")
    monkeypatch.setattr(staging, "_declared_bytes", lambda entries: 0)  # a lie the pre-check cannot see
    archive = _zip(tmp_path / "study.zip", {"FLAIR/Image-1.dcm": b"\0" * 600, "T1w/Image-1.dcm": b"\0" * 600})
    written = []
    real_write = staging._write_within_budget
    monkeypatch.setattr(staging, "_write_within_budget", lambda *a: written.append(real_write(*a)) or written[-1])
    assert "'study.zip' unpacks to more than 1,000 bytes" in _error(archive, UploadTooLarge)
    assert [size for _, size in written] == [600]  # the second entry was cut off within its first chunk


def test_single_file_is_copied_into_a_temp_dir(tmp_path: Path, staging_root: Path) -> None:
    (tmp_path / "BraTS_flair.nii.gz").write_bytes(b"\x1f\x8bnifti")
    with staged(str(tmp_path / "BraTS_flair.nii.gz")) as folder:
        assert folder.parent == staging_root
        assert (folder / "BraTS_flair.nii.gz").read_bytes() == b"\x1f\x8bnifti"
    assert (tmp_path / "BraTS_flair.nii.gz").exists() and not any(staging_root.iterdir())


def test_uploaded_files_keep_their_relative_paths(staging_root: Path) -> None:
    files = [UploadedFile("00042/FLAIR/Image-1.dcm", b"one"),
             UploadedFile("00042\\T2w\\Image-9.dcm", io.BytesIO(b"two")),
             UploadedFile("__MACOSX/00042/._Image-1.dcm", b"junk")]
    with staged(files) as folder:
        assert (folder / "00042" / "FLAIR" / "Image-1.dcm").read_bytes() == b"one"
        assert (folder / "00042" / "T2w" / "Image-9.dcm").read_bytes() == b"two"
        assert not (folder / "__MACOSX").exists()
    assert not any(staging_root.iterdir())


def test_uploaded_files_sharing_a_name_are_all_kept() -> None:
    files = [UploadedFile("Image-1.dcm", content) for content in (b"flair", b"t1w", b"t2w")]
    files += [UploadedFile("flair.nii.gz", b"a"), UploadedFile("flair.nii.gz", b"b")]
    with staged(files) as folder:
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == {
            "Image-1.dcm": b"flair", "Image-1~2.dcm": b"t1w", "Image-1~3.dcm": b"t2w",
            "flair.nii.gz": b"a", "flair~2.nii.gz": b"b"}


@pytest.mark.parametrize("name", ["../../etc/cron.d/x", "/etc/cron.d/x", "D:\\x.dcm"])
def test_uploaded_file_outside_the_upload(name: str) -> None:
    message = _error([UploadedFile("ok.dcm", b"x"), UploadedFile(name, b"y")])
    assert message.startswith(f"Uploaded file '{name}' points outside the upload; expected relative paths")


@pytest.mark.parametrize("name", ["", "/", "./.", "a\0b.dcm"])
def test_uploaded_file_with_an_empty_name(name: str) -> None:
    assert f"Uploaded file '{name}' has an empty or unusable name" in _error([UploadedFile(name, b"y")])


@pytest.mark.parametrize("files", [[], [UploadedFile(".DS_Store", b"j")]])
def test_empty_upload(files: list[UploadedFile]) -> None:
    assert _error(files).startswith("The upload is empty")


def test_uploaded_bytes_over_the_size_limit(monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", "10")
    message = _error([UploadedFile("a.dcm", b"x" * 6), UploadedFile("b.dcm", b"x" * 6)], UploadTooLarge)
    assert "The upload unpacks to more than 10 bytes" in message and "MGMT_MAX_UNZIPPED_BYTES" in message


def test_uploaded_stream_is_stopped_at_the_size_limit(monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_UNZIPPED_BYTES", str(3 * staging.CHUNK_BYTES))
    stream = io.BytesIO(b"\0" * (10 * staging.CHUNK_BYTES))
    _error([UploadedFile("a.dcm", stream)], UploadTooLarge)
    assert stream.tell() == 4 * staging.CHUNK_BYTES  # read no further than the chunk that broke the budget


def test_too_many_uploaded_files(monkeypatch) -> None:
    monkeypatch.setenv("MGMT_MAX_ZIP_ENTRIES", "2")
    files = [UploadedFile(f"Image-{i}.dcm", b"x") for i in range(3)]
    assert "The upload has 3 entries; expected at most 2" in _error(files, UploadTooLarge)


def test_a_single_uploaded_zip_is_extracted(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"00042/FLAIR/Image-1.dcm": b"abc"})
    with staged([UploadedFile("study.zip", io.BytesIO(archive.read_bytes()))]) as folder:
        assert (folder / "study" / "00042" / "FLAIR" / "Image-1.dcm").read_bytes() == b"abc"
        assert not (folder / "study.zip").exists()


def test_a_single_uploaded_zip_is_checked_like_a_zip_path(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "study.zip", {"../evil.dcm": b"abc"})
    assert "Zip entry '../evil.dcm' in 'study.zip' points outside" in _error([UploadedFile("study.zip",
                                                                                          archive.read_bytes())])


def test_a_single_uploaded_file_named_zip_that_is_not_one() -> None:
    assert "'study.zip' is not a readable zip archive" in _error([UploadedFile("study.zip", b"<html>")])


def test_zip_of_a_real_study_loads(study_dir, tmp_path: Path) -> None:
    root, written = study_dir
    with zipfile.ZipFile(tmp_path / "00042.zip", "w") as archive:
        for path in root.rglob("*.dcm"):
            archive.write(path, path.relative_to(root.parent).as_posix())
    study = load_study(tmp_path / "00042.zip")
    assert study["T2w"].plane == "oblique" and study["FLAIR"].shape == written["FLAIR"].shape


def test_flat_browser_upload_of_a_real_study_loads(study_dir) -> None:
    root, written = study_dir
    files = [UploadedFile(path.name, path.read_bytes()) for path in sorted(root.rglob("*.dcm"))]
    assert len({f.relative_path for f in files}) < len(files)  # series share file names such as Image-1.dcm
    study = load_study(files)
    assert {name: study[name].shape for name in written} == {name: w.shape for name, w in written.items()}
