"""Images and members in JSON, as glance writes them: custom properties at the top level
beside the base ones, and links to the image itself, its data and its schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from labcloud.image.models import Image, ImageMember


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image(row: Image | Row[Any]) -> dict[str, Any]:
    """``row`` an Image, or its table's row as read with Core (the same attributes)."""
    return dict(row.properties) | {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "visibility": row.visibility,
        "protected": row.protected,
        "owner": row.owner,
        "tags": list(row.tags),
        "container_format": row.container_format,
        "disk_format": row.disk_format,
        "min_disk": row.min_disk,
        "min_ram": row.min_ram,
        "size": row.size,
        "virtual_size": None,  # glance learns it by inspecting the data; labcloud does not
        "checksum": row.checksum,
        "os_hash_algo": row.os_hash_algo,
        "os_hash_value": row.os_hash_value,
        "os_hidden": False,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "self": f"/v2/images/{row.id}",
        "file": f"/v2/images/{row.id}/file",
        "schema": "/v2/schemas/image",
    }


def member(row: ImageMember) -> dict[str, Any]:
    return {
        "image_id": row.image_id,
        "member_id": row.member,
        "status": row.status,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "schema": "/v2/schemas/member",
    }
