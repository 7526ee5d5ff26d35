"""glance's JSON schemas: what clients fetch from ``/v2/schemas/...``, what the OpenAPI
document shows, and what every request is checked against (with jsonschema, as glance
does), from one source.

An image has base properties (typed below; some read-only) and any number of custom
properties, which must be strings. glance's schema has more base properties (``locations``,
``os_hidden``, ``stores``, ...); labcloud leaves them out.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from labcloud.exceptions import Forbidden, Invalid, LabCloudError
from labcloud.image.models import ImageStatus, MemberStatus, Visibility

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MAX_INT = 2**31 - 1  # glance's min_disk/min_ram are INTEGER columns
# glance keeps a custom property's value in a TEXT column (65535 bytes in MySQL), and allows
# 128 properties and 128 tags per image (image_property_quota, image_tag_quota): 413 beyond
MAX_PROPERTY_VALUE = 65535
PROPERTY_QUOTA = 128
TAG_QUOTA = 128


def _ro(kind: Any, description: str) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description}


def _text(kind: Any = "string", max_length: int = 255) -> dict[str, Any]:
    return {"type": kind, "maxLength": max_length}


IMAGE_PROPERTIES: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
    "name": _text(["null", "string"]),
    "status": _ro("string", "Status of the image") | {"enum": list(ImageStatus)},
    "visibility": {"type": "string", "enum": list(Visibility)},
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "owner": _text(["null", "string"]),
    "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS]},
    "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS]},
    "min_disk": {"type": "integer", "minimum": 0, "maximum": MAX_INT, "description": "GB"},
    "min_ram": {"type": "integer", "minimum": 0, "maximum": MAX_INT, "description": "MB"},
    "tags": {"type": "array", "items": _text(), "uniqueItems": True},
    "size": _ro(["null", "integer"], "Size of image file in bytes"),
    "virtual_size": _ro(["null", "integer"], "Virtual size of image in bytes"),
    "checksum": _ro(["null", "string"], "md5 hash of image contents") | {"maxLength": 32},
    "os_hash_algo": _ro(["null", "string"], "Algorithm to calculate the os_hash_value"),
    "os_hash_value": _ro(["null", "string"], "Hexdigest of the image contents"),
    "os_hidden": _ro("boolean", "Hidden from the image list (always false in labcloud)"),
    "created_at": _ro("string", "Date and time of image registration"),
    "updated_at": _ro("string", "Date and time of the last image modification"),
    "self": _ro("string", "An image self url"),
    "file": _ro("string", "An image file url"),
    "schema": _ro("string", "An image schema url"),
}

CUSTOM_PROPERTY = _text("string", MAX_PROPERTY_VALUE)

IMAGE_SCHEMA: dict[str, Any] = {
    "name": "image",
    "properties": IMAGE_PROPERTIES,
    "additionalProperties": CUSTOM_PROPERTY,
    "propertyNames": {"maxLength": 255},
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
        "member_id": _text(),
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

# request bodies of the member routes (glance's ``member`` and ``status`` documents)
NEW_MEMBER: dict[str, Any] = {
    "type": "object",
    "properties": {"member": _text()},
    "required": ["member"],
    "additionalProperties": False,
}
MEMBER_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {"status": MEMBER_SCHEMA["properties"]["status"]},
    "required": ["status"],
    "additionalProperties": False,
}

# Base properties a request may set ("id" only when creating); the rest are read-only.
WRITABLE = frozenset(k for k, rule in IMAGE_PROPERTIES.items() if not rule.get("readOnly")) - {"id"}
READ_ONLY = (frozenset(IMAGE_PROPERTIES) - WRITABLE) | {"direct_url"}
# labcloud has no locations; glance lets only admins touch them
RESERVED = frozenset({"location", "locations", "deleted", "deleted_at"})
RESERVED_NAMESPACE = "os_glance"


class QuotaExceeded(LabCloudError):
    """glance's 413 for an image over its property or tag quota."""

    msg_fmt = "Attempted to add more %(what)s than allowed: the limit is %(limit)s."
    code = 413


def openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """A glance schema as an OpenAPI (JSON Schema 2020-12) object: ``name`` and ``links``
    are glance's own keys, not schema keywords."""
    out = {k: v for k, v in schema.items() if k not in ("name", "links")}
    out.setdefault("type", "object")
    for key in ("properties",):
        if key in out:
            out[key] = {n: openapi(r) if "properties" in r else r for n, r in out[key].items()}
    if "items" in out and "properties" in out["items"]:
        out["items"] = openapi(out["items"])
    return out


# the optional format checkers jsonschema imports when it finds them; some build grammars or
# compile long regular expressions at import (rfc3987_syntax: 1.2 s of CPU, rfc3986_validator
# 0.2 s), more than the rest of a cloud's start, and glance's schemas check no formats
FORMAT_CHECKERS = (
    "rfc3987_syntax",
    "rfc3987",
    "rfc3986_validator",
    "rfc3339_validator",
    "webcolors",
    "jsonpointer",
    "uri_template",
    "isoduration",
    "fqdn",
)


@functools.cache
def _jsonschema() -> Any:
    """jsonschema, imported on first use without the FORMAT_CHECKERS it has not met yet
    (other importers of those modules still get them afterwards)."""
    blocked = [name for name in FORMAT_CHECKERS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import jsonschema
    finally:
        for name in blocked:
            del sys.modules[name]
    return jsonschema


def _first_error(schema: dict[str, Any], document: Any) -> str | None:
    jsonschema = _jsonschema()
    errors = jsonschema.Draft7Validator(schema).iter_errors(document)
    error = jsonschema.exceptions.best_match(errors)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) < 200 else error.message[:200] + "..."
    return f"{message} ({where})" if where else message


def check(schema: dict[str, Any], document: Any, name: str) -> None:
    """Invalid (400) unless ``document`` matches ``schema``; no NUL in any string anywhere
    (PostgreSQL refuses them in text columns, where SQLite would store them)."""
    if _has_nul(document):
        raise Invalid(f"Provided object does not match schema '{name}': a string has a NUL byte")
    if found := _first_error(schema, document):
        raise Invalid(f"Provided object does not match schema '{name}': {found}")


def _has_nul(document: Any) -> bool:
    """Any NUL in a string or key, at any depth (a loop, not recursion: depth is the
    client's to choose)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return True
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def check_value(name: str, value: Any) -> None:
    """Invalid (400) unless ``value`` suits the base or custom property ``name``."""
    check({**IMAGE_SCHEMA, "type": "object"}, {name: value}, "image")


def check_writable(name: str, *, creating: bool = False) -> None:
    """Forbidden (403), as glance answers, for a read-only or reserved attribute."""
    if name in READ_ONLY and not (creating and name == "id"):
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED or name.startswith(RESERVED_NAMESPACE):
        raise Forbidden(f"Attribute '{name}' is reserved.")


def check_image(document: dict[str, Any], *, creating: bool = False) -> None:
    """A whole image document as a request writes it: 403 for read-only or reserved keys,
    400 for values the schema refuses, 413 over the property or tag quota."""
    for name in document:
        check_writable(str(name), creating=creating)
    check({**IMAGE_SCHEMA, "type": "object"}, document, "image")
    custom = [k for k in document if k not in IMAGE_PROPERTIES]
    if len(custom) > PROPERTY_QUOTA:
        raise QuotaExceeded(what="properties", limit=PROPERTY_QUOTA)
    if len(document.get("tags") or ()) > TAG_QUOTA:
        raise QuotaExceeded(what="tags", limit=TAG_QUOTA)
