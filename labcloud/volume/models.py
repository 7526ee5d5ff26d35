"""cinder's tables: volumes (attachments kept with the volume, as a JSON list; the image a
volume was made from kept with it, where cinder has ``volume_glance_metadata``) and
snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labcloud.quotas import QuotaColumns


class Base(DeclarativeBase):
    pass


class Volume(Base):
    __tablename__ = "volumes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default="creating")
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    source_volid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # the image it was made from (image_id, image_name, disk_format, ...): volume_image_metadata
    image_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    volume_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Snapshot(Base):
    """A point-in-time copy of a volume, kept on the volume's backend."""

    __tablename__ = "snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(Integer)  # GB, the volume's when it was taken
    status: Mapped[str] = mapped_column(String(32), default="creating")
    progress: Mapped[str] = mapped_column(String(16), default="0%")
    snapshot_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Quota(QuotaColumns, Base):
    """A project's limit on one resource, where it differs from the defaults (cinder's
    ``quotas`` table)."""
