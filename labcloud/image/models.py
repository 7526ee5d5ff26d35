"""glance's tables: images and their members (the projects a shared image is offered to).

glance keeps custom properties in their own ``image_properties`` table and tags in
``image_tags``; labcloud keeps both as JSON columns of the image row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ImageStatus(StrEnum):
    """An image's life: created ``queued``, ``saving`` while its data arrives, then ``active``.

    glance also has ``killed``, ``deactivated``, ``pending_delete``, ``uploading`` and
    ``importing``; labcloud has no import workflow and no delayed delete, so it needs none.
    """

    QUEUED = "queued"
    SAVING = "saving"
    ACTIVE = "active"
    DELETED = "deleted"


class Visibility(StrEnum):
    PUBLIC = "public"  # every project sees and lists it
    COMMUNITY = "community"  # every project sees it; listed only when asked for
    SHARED = "shared"  # the owner and the members it is shared with (glance's default)
    PRIVATE = "private"  # the owner only


class MemberStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Base(DeclarativeBase):
    pass


class Image(Base):
    __tablename__ = "images"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(30), default=ImageStatus.QUEUED)
    visibility: Mapped[str] = mapped_column(String(20), default=Visibility.SHARED)
    owner: Mapped[str | None] = mapped_column(String(255), index=True, nullable=True)
    disk_format: Mapped[str | None] = mapped_column(String(20), nullable=True)
    container_format: Mapped[str | None] = mapped_column(String(20), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(32), nullable=True)  # md5, hex
    os_hash_algo: Mapped[str | None] = mapped_column(String(64), nullable=True)
    os_hash_value: Mapped[str | None] = mapped_column(String(128), nullable=True)
    min_disk: Mapped[int] = mapped_column(Integer, default=0)  # GB
    min_ram: Mapped[int] = mapped_column(Integer, default=0)  # MB
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ImageMember(Base):
    """A project a shared image is offered to, and its answer."""

    __tablename__ = "image_members"
    __table_args__ = (UniqueConstraint("image_id", "member"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    member: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(20), default=MemberStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
