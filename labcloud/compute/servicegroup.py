"""nova's servicegroup: is a nova-compute up? Yes while its last report is recent enough.

Each nova-compute reports every ``report_interval`` seconds (its usage, through the
conductor, into ``compute_nodes.updated_at``); a host silent for more than
``service_down_time`` seconds is *down*: ComputeFilter skips it, a build stuck on it ends
in ERROR, and deleting an instance there is done by nova-api itself. nova's defaults are
10 s and 60 s; a lab may run the clock faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

REPORT_INTERVAL = 10.0  # seconds, nova's [DEFAULT] report_interval
SERVICE_DOWN_TIME = 60.0  # seconds, nova's [DEFAULT] service_down_time
# nova's instance_build_timeout is 0 (off): a build whose message is lost stays in BUILD
# for ever. labcloud gives up after 10 minutes of no progress, longer than any fake or
# cirros build, and than a stepper holds a pause.
BUILD_TIMEOUT = 600.0


def utcnow() -> datetime:
    """Naive UTC, as nova's tables store it."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_time(value: datetime | str | None) -> datetime | None:
    """A report time from a row or from an RPC message (ISO 8601 text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=None)


@dataclass(frozen=True)
class ServiceGroup:
    down_time: float = SERVICE_DOWN_TIME

    def silent_for(self, updated_at: datetime | str | None) -> float | None:
        """Seconds since the last report (None: it never reported)."""
        last = parse_time(updated_at)
        return None if last is None else (utcnow() - last).total_seconds()

    def is_up(self, updated_at: datetime | str | None) -> bool:
        silent = self.silent_for(updated_at)
        return silent is not None and silent <= self.down_time
