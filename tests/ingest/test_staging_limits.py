"""What staging refuses before it is paid for: paths deeper than MAX_PATH_DEPTH (a 400 naming the limit, with no
recursion input can drive) and gzipped files that expand past MGMT_MAX_UNZIPPED_BYTES."""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from core.config import get_settings
from core.errors import InputError, UploadTooLarge
from core.ingest import UploadedFile, staged
from core.ingest.gzip_size import ExpandedSize
from core.ingest.staging import MAX_PATH_DEPTH, make_folders

DEEP = "/".join(["ab"] * 1200) + "/Image-1.dcm"
"""The issue's path: 1,200 levels, about 2.4 kB, under the name limit."""


@pytest.fixture(autouse=True)
def staging_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _refusal(source, kind: type[InputError] = InputError, **limits: int) -> str:
    with pytest.raises(kind) as err, staged(source, dataclasses.replace(get_settings(), **limits)):
        pass
    return err.value.user_message


def test_an_uploaded_file_1200_levels_deep_is_refused_naming_the_limit(staging_root: Path) -> None:
    message = _refusal([UploadedFile(DEEP, b"x")])
    assert message == ("A path in the upload lies 1,201 folder levels deep ('ab/ab/ab/…'); expected at most 32 "
                       "levels (a study folder is a few levels deep).")
    assert list(staging_root.iterdir()) == []


def test_a_zip_entry_1200_levels_deep_is_refused_before_extracting(tmp_path: Path) -> None:
    archive = tmp_path / "deep.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr(DEEP, b"x")
    assert "lies 1,201 folder levels deep" in _refusal(archive)


def test_a_path_at_the_depth_limit_is_staged() -> None:
    name = "/".join(["d"] * (MAX_PATH_DEPTH - 1)) + "/Image-1.dcm"
    with staged([UploadedFile(name, b"x")]) as folder:
        assert (folder.joinpath(*name.split("/"))).read_bytes() == b"x"


def test_folders_are_made_without_recursion(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["d"] * 400)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 50)  # Path.mkdir(parents=True) would need 400 frames
    try:
        make_folders(deep)
    finally:
        sys.setrecursionlimit(limit)
    assert deep.is_dir()


def test_a_folder_where_the_upload_has_a_file_is_refused() -> None:
    message = _refusal([UploadedFile("FLAIR", b"a file"), UploadedFile("FLAIR/inner/Image-1.dcm", b"x")])
    assert "needs a folder where the upload already has a file of that name" in message


def test_a_gzipped_file_is_charged_what_it_expands_to() -> None:
    packed = gzip.compress(bytes(4 * 1024**2), compresslevel=9)  # 4 MiB of zeros in ~4 kB
    message = _refusal([UploadedFile("case_flair.nii.gz", packed)], UploadTooLarge, max_unzipped_bytes=1024**2)
    assert message == ("The upload unpacks to more than 1,048,576 bytes; expected one MRI study (raise "
                       "MGMT_MAX_UNZIPPED_BYTES for larger ones).")


def test_gzipped_files_within_the_budget_are_staged_as_sent() -> None:
    packed = gzip.compress(bytes(512 * 1024))
    with staged([UploadedFile("case_flair.nii.gz", packed)],
                dataclasses.replace(get_settings(), max_unzipped_bytes=1024**2)) as folder:
        assert (folder / "case_flair.nii.gz").read_bytes() == packed


def test_the_expanded_bytes_of_several_files_add_up() -> None:
    files = [UploadedFile(f"case_{name}.nii.gz", gzip.compress(bytes(400 * 1024))) for name in ("flair", "t1", "t2")]
    assert "unpacks to more than 1,048,576" in _refusal(files, UploadTooLarge, max_unzipped_bytes=1024**2)


def test_a_gzipped_nifti_inside_a_zip_is_charged_its_expanded_bytes(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("case/case_flair.nii.gz", gzip.compress(bytes(4 * 1024**2)))
    path = tmp_path / "case.zip"
    path.write_bytes(buffer.getvalue())
    assert "unpacks to more than 1,048,576" in _refusal(path, UploadTooLarge, max_unzipped_bytes=1024**2)


def test_every_member_of_a_multi_member_gzip_counts() -> None:
    size = ExpandedSize(limit=10 * 1024**2, too_large="too large")
    stream = gzip.compress(bytes(3 * 1024**2)) + gzip.compress(bytes(2 * 1024**2))
    for start in range(0, len(stream), 777):
        size.feed(stream[start:start + 777])
    assert size.bytes == 5 * 1024**2


def test_counting_stops_at_the_limit_not_at_the_end() -> None:
    size = ExpandedSize(limit=1024**2, too_large="too large")
    with pytest.raises(UploadTooLarge, match="too large"):
        size.feed(gzip.compress(bytes(64 * 1024**2)))
    assert size.bytes <= 2 * 1024**2  # stopped one step past the limit


def test_a_file_named_gz_that_is_not_gzip_is_charged_its_own_bytes() -> None:
    with staged([UploadedFile("case_flair.nii.gz", b"not gzip at all")]) as folder:
        assert (folder / "case_flair.nii.gz").read_bytes() == b"not gzip at all"
