"""The request context: who is asking, for which project, and under which request id.

It mirrors oslo.context's RequestContext: on the wire it travels as ``_context_<key>``
fields of every RPC message, so a nova service can read the same keys from it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# version 4 and the RFC 4122 variant in a random 128-bit number: a uuid4's 32 hex digits
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)
# A generator of its own, seeded from os.urandom (again in a forked child): a seed given to
# the global one (random.seed(0) in a lab, hypothesis in a test) would make ids repeat, and
# a server drops a message whose _unique_id it has seen.
_IDS = random.Random()
os.register_at_fork(after_in_child=_IDS.seed)


def uuid4_hex() -> str:
    """An id as ``uuid.uuid4().hex``, from a pseudo-random generator: ids must not repeat,
    not be secret (they travel in clear), and uuid4's os.urandom is a system call that
    gives up the GIL, for every RPC message and every request id.

    >>> import uuid; uuid.UUID(uuid4_hex()).version
    4
    """
    return f"{(_IDS.getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"


def new_request_id() -> str:
    """A request id in OpenStack's form, ``req-<uuid>`` (oslo.context makes one for a
    context that comes without, as an RPC server does for every such message).

    >>> import uuid; uuid.UUID(new_request_id()[4:]).version
    4
    """
    h = uuid4_hex()
    return f"req-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class RequestContext:
    """Identity and request id of one API request, carried across every service it reaches."""

    user_id: str | None = None
    project_id: str | None = None
    user_name: str | None = None
    project_name: str | None = None
    roles: tuple[str, ...] = ()
    is_admin: bool = False
    auth_token: str | None = None
    request_id: str = field(default_factory=new_request_id)
    global_request_id: str | None = None
    # keys other clients put on the wire (nova's ``read_deleted``, ``service_catalog``...):
    # kept, so a service that passes the context on passes them on too, as nova's does
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The keys oslo.context puts on the wire (plus the legacy ``user``/``tenant``)."""
        return {
            **self.extra,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "user_name": self.user_name,
            "project_name": self.project_name,
            "roles": list(self.roles),
            "is_admin": self.is_admin,
            "auth_token": self.auth_token,
            "request_id": self.request_id,
            "global_request_id": self.global_request_id,
            "user": self.user_id,
            "tenant": self.project_id,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], prefix: str = "", others: frozenset[str] = frozenset()
    ) -> RequestContext:
        """Rebuild a context from its wire form; keys it does not know are kept in ``extra``.

        With ``prefix`` the context is read from the keys that start with it (an RPC
        message's ``_context_*`` fields), each without its prefix, and the others ignored;
        ``others``: keys known to be no context field (not looked at). Raises TypeError
        when ``roles`` is not a list of names.
        """
        keys = _keys_for(prefix)
        get = data.get
        roles = get(keys.roles) or ()
        if isinstance(roles, str) or not isinstance(roles, list | tuple):
            raise TypeError(f"roles must be a list of names, not {roles!r}")
        # every RPC message rebuilds one, straight from its fields: no dict of the fields
        # first, and ``extra`` looked for only among the keys a context does not name
        extra: dict[str, Any] = {}
        cut, known = len(prefix), keys.known
        strays = data.keys() - known - others  # keys neither a context's nor the message's
        if any(key[:cut] == prefix for key in strays):  # rare: context fields not named here
            extra = {k[cut:]: v for k, v in data.items() if k[:cut] == prefix and k not in known}
        # its fields set at once, not by ten object.__setattr__ calls of the frozen
        # dataclass's __init__ (same values)
        ctxt = object.__new__(cls)
        ctxt.__dict__.update(
            user_id=get(keys.user_id) or get(keys.user),
            project_id=get(keys.project_id) or get(keys.tenant),
            user_name=get(keys.user_name),
            project_name=get(keys.project_name),
            roles=tuple([str(r) for r in roles]),
            is_admin=bool(get(keys.is_admin, False)),
            auth_token=get(keys.auth_token),
            request_id=get(keys.request_id) or new_request_id(),
            global_request_id=get(keys.global_request_id),
            extra=extra,
        )
        return ctxt


class _Keys(NamedTuple):
    """The keys from_dict reads, with a prefix (or none); ``known``: the names of a
    context's fields and their legacy names, which never go into ``extra``."""

    user_id: str
    project_id: str
    user_name: str
    project_name: str
    roles: str
    is_admin: str
    auth_token: str
    request_id: str
    global_request_id: str
    user: str  # the legacy names of user_id and project_id
    tenant: str
    known: frozenset[str]


_KEYS: dict[str, _Keys] = {}


def _keys_for(prefix: str) -> _Keys:
    keys = _KEYS.get(prefix)
    if keys is None:
        names = [prefix + name for name in _Keys._fields[:-1]]
        # "extra" too: a key of that name never went into extra (it is the field's own)
        keys = _KEYS[prefix] = _Keys._make([*names, frozenset([*names, prefix + "extra"])])
    return keys


def get_admin_context() -> RequestContext:
    """A context for work the cloud does on its own behalf (periodic tasks, start-up)."""
    return RequestContext(is_admin=True, roles=("admin",))
