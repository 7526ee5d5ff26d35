"""keystone's REST API: ``/v3`` (tokens, catalog, users, projects, roles) and ``/v2.0/tokens``.

A token is created with a password (or rescoped with a token), validated by any service with
``GET /v3/auth/tokens`` and revoked with ``DELETE``. Other services' tokens arrive in
``X-Auth-Token``; the token being asked about in ``X-Subject-Token``.
"""

# No "from __future__ import annotations" here: FastAPI must see the closures' Depends().
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from labcloud.exceptions import Forbidden, Invalid, NotFound, Unauthorized
from labcloud.identity import views
from labcloud.identity.manager import IdentityManager, TokenInfo
from labcloud.identity.models import Project, Role, User
from labcloud.rest.app import create_app
from labcloud.trace.bus import TraceBus
from labcloud.trace.flow import emit_step

V3 = "v3.14"


class Named(BaseModel):
    id: str | None = None
    name: str | None = None
    domain: "Named | None" = None


class PasswordUser(Named):
    password: str


class PasswordMethod(BaseModel):
    user: PasswordUser


class TokenMethod(BaseModel):
    id: str


class IdentityBody(BaseModel):
    methods: list[str]
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
    username: str
    password: str


class V2Auth(BaseModel):
    passwordCredentials: PasswordCredentials | None = None  # noqa: N815 - keystone's names
    token: TokenMethod | None = None
    tenantName: str | None = None  # noqa: N815
    tenantId: str | None = None  # noqa: N815


class V2AuthRequest(BaseModel):
    auth: V2Auth


def _ref(named: Named | None) -> str | None:
    return None if named is None else (named.id or named.name)


def create_identity_app(manager: IdentityManager, bus: TraceBus | None = None) -> FastAPI:
    app = create_app("labcloud identity (keystone)", "keystone", version=V3)

    def caller(x_auth_token: Annotated[str | None, Header()] = None) -> TokenInfo:
        if not x_auth_token:
            raise Unauthorized("The request you have made requires authentication.")
        try:
            return manager.validate(x_auth_token)
        except NotFound:
            raise Unauthorized("The request you have made requires authentication.") from None

    def admin(info: Annotated[TokenInfo, Depends(caller)]) -> TokenInfo:
        if "admin" not in {name for _, name in info.roles}:
            raise Forbidden(
                "You are not authorized to perform the requested action: admin_required."
            )
        return info

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.get("/")
    def versions(request: Request) -> JSONResponse:
        values = [
            views.version(base(request), V3, "stable"),
            views.version(base(request), "v2.0", "deprecated"),
        ]
        return JSONResponse({"versions": {"values": values}}, status_code=300)

    @app.get("/v3")
    @app.get("/v3/")
    def v3(request: Request) -> dict[str, Any]:
        return {"version": views.version(base(request), V3, "stable")}

    @app.get("/v2.0")
    @app.get("/v2.0/")
    def v2(request: Request) -> dict[str, Any]:
        return {"version": views.version(base(request), "v2.0", "deprecated")}

    @app.post("/v3/auth/tokens", status_code=201)
    def issue(body: AuthRequest, response: Response, nocatalog: str | None = None) -> Any:
        emit_step(bus, 1)
        ident, scope = body.auth.identity, body.auth.scope
        project = _ref(scope.project) if scope else None
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
        emit_step(bus, 2)
        return views.token_v3(info, None if nocatalog is not None else manager.catalog())

    @app.get("/v3/auth/tokens")
    def validate(
        response: Response,
        asker: Annotated[TokenInfo, Depends(caller)],
        x_subject_token: Annotated[str, Header()],
        nocatalog: str | None = None,
    ) -> Any:
        # a token validating itself (what services do) was just checked by ``caller``
        info = asker if x_subject_token == asker.id else manager.validate(x_subject_token)
        response.headers["X-Subject-Token"] = info.id
        return views.token_v3(info, None if nocatalog is not None else manager.catalog())

    @app.head("/v3/auth/tokens", status_code=200)
    def check(
        _: Annotated[TokenInfo, Depends(caller)], x_subject_token: Annotated[str, Header()]
    ) -> None:
        manager.validate(x_subject_token)

    @app.delete("/v3/auth/tokens", status_code=204)
    def revoke(
        _: Annotated[TokenInfo, Depends(caller)], x_subject_token: Annotated[str, Header()]
    ) -> None:
        manager.revoke(x_subject_token)

    @app.get("/v3/auth/catalog")
    def catalog(_: Annotated[TokenInfo, Depends(caller)]) -> dict[str, Any]:
        return {"catalog": manager.catalog()}

    @app.post("/v2.0/tokens")
    def issue_v2(body: V2AuthRequest) -> dict[str, Any]:
        emit_step(bus, 1)
        auth = body.auth
        project = auth.tenantId or auth.tenantName
        if auth.passwordCredentials:
            creds = auth.passwordCredentials
            info = manager.authenticate(creds.username, creds.password, project)
        elif auth.token:
            info = manager.rescope(auth.token.id, project)
        else:
            raise Invalid("Expecting passwordCredentials or token in auth.")
        emit_step(bus, 2)
        return views.access_v2(info, manager.catalog())

    listing = {"users": User, "projects": Project, "roles": Role}
    for collection, model in listing.items():

        def make(model: Any = model, collection: str = collection) -> Any:
            def list_all(_: Annotated[TokenInfo, Depends(admin)]) -> dict[str, Any]:
                return {collection: manager.names(model)}

            return list_all

        app.get(f"/v3/{collection}", name=f"list_{collection}")(make())

    return app
