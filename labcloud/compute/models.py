"""nova's tables (instances, faults, compute nodes, flavors, volume attachments)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Flavor(Base):
    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)


class ComputeNode(Base):
    """One hypervisor's capacity and usage, as its nova-compute reports it."""

    __tablename__ = "compute_nodes"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32), default="fake")
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    local_gb: Mapped[int] = mapped_column(Integer)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    running_vms: Mapped[int] = mapped_column(Integer, default=0)
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # nova service enabled
    # the last report: up while recent (servicegroup.py), as nova's services.updated_at
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Instance(Base):
    __tablename__ = "instances"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    image_ref: Mapped[str] = mapped_column(String(255), default="")
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON)
    vm_state: Mapped[str] = mapped_column(String(255))
    task_state: Mapped[str | None] = mapped_column(String(255), nullable=True)
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    network_info: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_networks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # a resize in progress: {"source_compute", "dest_compute", "status"} (nova's migrations row)
    migration: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # nova keeps these in block_device_mapping rows; one JSON column is enough here
    block_devices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    launched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class InstanceFault(Base):
    __tablename__ = "instance_faults"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(ForeignKey("instances.uuid"), index=True)
    code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
