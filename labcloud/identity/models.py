"""keystone's tables, in labcloud's identity database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "project"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    __tablename__ = "user"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(ForeignKey("project.id"), nullable=True)


class Role(Base):
    __tablename__ = "role"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class Assignment(Base):
    """A role a user holds on a project."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("user_id", "project_id", "role_id"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    role_id: Mapped[str] = mapped_column(ForeignKey("role.id", ondelete="CASCADE"))


class RevocationEvent(Base):
    """keystone's revocation_event: tokens matching every attribute set here, issued at or
    before ``issued_before``, are invalid (tokens themselves are stored nowhere)."""

    __tablename__ = "revocation_event"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    role_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    audit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    audit_chain_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    issued_before: Mapped[datetime] = mapped_column(DateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Service(Base):
    """A catalog entry: one OpenStack service (``compute``/``nova``, ``image``/``glance`` ...)."""

    __tablename__ = "service"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))


class Endpoint(Base):
    __tablename__ = "endpoint"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    interface: Mapped[str] = mapped_column(String(8))  # public | internal | admin
    region: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(255))
