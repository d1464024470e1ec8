"""The one timestamp a build writes into its deliverables."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile

from briefkit.model import Meta


def build_time(meta: Meta) -> dt.datetime:
    """The briefing's date if it has one, else SOURCE_DATE_EPOCH, else now (UTC, whole seconds).

    Either of the first two makes two builds of the same content byte-identical.
    """
    if meta.date:
        return dt.datetime.combine(dt.date.fromisoformat(meta.date), dt.time(12), dt.timezone.utc)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

def fixed_zip(data: bytes, when: dt.datetime) -> bytes:
    """Re-pack an Office file so every zip entry carries `when`: same input, same bytes."""
    stamp = max(when, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(entry.filename))
    return out.getvalue()
