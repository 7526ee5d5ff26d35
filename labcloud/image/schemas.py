"""glance's JSON schemas: what clients fetch from ``/v2/schemas/...`` and what requests are
checked against, from one source.

An image has base properties (typed below; some read-only) and any number of custom
properties, which must be strings. glance's schema has more base properties (``locations``,
``os_hidden``, ``stores``, ...) and a full JSON Schema validator; labcloud checks the
keywords its schema uses (type, enum, maxLength, minimum, pattern, items, uniqueItems).
"""

from __future__ import annotations

import re
from typing import Any

from labcloud.exceptions import Forbidden, Invalid
from labcloud.image.models import ImageStatus, MemberStatus, Visibility

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _ro(kind: Any, description: str) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description}


IMAGE_PROPERTIES: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
    "name": {"type": ["null", "string"], "maxLength": 255},
    "status": _ro("string", "Status of the image") | {"enum": list(ImageStatus)},
    "visibility": {"type": "string", "enum": list(Visibility)},
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "owner": {"type": ["null", "string"], "maxLength": 255},
    "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS]},
    "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS]},
    "min_disk": {"type": "integer", "minimum": 0, "description": "Disk space (GB) to boot"},
    "min_ram": {"type": "integer", "minimum": 0, "description": "Memory (MB) to boot"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}, "uniqueItems": True},
    "size": _ro(["null", "integer"], "Size of image file in bytes"),
    "virtual_size": _ro(["null", "integer"], "Virtual size of image in bytes"),
    "checksum": _ro(["null", "string"], "md5 hash of image contents") | {"maxLength": 32},
    "os_hash_algo": _ro(["null", "string"], "Algorithm to calculate the os_hash_value"),
    "os_hash_value": _ro(["null", "string"], "Hexdigest of the image contents"),
    "created_at": _ro("string", "Date and time of image registration"),
    "updated_at": _ro("string", "Date and time of the last image modification"),
    "self": _ro("string", "An image self url"),
    "file": _ro("string", "An image file url"),
    "schema": _ro("string", "An image schema url"),
}

IMAGE_SCHEMA: dict[str, Any] = {
    "name": "image",
    "properties": IMAGE_PROPERTIES,
    "additionalProperties": {"type": "string"},  # custom properties
    "links": [
        {"rel": "self", "href": "{self}"},
        {"rel": "enclosure", "href": "{file}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

IMAGES_SCHEMA: dict[str, Any] = {
    "name": "images",
    "properties": {
        "images": {"type": "array", "items": IMAGE_SCHEMA},
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [
        {"rel": "first", "href": "{first}"},
        {"rel": "next", "href": "{next}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

MEMBER_SCHEMA: dict[str, Any] = {
    "name": "member",
    "properties": {
        "image_id": {"type": "string", "pattern": UUID_PATTERN},
        "member_id": {"type": "string"},
        "status": {"type": "string", "enum": list(MemberStatus)},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "schema": {"type": "string", "readOnly": True},
    },
}

MEMBERS_SCHEMA: dict[str, Any] = {
    "name": "members",
    "properties": {
        "members": {"type": "array", "items": MEMBER_SCHEMA},
        "schema": {"type": "string"},
    },
    "links": [{"rel": "describedby", "href": "{schema}"}],
}

SCHEMAS = {
    "image": IMAGE_SCHEMA,
    "images": IMAGES_SCHEMA,
    "member": MEMBER_SCHEMA,
    "members": MEMBERS_SCHEMA,
}

# Base properties a request may set ("id" only when creating); the rest are read-only.
WRITABLE = frozenset(k for k, rule in IMAGE_PROPERTIES.items() if not rule.get("readOnly")) - {"id"}
READ_ONLY = (frozenset(IMAGE_PROPERTIES) - WRITABLE) | {"direct_url"}
# labcloud has no locations; glance lets only admins touch them
RESERVED = frozenset({"location", "locations", "deleted", "deleted_at"})
RESERVED_NAMESPACE = "os_glance"

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _is(value: Any, json_type: str) -> bool:
    if json_type == "integer" and isinstance(value, bool):
        return False  # JSON true is not an integer, although Python's True is an int
    return isinstance(value, _JSON_TYPES[json_type])


def problem(rule: dict[str, Any], value: Any) -> str | None:
    """What is wrong with ``value`` under the schema ``rule``, or None when nothing is."""
    kinds = rule.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if kinds and not any(_is(value, kind) for kind in kinds):
        return f"{value!r} is not of type {' or '.join(repr(k) for k in kinds)}"
    if "enum" in rule and value not in rule["enum"]:
        return f"{value!r} is not one of {rule['enum']}"
    if isinstance(value, str) and len(value) > rule.get("maxLength", len(value)):
        return f"{value!r} is too long"
    if isinstance(value, str) and "pattern" in rule and not re.match(rule["pattern"], value):
        return f"{value!r} does not match {rule['pattern']!r}"
    if _is(value, "integer") and value < rule.get("minimum", value):
        return f"{value!r} is less than the minimum of {rule['minimum']}"
    if isinstance(value, list):
        if rule.get("uniqueItems") and len(set(map(repr, value))) < len(value):
            return f"{value!r} has non-unique elements"
        for item in value:
            if found := problem(rule.get("items", {}), item):
                return found
    return None


def check_value(name: str, value: Any) -> None:
    """Invalid (400) unless ``value`` suits the base or custom property ``name``."""
    rule = IMAGE_PROPERTIES.get(name, IMAGE_SCHEMA["additionalProperties"])
    if len(name) > 255:
        raise Invalid(f"Property name {name[:40]!r}... is too long.")
    if found := problem(rule, value):
        raise Invalid(f"Provided object does not match schema 'image': {found} ({name})")


def check_writable(name: str, *, creating: bool = False) -> None:
    """Forbidden (403), as glance answers, for a read-only or reserved attribute."""
    if name in READ_ONLY and not (creating and name == "id"):
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED or name.startswith(RESERVED_NAMESPACE):
        raise Forbidden(f"Attribute '{name}' is reserved.")
