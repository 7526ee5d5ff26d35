"""neutron's tables. ``ipallocations`` has a unique (subnet_id, ip_address): the database
itself refuses a second port with the same address, whatever the code above it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labcloud.quotas import QuotaColumns


class Base(DeclarativeBase):
    pass


class Network(Base):
    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    network_type: Mapped[str] = mapped_column(String(32), default="flat")
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Subnet(Base):
    __tablename__ = "subnets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Port(Base):
    __tablename__ = "ports"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    mac_address: Mapped[str] = mapped_column(String(32), unique=True)
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class IPAllocation(Base):
    __tablename__ = "ipallocations"
    __table_args__ = (UniqueConstraint("subnet_id", "ip_address", name="uniq_ip_per_subnet"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"), index=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"))
    network_id: Mapped[str] = mapped_column(String(36))
    ip_address: Mapped[str] = mapped_column(String(64))


class SecurityGroup(Base):
    __tablename__ = "securitygroups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class DefaultSecurityGroup(Base):
    """One ``default`` group per project: the primary key settles two first uses at once."""

    __tablename__ = "default_security_group"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE")
    )


class SecurityGroupRule(Base):
    __tablename__ = "securitygrouprules"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True
    )
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(40))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class SecurityGroupPortBinding(Base):
    __tablename__ = "securitygroupportbindings"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id"), primary_key=True
    )


class ProvisioningBlock(Base):
    """neutron's ``provisioningblocks``: who still has to provision a port before it may go
    ACTIVE (provisioning_blocks.py). neutron keys it on the port's standard attribute id;
    labcloud on the port's id. A deleted port's blocks go with it."""

    __tablename__ = "provisioningblocks"
    # a block being completed may have gone with its port meanwhile (ON DELETE CASCADE)
    __mapper_args__ = {"confirm_deleted_rows": False}
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    entity: Mapped[str] = mapped_column(String(255), primary_key=True)


class Router(Base):
    """A router; its interfaces and gateway are ports whose device_id is the router's id
    (device_owner ``network:router_interface`` / ``network:router_gateway``)."""

    __tablename__ = "routers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    gw_port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), nullable=True)
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class FloatingIP(Base):
    """An address of an external network (held by the port ``floating_port_id``), mapped
    to a fixed IP of ``fixed_port_id`` by the router ``router_id``."""

    __tablename__ = "floatingips"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    floating_network_id: Mapped[str] = mapped_column(String(36))
    floating_port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"))
    fixed_port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), nullable=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    router_id: Mapped[str | None] = mapped_column(ForeignKey("routers.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Agent(Base):
    """neutron's ``agents`` table: one row per agent binary and host, its heartbeat in
    ``heartbeat_timestamp`` (set by each report_state)."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("agent_type", "host", name="uniq_agents0agent_type0host"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    configurations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_timestamp: Mapped[datetime] = mapped_column(DateTime)
    description: Mapped[str] = mapped_column(String(255), default="")


def row_dict(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


class Quota(QuotaColumns, Base):
    """A project's limit on one resource, where it differs from the defaults (neutron's
    ``quotas`` table)."""
