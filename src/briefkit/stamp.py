"""The one timestamp a build writes into its deliverables."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import struct
import zipfile
import zlib

from briefkit.model import Meta


def build_time(meta: Meta) -> dt.datetime:
    """The briefing's ISO date if it has one, else SOURCE_DATE_EPOCH, else now (UTC, whole seconds).

    Either of the first two makes two builds of the same content byte-identical.
    """
    if meta.date_iso:
        return dt.datetime.combine(dt.date.fromisoformat(meta.date_iso), dt.time(12), dt.timezone.utc)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def stamped_zip(entries: dict[str, bytes], when: dt.datetime) -> bytes:
    """A zip of `entries`, in order, every entry dated `when`: same input, same bytes.

    The bytes are those zipfile writes (deflated at zlib's default level, no data descriptors);
    a member whose bytes this process has already compressed is not compressed again (`watch`
    rebuilds Office files most of whose parts are as they were). A zip too large for the short
    records (Zip64: 65,535 entries or 2 GB) is written by zipfile itself."""
    stamp = max(when, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    for name in entries:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"zip entry name '{name}' would leave the archive's folder")
    if len(entries) >= zipfile.ZIP_FILECOUNT_LIMIT or sum(map(len, entries.values())) * 1.05 > _SHORT_ZIP_LIMIT:
        return _zipfile_zip(entries, stamp)
    dosdate = (stamp[0] - 1980) << 9 | stamp[1] << 5 | stamp[2]
    dostime = stamp[3] << 11 | stamp[4] << 5 | stamp[5] // 2
    system = zipfile.ZipInfo().create_system
    out, directory = [], []
    offset = 0
    for name, data in entries.items():
        crc, deflated = _deflated(data)
        filename = zipfile.ZipInfo(name).filename.encode("utf-8")  # as ZipInfo cleans it
        flags = 0 if filename.isascii() else _UTF8_NAME
        head = struct.pack(_LOCAL_HEADER, b"PK\003\004", 20, 0, flags, zipfile.ZIP_DEFLATED, dostime, dosdate,
                           crc, len(deflated), len(data), len(filename), 0)
        directory += (struct.pack(_CENTRAL_HEADER, b"PK\001\002", 20, system, 20, 0, flags, zipfile.ZIP_DEFLATED,
                                  dostime, dosdate, crc, len(deflated), len(data), len(filename), 0, 0, 0, 0,
                                  _FILE_MODE, offset), filename)
        out += (head, filename, deflated)
        offset += len(head) + len(filename) + len(deflated)
    size = sum(map(len, directory))
    return b"".join(out + directory + [struct.pack(_END_RECORD, b"PK\005\006", 0, 0, len(entries), len(entries), size, offset, 0)])


_LOCAL_HEADER, _CENTRAL_HEADER, _END_RECORD = "<4s2B4HL2L2H", "<4s4B4HL2L5H2L", "<4s4H2LH"
_UTF8_NAME = 0x800  # general purpose flag: the name is UTF-8
_FILE_MODE = 0o644 << 16  # external attributes: a regular file, rw-r--r--
_SHORT_ZIP_LIMIT = (1 << 31) - 1  # zipfile's ZIP64_LIMIT: beyond it, Zip64 records
_DEFLATED: dict[bytes, tuple[int, bytes]] = {}  # digest of a member's bytes: (CRC, deflated bytes)
MAX_DEFLATED = 64 << 20  # deflated bytes a process keeps
_deflated_size = 0


def _deflated(data: bytes) -> tuple[int, bytes]:
    """(CRC-32, raw deflate stream) of a member, as zipfile compresses it; kept by the SHA-256 of its bytes."""
    global _deflated_size
    key = hashlib.sha256(data).digest()
    found = _DEFLATED.get(key)
    if found is None:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        found = zlib.crc32(data), compressor.compress(data) + compressor.flush()
        if _deflated_size + len(found[1]) > MAX_DEFLATED:
            _DEFLATED.clear()
            _deflated_size = 0
        _DEFLATED[key] = found
        _deflated_size += len(found[1])
    return found


def _zipfile_zip(entries: dict[str, bytes], stamp: tuple) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, _FILE_MODE
            dst.writestr(info, data)
    return out.getvalue()


class PackageFiles(dict):
    """An Office package's files by name, in the order its library's package writer writes them
    (it writes them here instead of into a compressed zip): stamped_zip then compresses them once."""

    def write(self, uri, blob: bytes) -> None:
        self[uri.membername] = blob
