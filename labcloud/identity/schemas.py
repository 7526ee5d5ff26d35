"""keystone's request bodies, checked at the API's edge (keystone's JSON schemas, as pydantic).

Lengths are keystone's columns: names of users, roles and services up to 255, projects up to
64, ids up to 64; no string may hold a NUL byte (PostgreSQL refuses them). A body that does
not fit gets keystone's 400 naming the field; unknown keys are ignored, as keystone's
schemas allow them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, StrictBool, StringConstraints

NO_NUL = r"^[^\x00]*$"
NAMED = r"^[^\x00]*[^\x00\s][^\x00]*$"  # keystone's names: not blank, and no NUL
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NAMED)]
ProjectName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAMED)]
Text = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]
# keystone's [identity] max_password_length; bcrypt then reads the first 72 bytes
Password = Annotated[str, StringConstraints(max_length=4096, pattern=NO_NUL)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=NO_NUL)]
Url = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^https?://[^\s\x00]+$")
]
Interface = Literal["public", "internal", "admin"]


class Domain(BaseModel):
    id: Id | None = None
    name: Name | None = None


class Named(BaseModel):
    id: Id | None = None
    name: Name | None = None
    domain: Domain | None = None


class PasswordUser(Named):
    password: Password


class PasswordMethod(BaseModel):
    user: PasswordUser


class TokenMethod(BaseModel):
    id: Token


class IdentityBody(BaseModel):
    methods: list[Annotated[str, StringConstraints(max_length=64)]]
    password: PasswordMethod | None = None
    token: TokenMethod | None = None


class Scope(BaseModel):
    project: Named | None = None


class Auth(BaseModel):
    identity: IdentityBody
    scope: Scope | None = None


class AuthRequest(BaseModel):
    auth: Auth


class PasswordCredentials(BaseModel):
    username: Name
    password: Password


class V2Auth(BaseModel):
    passwordCredentials: PasswordCredentials | None = None  # noqa: N815 - keystone's names
    token: TokenMethod | None = None
    tenantName: ProjectName | None = None  # noqa: N815
    tenantId: Id | None = None  # noqa: N815


class V2AuthRequest(BaseModel):
    auth: V2Auth


# -- accounts ------------------------------------------------------------------------------
class UserCreate(BaseModel):
    name: Name
    password: Password | None = None
    enabled: StrictBool = True
    default_project_id: Id | None = None
    domain_id: Literal["default"] = "default"
    description: Text | None = None


class UserUpdate(BaseModel):
    name: Name | None = None
    password: Password | None = None
    enabled: StrictBool | None = None
    default_project_id: Id | None = None
    description: Text | None = None


class UserCreateRequest(BaseModel):
    user: UserCreate


class UserUpdateRequest(BaseModel):
    user: UserUpdate


class ProjectCreate(BaseModel):
    name: ProjectName
    description: Text = ""
    enabled: StrictBool = True
    domain_id: Literal["default"] = "default"
    is_domain: Literal[False] = False


class ProjectUpdate(BaseModel):
    name: ProjectName | None = None
    description: Text | None = None
    enabled: StrictBool | None = None


class ProjectCreateRequest(BaseModel):
    project: ProjectCreate


class ProjectUpdateRequest(BaseModel):
    project: ProjectUpdate


class RoleCreate(BaseModel):
    name: Name


class RoleCreateRequest(BaseModel):
    role: RoleCreate


# -- catalog -------------------------------------------------------------------------------
class ServiceCreate(BaseModel):
    type: ProjectName  # labcloud's service columns hold 64 characters
    name: ProjectName | None = None
    description: Text = ""
    enabled: StrictBool = True


class ServiceCreateRequest(BaseModel):
    service: ServiceCreate


class EndpointCreate(BaseModel):
    service_id: Id
    interface: Interface
    url: Url
    region_id: Id | None = None
    region: Id | None = None
    enabled: StrictBool = True


class EndpointCreateRequest(BaseModel):
    endpoint: EndpointCreate
