"""keystone's accounts: ``/v3/users``, ``/v3/projects``, ``/v3/roles``, a project's role
grants (``/v3/projects/{p}/users/{u}/roles/{r}``) and ``/v3/role_assignments``.

Every call is checked by the shared policy layer with keystone's action names
(``identity:create_user``...): changing accounts is an admin's; a user may read itself and
the projects it is a member of.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from labcloud.exceptions import Conflict, NotFound
from labcloud.identity import views
from labcloud.identity.auth import Caller, Context, Manager, base_url, enforce
from labcloud.identity.models import Project, Role, User
from labcloud.identity.schemas import (
    Id,
    Name,
    ProjectCreateRequest,
    ProjectUpdateRequest,
    RoleCreateRequest,
    UserCreateRequest,
    UserUpdateRequest,
)

router = APIRouter(prefix="/v3")
NameQuery = Annotated[Name | None, Query()]


# -- users ---------------------------------------------------------------------------------
@router.get("/users")
def list_users(
    request: Request, manager: Manager, ctxt: Context, name: NameQuery = None
) -> dict[str, Any]:
    enforce(ctxt, "list_users")
    users = [views.user(base_url(request), u) for u in manager.rows(User, name=name)]
    return views.collection(base_url(request), "/v3/users", "users", users)


@router.post("/users", status_code=201)
def create_user(
    body: UserCreateRequest, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "create_user")
    new = body.user
    user_id = manager.create_user(new.name, new.password, new.default_project_id, new.enabled)
    return {"user": views.user(base_url(request), manager.row(User, user_id))}


@router.get("/users/{user_id}")
def get_user(user_id: Id, request: Request, manager: Manager, ctxt: Context) -> dict[str, Any]:
    enforce(ctxt, "get_user", user_id=user_id)
    return {"user": views.user(base_url(request), manager.row(User, user_id))}


@router.patch("/users/{user_id}")
def update_user(
    user_id: Id, body: UserUpdateRequest, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "update_user", user_id=user_id)
    manager.update_user(user_id, body.user.model_dump(exclude_unset=True))
    return {"user": views.user(base_url(request), manager.row(User, user_id))}


@router.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: Id, manager: Manager, ctxt: Context) -> None:
    enforce(ctxt, "delete_user", user_id=user_id)
    manager.delete_user(user_id)


@router.get("/users/{user_id}/projects")
def list_user_projects(
    user_id: Id, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "list_user_projects", user_id=user_id)
    manager.row(User, user_id)
    return _projects_of(request, manager, user_id, f"/v3/users/{user_id}/projects")


@router.get("/auth/projects")
def auth_projects(request: Request, manager: Manager, caller: Caller) -> dict[str, Any]:
    """The projects the caller's user may scope a token to (any valid token)."""
    return _projects_of(request, manager, caller.user_id, "/v3/auth/projects")


def _projects_of(request: Request, manager: Manager, user_id: str, path: str) -> dict[str, Any]:
    ids = {p for _, p, _ in manager.assignments(user_id=user_id)}
    rows = [p for p in manager.rows(Project) if p.id in ids]
    items = [views.project(base_url(request), p) for p in rows]
    return views.collection(base_url(request), path, "projects", items)


# -- projects ------------------------------------------------------------------------------
@router.get("/projects")
def list_projects(
    request: Request, manager: Manager, ctxt: Context, name: NameQuery = None
) -> dict[str, Any]:
    enforce(ctxt, "list_projects")
    items = [views.project(base_url(request), p) for p in manager.rows(Project, name=name)]
    return views.collection(base_url(request), "/v3/projects", "projects", items)


@router.post("/projects", status_code=201)
def create_project(
    body: ProjectCreateRequest, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "create_project")
    new = body.project
    project_id = manager.create_project(new.name, new.description, new.enabled)
    return {"project": views.project(base_url(request), manager.row(Project, project_id))}


@router.get("/projects/{project_id}")
def get_project(
    project_id: Id, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "get_project", project_id=project_id)
    return {"project": views.project(base_url(request), manager.row(Project, project_id))}


@router.patch("/projects/{project_id}")
def update_project(
    project_id: Id, body: ProjectUpdateRequest, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "update_project", project_id=project_id)
    manager.update_project(project_id, body.project.model_dump(exclude_unset=True))
    return {"project": views.project(base_url(request), manager.row(Project, project_id))}


@router.delete("/projects/{project_id}", status_code=204)
def delete_project(project_id: Id, manager: Manager, ctxt: Context) -> None:
    enforce(ctxt, "delete_project", project_id=project_id)
    manager.delete_project(project_id)


# -- roles ---------------------------------------------------------------------------------
@router.get("/roles")
def list_roles(
    request: Request, manager: Manager, ctxt: Context, name: NameQuery = None
) -> dict[str, Any]:
    enforce(ctxt, "list_roles")
    items = [views.role(base_url(request), r) for r in manager.rows(Role, name=name)]
    return views.collection(base_url(request), "/v3/roles", "roles", items)


@router.post("/roles", status_code=201)
def create_role(
    body: RoleCreateRequest, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "create_role")
    if manager.rows(Role, name=body.role.name):
        raise Conflict(f"Conflict occurred attempting to store role - {body.role.name}.")
    role_id = manager.create_role(body.role.name)
    return {"role": views.role(base_url(request), manager.row(Role, role_id))}


@router.get("/roles/{role_id}")
def get_role(role_id: Id, request: Request, manager: Manager, ctxt: Context) -> dict[str, Any]:
    enforce(ctxt, "get_role")
    return {"role": views.role(base_url(request), manager.row(Role, role_id))}


# -- grants and assignments ----------------------------------------------------------------
GRANT = "/projects/{project_id}/users/{user_id}/roles/{role_id}"


def _exists(manager: Manager, project_id: str, user_id: str, role_id: str) -> None:
    """404 unless the project, user and role exist (by id, as keystone's paths take)."""
    manager.row(Project, project_id)
    manager.row(User, user_id)
    manager.row(Role, role_id)


@router.get("/projects/{project_id}/users/{user_id}/roles")
def list_grants(
    project_id: Id, user_id: Id, request: Request, manager: Manager, ctxt: Context
) -> dict[str, Any]:
    enforce(ctxt, "list_grants", project_id=project_id)
    manager.row(Project, project_id)
    manager.row(User, user_id)
    ids = {r for _, _, r in manager.assignments(user_id=user_id, project_id=project_id)}
    items = [views.role(base_url(request), r) for r in manager.rows(Role) if r.id in ids]
    path = f"/v3/projects/{project_id}/users/{user_id}/roles"
    return views.collection(base_url(request), path, "roles", items)


@router.put(GRANT, status_code=204)
def create_grant(project_id: Id, user_id: Id, role_id: Id, manager: Manager, ctxt: Context) -> None:
    enforce(ctxt, "create_grant", project_id=project_id)
    _exists(manager, project_id, user_id, role_id)
    manager.assign_role(user_id, project_id, role_id)


@router.get(GRANT, status_code=204)
@router.head(GRANT, status_code=204)
def check_grant(
    project_id: Id, user_id: Id, role_id: Id, manager: Manager, ctxt: Context
) -> Response:
    enforce(ctxt, "check_grant", project_id=project_id)
    _exists(manager, project_id, user_id, role_id)
    if not manager.has_role(user_id, project_id, role_id):
        raise NotFound(f"Could not find role assignment: {role_id} for {user_id} on {project_id}.")
    return Response(status_code=204)


@router.delete(GRANT, status_code=204)
def revoke_grant(project_id: Id, user_id: Id, role_id: Id, manager: Manager, ctxt: Context) -> None:
    enforce(ctxt, "revoke_grant", project_id=project_id)
    _exists(manager, project_id, user_id, role_id)
    manager.unassign_role(user_id, project_id, role_id)


@router.get("/role_assignments")
def list_role_assignments(
    request: Request,
    manager: Manager,
    ctxt: Context,
    user_id: Annotated[Id | None, Query(alias="user.id")] = None,
    project_id: Annotated[Id | None, Query(alias="scope.project.id")] = None,
    role_id: Annotated[Id | None, Query(alias="role.id")] = None,
    include_names: Annotated[str | None, Query()] = None,
    effective: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Assignments by user, project and role (``effective`` changes nothing: labcloud has
    no groups nor inherited roles)."""
    enforce(ctxt, "list_role_assignments")
    found = manager.assignments(user_id, project_id, role_id)
    names = None
    if include_names is not None and include_names.lower() not in ("0", "false"):
        names = {
            row["id"]: row["name"]
            for model in (User, Project, Role)
            for row in manager.names(model)
        }
    items = [views.assignment(base_url(request), ids, names) for ids in found]
    return views.collection(base_url(request), "/v3/role_assignments", "role_assignments", items)
