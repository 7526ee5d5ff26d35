"""neutron's tables. ``ipallocations`` has a unique (subnet_id, ip_address): the database
itself refuses a second port with the same address, whatever the code above it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


def row_dict(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}
