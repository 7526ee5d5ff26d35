"""``/v2.0/agents``: what ``openstack network agent list`` shows (admin only, by policy)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from labcloud import policy
from labcloud.network.agents_db import AgentNotFound
from labcloud.network.api.deps import Ctxt, Filters, NeutronPlugin, resource_id
from labcloud.network.schemas.types import View

router = APIRouter(prefix="/v2.0/agents", tags=["agents"])
AgentId = Annotated[str, Depends(resource_id(lambda i: AgentNotFound(id=i)))]


class AgentView(View):
    id: str
    agent_type: str
    binary: str
    host: str
    admin_state_up: bool
    alive: bool


class OneAgent(View):
    agent: AgentView


class Agents(View):
    agents: list[AgentView]


class AgentFilters(Filters):
    agent_type: str | None = None
    host: str | None = None


@router.get("", response_model=Agents)
def list_agents(
    ctxt: Ctxt, plugin: NeutronPlugin, query: Annotated[AgentFilters, Query()]
) -> object:
    policy.authorize(ctxt, "get_agent")
    filters = {k: v[-1] if isinstance(v, list) else v for k, v in query.filters().items()}
    return {"agents": plugin.agents.list_agents(filters)}


@router.get("/{ident}", response_model=OneAgent)
def show_agent(ident: AgentId, ctxt: Ctxt, plugin: NeutronPlugin) -> object:
    policy.authorize(ctxt, "get_agent")
    return {"agent": plugin.agents.get_agent(ident)}


@router.delete("/{ident}", status_code=204)
def delete_agent(ident: AgentId, ctxt: Ctxt, plugin: NeutronPlugin) -> None:
    policy.authorize(ctxt, "delete_agent")
    plugin.agents.delete_agent(ident)
