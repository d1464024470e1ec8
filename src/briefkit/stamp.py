"""The one timestamp a build writes into its deliverables."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile

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
    """A zip of `entries`, in order, every entry dated `when`: same input, same bytes."""
    stamp = max(when, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries.items():
            if name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"zip entry name '{name}' would leave the archive's folder")
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            dst.writestr(info, data)
    return out.getvalue()


class PackageFiles(dict):
    """An Office package's files by name, in the order its library's package writer writes them
    (it writes them here instead of into a compressed zip): stamped_zip then compresses them once."""

    def write(self, uri, blob: bytes) -> None:
        self[uri.membername] = blob
