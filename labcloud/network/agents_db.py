"""neutron's agents table: each agent's ``report_state`` (a call on ``q-reports-plugin``
every ``report_interval``) creates or refreshes its row; an agent silent for longer than
``agent_down_time`` is shown dead (``alive: false``, ``XXX`` in ``openstack network agent
list``). neutron's defaults are 30 s and 75 s; a lab may run the clock faster."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select

from labcloud.db import Database
from labcloud.exceptions import NotFound
from labcloud.network.models import Agent

AGENT_DOWN_TIME = 75.0  # seconds, neutron's [DEFAULT] agent_down_time
REPORT_INTERVAL = 30.0  # seconds, neutron's [AGENT] report_interval

LINUXBRIDGE = ("Linux bridge agent", "neutron-linuxbridge-agent")
DHCP = ("DHCP agent", "neutron-dhcp-agent")
L3 = ("L3 agent", "neutron-l3-agent")
AGENTS: Table = Agent.__table__  # type: ignore[assignment]  # a Table, typed FromClause


class AgentNotFound(NotFound):
    msg_fmt = "Agent %(id)s could not be found."


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class AgentsDb:
    def __init__(self, db: Database, down_time: float = AGENT_DOWN_TIME) -> None:
        self.db = db
        self.down_time = down_time
        # three columns, not the agents' rows, in a Core statement built once:
        # neutron-server asks for the DHCP agents for every port it creates
        self._hosts = select(AGENTS.c.host, AGENTS.c.admin_state_up, AGENTS.c.heartbeat_timestamp)
        self._hosts = self._hosts.where(AGENTS.c.agent_type == bindparam("agent_type"))

    def report_state(self, agent_state: dict[str, Any]) -> str:
        """Create or refresh the agent's row; ``start_flag`` marks a (re)start."""
        now = utcnow()
        with self.db.session() as s:
            row = s.scalar(
                select(Agent).where(
                    Agent.agent_type == agent_state["agent_type"],
                    Agent.host == agent_state["host"],
                )
            )
            if row is None:
                row = Agent(
                    id=str(uuid.uuid4()),
                    agent_type=agent_state["agent_type"],
                    host=agent_state["host"],
                    created_at=now,
                    started_at=now,
                )
                s.add(row)
            row.binary = agent_state["binary"]
            row.topic = agent_state.get("topic", "N/A")
            row.availability_zone = agent_state.get("availability_zone")
            row.configurations = dict(agent_state.get("configurations", {}))
            row.heartbeat_timestamp = now
            if agent_state.get("start_flag"):
                row.started_at = now
        return "alive"  # neutron answers agent_consts.AGENT_ALIVE

    def is_up(self, row: Agent) -> bool:
        return self._beats(row.heartbeat_timestamp)

    def _beats(self, heartbeat: datetime) -> bool:
        return (utcnow() - heartbeat).total_seconds() <= self.down_time

    def list_agents(self, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            rows = [self._view(a) for a in s.scalars(select(Agent).order_by(Agent.host))]
        wanted = filters or {}
        return [
            r for r in rows if all(str(r.get(k)).lower() == v.lower() for k, v in wanted.items())
        ]

    def get_agent(self, agent_id: str) -> dict[str, Any]:
        found = self.list_agents({"id": agent_id})
        if not found:
            raise AgentNotFound(id=agent_id)
        return found[0]

    def delete_agent(self, agent_id: str) -> None:
        with self.db.session() as s:
            row = s.get(Agent, agent_id)
            if row is None:
                raise AgentNotFound(id=agent_id)
            s.delete(row)

    def hosts(
        self, agent_type: str, alive_only: bool = True, c: Connection | None = None
    ) -> list[str]:
        """Hosts with an agent of this type (alive ones only, by default), read on ``c``
        (the caller's read transaction) or in a new one."""
        if c is None:
            with self.db.read() as c:
                return self.hosts(agent_type, alive_only, c)
        rows = c.execute(self._hosts, {"agent_type": agent_type}).all()
        return sorted(
            host for host, up, beat in rows if up and (self._beats(beat) or not alive_only)
        )

    def _view(self, a: Agent) -> dict[str, Any]:
        stamp = "%Y-%m-%d %H:%M:%S"  # neutron's format for these three
        return {
            "id": a.id,
            "agent_type": a.agent_type,
            "binary": a.binary,
            "topic": a.topic,
            "host": a.host,
            "admin_state_up": a.admin_state_up,
            "alive": self.is_up(a),
            "availability_zone": a.availability_zone,
            "configurations": a.configurations,
            "created_at": a.created_at.strftime(stamp),
            "started_at": a.started_at.strftime(stamp),
            "heartbeat_timestamp": a.heartbeat_timestamp.strftime(stamp),
            "description": a.description,
            "resources_synced": None,
        }
