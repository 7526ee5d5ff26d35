"""Trace event types. An event is a frozen record; ``to_dict()`` is its wire and widget form."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


class Event:
    """What every event type shares: ``to_dict()``, its wire and widget form."""

    TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)  # type: ignore[call-overload]
        data["type"] = self.TYPE
        return data  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Origin:
    """Where an event happened: host, process and service (``nova-compute``, ``nova-api`` ...)."""

    host: str = field(default_factory=socket.gethostname)
    process: str = field(default_factory=lambda: f"python:{os.getpid()}")
    service: str = ""

    def with_service(self, service: str) -> Origin:
        return Origin(self.host, self.process, service)


@dataclass(frozen=True)
class MessageEvent(Event):
    """One step of one message's life on the broker.

    ``event`` is what happened: ``publish``, ``deliver``, ``ack`` or ``reject``.
    ``kind`` is the RPC pattern: ``call``, ``cast``, ``fanout`` or ``reply`` (``""`` when the
    message could not be decoded).
    """

    TYPE: ClassVar[str] = "message"

    event: str
    kind: str
    exchange: str
    routing_key: str
    queue: str = ""
    method: str = ""
    msg_id: str = ""
    unique_id: str = ""
    request_id: str = ""
    args: dict[str, Any] | None = None
    size: int = 0
    reason: str = ""
    host: str = ""
    process: str = ""
    service: str = ""
    time: float = field(default_factory=time.time)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageEvent:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class HttpEvent(Event):
    """One REST request from one service (or the client) to another, with its answer."""

    TYPE: ClassVar[str] = "http"

    method: str
    url: str
    status: int
    source: str  # who asked: "client", "nova-compute" ...
    target: str  # who answered: "keystone", "glance-api" ...
    duration_ms: float = 0.0
    user: str = ""  # the token's owner, when known
    request_id: str = ""
    host: str = ""
    process: str = ""
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class StepEvent(Event):
    """One numbered step of the seed's 28-step boot flow, as the service doing it reports it,
    before doing it. ``cached``: a token validation answered from the service's own cache
    (keystone was not asked)."""

    TYPE: ClassVar[str] = "step"

    step: int
    service: str
    what: str
    instance_uuid: str = ""
    request_id: str = ""
    cached: bool = False
    host: str = ""  # the host of the service doing it: compute2 (trace.flow.step_origin)
    process: str = ""  # the OS process that reported it: python:<pid>
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class StateEvent(Event):
    """A resource changed state: an instance (vm/task/power state), a volume or a port."""

    TYPE: ClassVar[str] = "state"

    resource: str  # "instance" | "volume" | "port"
    id: str
    status: str
    vm_state: str = ""
    task_state: str | None = None
    power_state: int = 0
    service: str = ""
    request_id: str = ""
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class PauseEvent(Event):
    """A service thread stopped at a breakpoint (``paused``) or went on (``resumed``)."""

    TYPE: ClassVar[str] = "pause"

    event: str  # "paused" | "resumed" | "timed-out"
    pause_id: str
    breakpoint: str  # what it stopped at, in words: "step 9", "method select_destinations"
    what: str  # the event it stopped on, in words
    thread: str
    service: str = ""
    detail: dict[str, Any] | None = None  # the stopped event's to_dict()
    host: str = ""
    process: str = ""
    time: float = field(default_factory=time.time)


EVENT_TYPES: dict[str, Any] = {
    "message": MessageEvent,
    "http": HttpEvent,
    "step": StepEvent,
    "state": StateEvent,
    "pause": PauseEvent,
}


def event_from_dict(data: dict[str, Any]) -> Any:
    """Rebuild an event from its ``to_dict()`` form (events from other processes)."""
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        return None
    names = cls.__dataclass_fields__
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class StepperEvent(Event):
    """One process's stepper, as it is now: its breakpoints and its paused threads."""

    TYPE: ClassVar[str] = "stepper"

    breakpoints: list[str]
    paused: list[dict[str, Any]]
    host: str = ""
    process: str = ""
    time: float = field(default_factory=time.time)


EVENT_TYPES["stepper"] = StepperEvent


@dataclass(frozen=True)
class DbEvent(Event):
    """A row written to a service's database (committed): the flow's DB writes."""

    TYPE: ClassVar[str] = "db"

    service: str
    database: str
    table: str
    op: str  # "insert" | "update" | "delete"
    key: str
    request_id: str = ""
    time: float = field(default_factory=time.time)


EVENT_TYPES["db"] = DbEvent


@dataclass(frozen=True)
class BrokerEvent(Event):
    """The broker itself: a restart, what it dropped, what came back."""

    TYPE: ClassVar[str] = "broker"

    event: str  # "restarted"
    queues_dropped: list[str]
    messages_lost: int
    consumers_reconnected: int
    host: str = ""
    process: str = ""
    time: float = field(default_factory=time.time)


EVENT_TYPES["broker"] = BrokerEvent


@dataclass(frozen=True)
class ConsoleEvent(Event):
    """A line of a guest's serial console, as labcloud's console watch on its compute host
    read it after spawn (compute/console.py): labcloud's observability, not a nova step.

    ``seen``: the line holds the boot ``marker``; False when the deadline passed first, and
    ``line`` is then the console's last line (empty: the guest printed nothing). ``time``:
    when the watch read it, at most one poll interval after the guest wrote it; ``waited``:
    seconds from the end of spawn to that read.
    """

    TYPE: ClassVar[str] = "console"

    instance_uuid: str
    line: str
    marker: str
    seen: bool = True
    waited: float = 0.0
    request_id: str = ""
    host: str = ""  # the compute host whose hypervisor runs the guest
    process: str = ""
    time: float = field(default_factory=time.time)


EVENT_TYPES["console"] = ConsoleEvent


@dataclass(frozen=True)
class ExternalEvent(Event):
    """An event another service told nova about an instance (nova's InstanceExternalEvent:
    ``network-vif-plugged`` ... from neutron), as nova-compute handled it: not a seed step.

    ``event``: ``received`` (a build was waiting for it), ``unexpected`` (nobody was),
    ``timed-out`` (a build waited for it in vain, ``waited`` seconds). ``sender``: the user
    whose token brought it to nova-api (neutron's service user).
    """

    TYPE: ClassVar[str] = "external"

    event: str  # "received" | "unexpected" | "timed-out"
    name: str  # "network-vif-plugged" | "network-vif-unplugged" | "network-vif-deleted"
    tag: str  # the port's id
    instance_uuid: str
    status: str = "completed"  # "completed" | "failed"
    sender: str = ""
    waited: float = 0.0
    request_id: str = ""
    host: str = ""  # the compute host that handled it
    process: str = ""
    service: str = "nova-compute"
    time: float = field(default_factory=time.time)


EVENT_TYPES["external"] = ExternalEvent
