"""The one timestamp a build writes into its deliverables."""

from __future__ import annotations

import datetime as dt
import os

from briefkit.model import Meta


def build_time(meta: Meta) -> dt.datetime:
    """SOURCE_DATE_EPOCH if set, else the briefing's date, else now (UTC, whole seconds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    if meta.date:
        try:
            return dt.datetime.combine(dt.date.fromisoformat(meta.date), dt.time(12), dt.timezone.utc)
        except ValueError:
            pass
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
