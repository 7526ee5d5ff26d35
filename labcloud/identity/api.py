"""keystone's REST API: ``/v3`` (tokens, catalog, users, projects, roles, assignments,
services, endpoints) and ``/v2.0/tokens``.

A token is created with a password (or rescoped with a token), validated by a service with
``GET /v3/auth/tokens`` and revoked with ``DELETE`` (a revocation event by audit id). The
caller's token arrives in ``X-Auth-Token``, the token being asked about in
``X-Subject-Token``; as keystone's default policy says, only an admin, a service or the
token's own user may ask about a token. One router per resource: this module serves the
version documents and tokens, accounts.py the users, projects, roles and assignments,
catalog.py the services and endpoints.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

from labcloud.exceptions import Forbidden, Invalid, NotFound, Unauthorized
from labcloud.identity import accounts, catalog, views
from labcloud.identity.auth import Bus, Caller, Context, Manager, base_url
from labcloud.identity.manager import IdentityManager, TokenInfo
from labcloud.identity.schemas import AuthRequest, Named, V2AuthRequest
from labcloud.policy import authorize
from labcloud.rest.app import create_app, include_routes
from labcloud.rest.auth import current_request_id
from labcloud.trace.bus import TraceBus
from labcloud.trace.flow import flow_step

V3 = "v3.14"
SERVICE_PROJECT = "service"  # where the services' own users live, as in DevStack
SERVICE_ROLE = "service"
# the compute service's user: keystone answering its validations is the seed's step 5
NOVA_USER = "nova"

router = APIRouter()


def _ref(named: Named | None) -> str | None:
    return None if named is None else (named.id or named.name)


def _about(manager: IdentityManager, asker: TokenInfo, subject: str, ctxt: Any) -> TokenInfo:
    """The subject token, when ``asker`` may see it (identity:validate_token: an admin, a
    service, or the subject token's own user)."""
    if authorize(ctxt, "identity:validate_token", fatal=False):
        return asker if subject == asker.id else manager.validate(subject)
    try:
        info = asker if subject == asker.id else manager.validate(subject)
    except NotFound:
        info = None
    if info is None or info.user_id != asker.user_id:
        raise Forbidden(
            "You are not authorized to perform the requested action: identity:validate_token."
        )
    return info


def _login_steps(bus: TraceBus | None, project: str | None) -> None:
    """Steps 1-2, before the credentials are checked (a service's own login is not one)."""
    if project != SERVICE_PROJECT:
        flow_step(bus, 1, current_request_id())
        flow_step(bus, 2, current_request_id())


@router.get("/")
def versions(request: Request) -> JSONResponse:
    values = [
        views.version(base_url(request), V3, "stable"),
        views.version(base_url(request), "v2.0", "deprecated"),
    ]
    return JSONResponse({"versions": {"values": values}}, status_code=300)


@router.get("/v3")
@router.get("/v3/")
def v3(request: Request) -> dict[str, Any]:
    return {"version": views.version(base_url(request), V3, "stable")}


@router.get("/v2.0")
@router.get("/v2.0/")
def v2(request: Request) -> dict[str, Any]:
    return {"version": views.version(base_url(request), "v2.0", "deprecated")}


@router.post("/v3/auth/tokens", status_code=201)
def issue(
    body: AuthRequest, response: Response, manager: Manager, bus: Bus, nocatalog: str | None = None
) -> Any:
    ident, scope = body.auth.identity, body.auth.scope
    project = _ref(scope.project) if scope else None
    _login_steps(bus, project)
    if "password" in ident.methods and ident.password:
        user = ident.password.user
        ref = user.id or user.name
        if not ref:
            raise Invalid("Expecting to find id or name in user.")
        info = manager.authenticate(ref, user.password, project)
    elif "token" in ident.methods and ident.token:
        try:
            info = manager.rescope(ident.token.id, project)
        except NotFound:
            raise Unauthorized("The token to rescope is not valid.") from None
    else:
        raise Invalid("Expecting a password or token method with its credentials.")
    response.headers["X-Subject-Token"] = info.id
    return views.token_v3(info, None if nocatalog is not None else manager.catalog())


@router.get("/v3/auth/tokens")
def validate(
    response: Response,
    manager: Manager,
    bus: Bus,
    asker: Caller,
    ctxt: Context,
    x_subject_token: Annotated[str, Header()],
    nocatalog: str | None = None,
) -> Any:
    if asker.user_name == NOVA_USER:
        flow_step(bus, 5, current_request_id())
    info = _about(manager, asker, x_subject_token, ctxt)
    response.headers["X-Subject-Token"] = info.id
    return views.token_v3(info, None if nocatalog is not None else manager.catalog())


@router.head("/v3/auth/tokens", status_code=200)
def check(
    manager: Manager, asker: Caller, ctxt: Context, x_subject_token: Annotated[str, Header()]
) -> None:
    _about(manager, asker, x_subject_token, ctxt)


@router.delete("/v3/auth/tokens", status_code=204)
def revoke(
    manager: Manager, asker: Caller, ctxt: Context, x_subject_token: Annotated[str, Header()]
) -> None:
    _about(manager, asker, x_subject_token, ctxt)
    manager.revoke(x_subject_token)


@router.get("/v3/auth/catalog")
def auth_catalog(manager: Manager, _: Caller) -> dict[str, Any]:
    return {"catalog": manager.catalog()}


@router.post("/v2.0/tokens")
def issue_v2(body: V2AuthRequest, manager: Manager, bus: Bus) -> dict[str, Any]:
    auth = body.auth
    project = auth.tenantId or auth.tenantName
    _login_steps(bus, project)
    if auth.passwordCredentials:
        creds = auth.passwordCredentials
        info = manager.authenticate(creds.username, creds.password, project)
    elif auth.token:
        try:
            info = manager.rescope(auth.token.id, project)
        except NotFound:
            raise Unauthorized("The token to rescope is not valid.") from None
    else:
        raise Invalid("Expecting passwordCredentials or token in auth.")
    return views.access_v2(info, manager.catalog())


def create_identity_app(manager: IdentityManager, bus: TraceBus | None = None) -> FastAPI:
    app = create_app("labcloud identity (keystone)", "keystone", version=V3)
    app.state.identity = manager
    app.state.bus = bus
    for module_router in (router, accounts.router, catalog.router):
        include_routes(app, module_router)
    return app
