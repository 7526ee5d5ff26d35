"""glance's image updates: a JSON patch (RFC 6902, as glance restricts it) read into changes.

``PATCH /v2/images/{id}`` with ``Content-Type: application/openstack-images-v2.1-json-patch``
takes a list such as ``[{"op": "replace", "path": "/name", "value": "cirros"}]``. glance
allows three ops (add, replace, remove) on top-level paths only (``/locations/N`` aside,
which labcloud leaves out).

>>> parse([{"op": "add", "path": "/hw~1cpu", "value": "2"}])
[Change(op='add', name='hw/cpu', value='2')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labcloud.exceptions import Invalid
from labcloud.image.schemas import check_value, check_writable

MEDIA_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
OPS = ("add", "replace", "remove")


@dataclass(frozen=True)
class Change:
    op: str  # add | replace | remove
    name: str  # the attribute: a base property or a custom one
    value: Any = None


def _name(path: Any) -> str:
    """The attribute a JSON pointer names (``~1`` is ``/`` and ``~0`` is ``~``)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise Invalid(f'Pointer `{path}` does not start with "/".')
    if "/" in path[1:] or path == "/":
        raise Invalid(f"Invalid JSON pointer for this resource: '{path}'")
    return path[1:].replace("~1", "/").replace("~0", "~")


def parse(ops: Any) -> list[Change]:
    """Check a patch and read it: Invalid (400) for bad shapes and values, Forbidden (403)
    for read-only or reserved attributes, before anything is changed."""
    if not isinstance(ops, list):
        raise Invalid("Request body must be a JSON array of operation objects.")
    changes = []
    for op in ops:
        if not isinstance(op, dict):
            raise Invalid("Operations must be JSON objects.")
        kind = op.get("op")
        if kind not in OPS:
            raise Invalid(
                f"Unable to find `op` in JSON Schema change. It must be one of the "
                f"following: {', '.join(OPS)}."
            )
        name = _name(op.get("path"))
        check_writable(name)
        if kind == "remove":
            changes.append(Change(kind, name))
            continue
        if "value" not in op:
            raise Invalid(f'Operation "{kind}" requires a member named "value".')
        check_value(name, op["value"])
        changes.append(Change(kind, name, op["value"]))
    return changes
