"""Who is asking keystone: the caller's token (``X-Auth-Token``) as a request context, and
the shared policy layer (labcloud.policy) deciding what that context may do.

The app keeps its manager and trace bus in ``app.state``; routers reach them through the
dependencies here, so every router is a plain module-level ``APIRouter``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from labcloud.context import RequestContext
from labcloud.exceptions import NotFound, Unauthorized
from labcloud.identity.manager import IdentityManager, TokenInfo
from labcloud.policy import authorize
from labcloud.rest.auth import current_request_id
from labcloud.trace.bus import TraceBus


def manager_of(request: Request) -> IdentityManager:
    found: IdentityManager = request.app.state.identity
    return found


def bus_of(request: Request) -> TraceBus | None:
    found: TraceBus | None = request.app.state.bus
    return found


Manager = Annotated[IdentityManager, Depends(manager_of)]
Bus = Annotated[TraceBus | None, Depends(bus_of)]


def caller(manager: Manager, x_auth_token: Annotated[str | None, Header()] = None) -> TokenInfo:
    """The caller's token, validated; 401 without one or with one keystone refuses."""
    if not x_auth_token:
        raise Unauthorized("The request you have made requires authentication.")
    try:
        return manager.validate(x_auth_token)
    except NotFound:
        raise Unauthorized("The request you have made requires authentication.") from None


Caller = Annotated[TokenInfo, Depends(caller)]


def context(info: Caller) -> RequestContext:
    return RequestContext(
        user_id=info.user_id,
        project_id=info.project_id,
        user_name=info.user_name,
        project_name=info.project_name,
        roles=tuple(name for _, name in info.roles),
        auth_token=info.id,
        request_id=current_request_id() or RequestContext().request_id,
    )


Context = Annotated[RequestContext, Depends(context)]


def enforce(ctxt: RequestContext, action: str, **target: Any) -> None:
    """keystone's ENFORCER.enforce_call: 403 unless ``identity:<action>`` allows it."""
    authorize(ctxt, f"identity:{action}", target or {"project_id": ctxt.project_id})


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
