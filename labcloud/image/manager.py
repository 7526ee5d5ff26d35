"""glance-api's logic: image records, their data, who may see them, and JSON-patch updates.

A project sees public and community images, its own, and shared images it has accepted
membership of; an admin sees everything. Uploading moves an image from ``queued`` to
``active`` and records its size, md5 checksum and sha512 hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, select
from sqlalchemy.orm import Session

from labcloud import policy
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Conflict, Forbidden, NotFound
from labcloud.image.models import Base, Image, ImageMember, Visibility
from labcloud.image.patch import parse
from labcloud.image.schemas import PROPERTY_QUOTA, TAG_QUOTA, QuotaExceeded, check_image
from labcloud.image.store import HASH_ALGO, ImageStore

# the image row's own columns; any other key of a request is a custom property
CORE = (
    "name",
    "visibility",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "protected",
    "tags",
    "owner",
)


def matches(value: str, wanted: str) -> bool:
    """A list filter as glance reads it: ``x``, ``eq:x`` or ``in:x,y,z``.

    >>> matches("cirros", "in:ubuntu,cirros"), matches("cirros", "eq:cirros")
    (True, True)
    """
    if wanted.startswith("in:"):
        return value in wanted[3:].split(",")
    return value == wanted.removeprefix("eq:")


class ImageNotFound(NotFound):
    msg_fmt = "No image found with ID %(image_id)s"


IMAGES: Table = Image.__table__  # type: ignore[assignment]  # a Table, typed FromClause
MEMBERS: Table = ImageMember.__table__  # type: ignore[assignment]


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class ImageManager:
    def __init__(self, db_url: str, store: ImageStore) -> None:
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self.store = store
        # the statements nova's every build runs, built once: a select's construction and
        # cache key cost more than SQLite's answer to it
        self._image_by_id = select(IMAGES).where(IMAGES.c.id == bindparam("image_id"))
        self._members_of = select(MEMBERS.c.member, MEMBERS.c.status).where(
            MEMBERS.c.image_id == bindparam("image_id")
        )

    def _visible(
        self,
        ctxt: RequestContext,
        image: Image | Row[Any],
        members: Callable[[], dict[str, str]],
        listing: bool = False,
    ) -> bool:
        """Glance's rule; a shared image is listed once accepted, shown to any member
        (``members`` are read only for a shared image of another project)."""
        if ctxt.is_admin or image.owner == ctxt.project_id:
            return True
        if image.visibility in ("public", "community"):
            return True
        if image.visibility != "shared":
            return False
        status = members().get(ctxt.project_id or "")
        return status is not None and (status == "accepted" or not listing)

    def _members(self, s: Session, image_id: str) -> dict[str, str]:
        rows = s.scalars(select(ImageMember).where(ImageMember.image_id == image_id))
        return {m.member: m.status for m in rows}

    def _get(self, s: Session, ctxt: RequestContext, image_id: str) -> Image:
        image = s.get(Image, image_id)
        if image is None or not self._visible(ctxt, image, lambda: self._members(s, image_id)):
            raise ImageNotFound(image_id=image_id)
        return image

    def _own(self, ctxt: RequestContext, image: Image) -> None:
        if not (ctxt.is_admin or image.owner == ctxt.project_id):
            raise Forbidden(f"You are not permitted to modify image {image.id}.")

    def create(self, ctxt: RequestContext, body: dict[str, Any]) -> Image:
        """Register an image from a request body already checked against glance's schema."""
        check_image(body, creating=True)
        self._may_set(ctxt, body)
        with self.db.session() as s:
            image = Image(
                id=str(body.get("id") or uuid.uuid4()),
                owner=ctxt.project_id or "",
                visibility=body.get("visibility", Visibility.SHARED),
                created_at=now(),
                updated_at=now(),
                tags=list(body.get("tags") or []),
                properties={k: v for k, v in body.items() if k not in CORE and k != "id"},
            )
            for key in CORE:
                if key in body and key not in ("tags", "visibility"):
                    setattr(image, key, body[key])
            if s.get(Image, image.id) is not None:
                raise Conflict(f"An image with identifier {image.id} already exists")
            s.add(image)
            return image

    def _may_set(self, ctxt: RequestContext, values: dict[str, Any]) -> None:
        """glance's policy on what a body sets: public images are admin-only
        (publicize_image), and only an admin names another project as the owner."""
        if values.get("visibility") == Visibility.PUBLIC:
            policy.authorize(ctxt, "publicize_image")
        if "owner" in values:
            policy.may_target_project(ctxt, values["owner"])

    def list_images(self, ctxt: RequestContext, filters: dict[str, str]) -> list[Image]:
        with self.db.reader() as s:
            rows = list(s.scalars(select(Image).order_by(Image.created_at.desc(), Image.id)))
            return [
                i
                for i in rows
                if self._visible(ctxt, i, partial(self._members, s, i.id), listing=True)
                and all(
                    matches(str(getattr(i, k, i.properties.get(k))), v) for k, v in filters.items()
                )
            ]

    def get(self, ctxt: RequestContext, image_id: str) -> Row[Any]:
        """The image's row as ``_get`` finds it (same rule), read with Core: nova's every
        build shows its image, and an ORM session's set-up and identity map cost more than
        the SELECT. The row's attributes are the Image's columns."""
        with self.db.read() as conn:
            row = conn.execute(self._image_by_id, {"image_id": image_id}).one_or_none()
            if row is None or not self._visible(
                ctxt, row, lambda: self._member_rows(conn, image_id)
            ):
                raise ImageNotFound(image_id=image_id)
            return row

    def _member_rows(self, conn: Connection, image_id: str) -> dict[str, str]:
        rows = conn.execute(self._members_of, {"image_id": image_id})
        return {str(member): str(status) for member, status in rows}

    def patch(self, ctxt: RequestContext, image_id: str, ops: Any) -> Image:
        """Apply a JSON patch (add, replace, remove) to an image's attributes."""
        changes = parse(ops)
        self._may_set(ctxt, {c.name: c.value for c in changes if c.op != "remove"})
        with self.db.session() as s:
            image = self._get(s, ctxt, image_id)
            self._own(ctxt, image)
            props = dict(image.properties)
            for change in changes:
                if change.op == "remove":
                    if change.name in CORE:
                        raise Forbidden(f"Attribute '{change.name}' can't be removed.")
                    if props.pop(change.name, None) is None:
                        raise Conflict(f"Property {change.name} does not exist.")
                elif change.name in CORE:
                    setattr(image, change.name, change.value)
                else:
                    props[change.name] = change.value
            if len(props) > PROPERTY_QUOTA:
                raise QuotaExceeded(what="properties", limit=PROPERTY_QUOTA)
            if len(image.tags or ()) > TAG_QUOTA:
                raise QuotaExceeded(what="tags", limit=TAG_QUOTA)
            image.properties = props
            image.updated_at = now()
            return image

    def upload(self, ctxt: RequestContext, image_id: str, chunks: Iterable[bytes]) -> Image:
        with self.db.session() as s:
            image = self._get(s, ctxt, image_id)
            self._own(ctxt, image)
            if image.status != "queued":
                raise Conflict(
                    f"Image status transition from {image.status} to saving is not allowed"
                )
            image.status = "saving"
        try:
            size, md5, sha512 = self.store.add(image_id, chunks)
        except BaseException:  # never leave it in "saving": back to queued, as glance does
            with self.db.session() as s:
                failed = s.get(Image, image_id)
                if failed is not None:
                    failed.status = "queued"
            raise
        with self.db.session() as s:
            stored = s.get(Image, image_id)
            assert stored is not None
            image = stored
            image.size, image.checksum, image.os_hash_value = size, md5, sha512
            image.os_hash_algo = HASH_ALGO
            image.status, image.updated_at = "active", now()
            return image

    def download(self, ctxt: RequestContext, image_id: str) -> tuple[Row[Any], Iterator[bytes]]:
        image = self.get(ctxt, image_id)
        return image, self.store.get(image_id) if image.status == "active" else iter(())

    def delete(self, ctxt: RequestContext, image_id: str) -> None:
        with self.db.session() as s:
            image = self._get(s, ctxt, image_id)
            self._own(ctxt, image)
            if image.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            s.delete(image)
        self.store.delete(image_id)

    def list_members(self, ctxt: RequestContext, image_id: str) -> list[ImageMember]:
        """The owner (and an admin) see every member; a member sees only itself."""
        with self.db.reader() as s:
            image = self._get(s, ctxt, image_id)
            if image.visibility != Visibility.SHARED:
                raise Forbidden("Only shared images have members.")
            rows = list(s.scalars(select(ImageMember).where(ImageMember.image_id == image_id)))
            if ctxt.is_admin or image.owner == ctxt.project_id:
                return rows
            return [m for m in rows if m.member == ctxt.project_id]

    def get_member(self, ctxt: RequestContext, image_id: str, member: str) -> ImageMember:
        for row in self.list_members(ctxt, image_id):
            if row.member == member:
                return row
        raise NotFound(f"{member} is not a member of image {image_id}")

    def add_member(self, ctxt: RequestContext, image_id: str, member: str) -> ImageMember:
        """The owner shares the image with another project: its membership starts pending."""
        with self.db.session() as s:
            image = self._get(s, ctxt, image_id)
            self._own(ctxt, image)
            if image.visibility != Visibility.SHARED:
                raise Forbidden("Only shared images have members.")
            if self._member(s, image_id, member) is not None:
                raise Conflict(f"{member} is already a member of image {image_id}")
            row = ImageMember(image_id=image_id, member=member, created_at=now(), updated_at=now())
            s.add(row)
            s.flush()
            return row

    def answer_member(
        self, ctxt: RequestContext, image_id: str, member: str, status: str
    ) -> ImageMember:
        """The member project (or an admin) accepts or rejects a share."""
        with self.db.session() as s:
            self._get(s, ctxt, image_id)
            row = self._member(s, image_id, member)
            if row is None or not (ctxt.is_admin or ctxt.project_id == member):
                raise NotFound(f"{member} is not a member of image {image_id}")
            row.status, row.updated_at = status, now()
            return row

    def remove_member(self, ctxt: RequestContext, image_id: str, member: str) -> None:
        with self.db.session() as s:
            image = self._get(s, ctxt, image_id)
            row = self._member(s, image_id, member)
            if row is None:
                raise NotFound(f"{member} is not a member of image {image_id}")
            self._own(ctxt, image)
            s.delete(row)

    def _member(self, s: Session, image_id: str, member: str) -> ImageMember | None:
        return s.scalar(
            select(ImageMember).where(
                ImageMember.image_id == image_id, ImageMember.member == member
            )
        )
