"""What the binaries of one in-kernel cloud share, instead of each making its own.

In its own process a binary connects to the broker, opens its project's database, logs in
to keystone to read the catalog and binds its API's port, all from its settings. Run inside
``LabCloud``, every binary is one of many in one Python process: they share the cloud's
transport (and so its trace bus), one :class:`~labcloud.db.Database` per project (several
engines on one SQLite file would contend for its lock), the catalog's URLs (known before
any service starts: no login with bcrypt to read them), the API sockets bound before the
catalog was written, keystonemiddleware's validators (their caches hear of revoked
tokens), and neutron's datapath (the agents of every host build in one fabric of network
namespaces, see labcloud.network.datapath). The factories take a ``Shared`` and use what
it holds; a binary never closes what it was given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labcloud.db import Database
from labcloud.messaging import Transport
from labcloud.rest.auth import ServiceToken, TokenValidator
from labcloud.rest.server import ApiServer

if TYPE_CHECKING:
    from labcloud.network.datapath import Datapath


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Shared:
    transport: Transport
    urls: Mapping[str, str]  # service type (keystone's catalog) -> base URL
    dbs: Mapping[str, Database] = field(default_factory=dict)  # project -> its database
    servers: Mapping[str, ApiServer] = field(default_factory=dict)  # binary -> bound socket
    validator: Callable[[str], TokenValidator] | None = None  # binary -> its auth_token
    # binary -> its service user's token, the one its auth_token validates with (None: the
    # binary logs in by itself): one login for all a binary's clients, as one keystoneauth
    # session per process
    service_token: Callable[[str], ServiceToken | None] | None = None
    # nova-compute per host: its hypervisor driver's options (a fake host's capacity,
    # libvirt's instances_path ...) and the availability zone it is in
    driver_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    availability_zones: Mapping[str, str] = field(default_factory=dict)
    # neutron's agents: the datapath they drive (None: each builds its own from its conf) and
    # how often an L2 agent scans for taps (None: neutron's [AGENT] polling_interval, 2 s)
    datapath: Datapath | None = None
    polling_interval: float | None = None
    # True while a stepper holds the cloud: silence proves nothing then (the build check waits)
    held: Callable[[], bool] = _never
