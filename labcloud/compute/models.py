"""nova's tables (instances, faults, compute nodes, flavors, volume attachments)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labcloud.quotas import QuotaColumns


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
    key_data: Mapped[str | None] = mapped_column(Text, nullable=True)  # the key's public half
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    network_info: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_networks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # a resize in progress: {"source_compute", "dest_compute", "status"} (nova's migrations row)
    migration: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # nova keeps these in block_device_mapping rows; one JSON column is enough here
    block_devices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    # what later microversions show (compute/api/versions.py): 2.3's extended attributes,
    # 2.9's lock, 2.19's description, 2.26's tags (nova keeps tags in a table of their own)
    display_description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    reservation_id: Mapped[str] = mapped_column(String(255), default="")
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    kernel_id: Mapped[str] = mapped_column(String(255), default="")
    ramdisk_id: Mapped[str] = mapped_column(String(255), default="")
    root_device_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # owner | admin
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
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


class FlavorExtraSpec(Base):
    """nova's flavor_extra_specs: ``hw:cpu_policy``, ``quota:disk_read_bytes_sec`` ..."""

    __tablename__ = "flavor_extra_specs"
    flavor_id: Mapped[str] = mapped_column(ForeignKey("flavors.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class KeyPair(Base):
    """A user's SSH public key, by name (nova keeps them in its API database)."""

    __tablename__ = "key_pairs"
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(8), default="ssh")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Quota(QuotaColumns, Base):
    """A project's limit on one resource, where it differs from the defaults (nova's quotas)."""


class InstanceAction(Base):
    """One request on an instance (create, reboot, resize ...), by its request id."""

    __tablename__ = "instance_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(String(255), nullable=True)
    start_time: Mapped[datetime] = mapped_column(DateTime)


class InstanceActionEvent(Base):
    """A part of an action, done by one service (nova's instance_actions_events)."""

    __tablename__ = "instance_actions_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("instance_actions.id"), index=True)
    event: Mapped[str] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    result: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[str | None] = mapped_column(Text, nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    start_time: Mapped[datetime] = mapped_column(DateTime)
    finish_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
