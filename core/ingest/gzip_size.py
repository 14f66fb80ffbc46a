"""What a gzipped upload (``.nii.gz``) expands to, counted while it is staged, so that the reader never
decompresses more than ``MGMT_MAX_UNZIPPED_BYTES`` of it: a few megabytes of zeros can hold gigabytes of voxels.

Example::

    size = ExpandedSize(limit=1 << 30, too_large="... unpacks to more than 1 GiB ...")
    for chunk in chunks:
        size.feed(chunk)  # UploadTooLarge as soon as the expanded bytes pass the limit
    size.bytes
"""

from __future__ import annotations

import zlib

from core.errors import UploadTooLarge

GZIP_WBITS = 16 + zlib.MAX_WBITS
OUTPUT_STEP = 1 << 20
"""Bytes decompressed per step: what counting holds in memory at once."""


def is_gzip_name(name: str) -> bool:
    """Whether a reader decompresses the file by its name (nibabel opens ``*.gz`` through gzip)."""
    return name.lower().endswith(".gz")


class ExpandedSize:
    """The bytes a gzip stream (one or several members) expands to, counted chunk by chunk without keeping them;
    UploadTooLarge past ``limit``. A stream that is not gzip stops counting (the reader refuses it later)."""

    def __init__(self, limit: int, too_large: str) -> None:
        self.limit, self.too_large = limit, too_large
        self.bytes = 0
        self.readable = True
        self._stream = zlib.decompressobj(GZIP_WBITS)

    def feed(self, chunk: bytes) -> None:
        """Count what ``chunk`` expands to, one OUTPUT_STEP at a time."""
        data = chunk
        while self.readable:
            try:
                out = self._stream.decompress(data, OUTPUT_STEP)
            except zlib.error:
                self.readable = False
                return
            self.bytes += len(out)
            if self.bytes > self.limit:
                raise UploadTooLarge(self.too_large)
            if self._stream.eof:  # a member ended; another may follow
                data = self._stream.unused_data
                self._stream = zlib.decompressobj(GZIP_WBITS)
                if not data:
                    return
                continue
            data = self._stream.unconsumed_tail
            if not data and len(out) < OUTPUT_STEP:
                return
