"""``GET /servers`` filters, as nova applies them for a user at microversion 2.1: ``name`` is a
regular expression searched in the name, ``status`` an API status, ``changes-since`` an
ISO 8601 time, ``marker`` and ``limit`` page through servers newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from labcloud.exceptions import Invalid


def _since(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"Invalid input for field/attribute changes-since: {text!r}") from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def apply(
    servers: list[dict[str, Any]],
    *,
    name: str | None = None,
    status: str | None = None,
    changes_since: str | None = None,
    marker: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The servers (newest first) that pass the filters, from after ``marker``."""
    if name:
        pattern = re.compile(name)
        servers = [s for s in servers if pattern.search(s["display_name"])]
    if status:
        servers = [s for s in servers if s["status"] == status.upper()]
    if changes_since:
        since = _since(changes_since)
        servers = [s for s in servers if datetime.fromisoformat(s["updated_at"]) >= since]
    if marker:
        ids = [s["uuid"] for s in servers]
        if marker not in ids:
            raise Invalid(f"marker [{marker}] not found")
        servers = servers[ids.index(marker) + 1 :]
    return servers if limit is None else servers[:limit]
