"""nova-api taking events about instances from other services (nova's
ServerExternalEventsController and ``compute.API.external_instance_event``).

neutron posts ``network-vif-plugged`` (tag: the port id) when an instance's port goes ACTIVE;
nova-api finds each event's instance and the host it is on, and casts
``external_instance_event`` to that nova-compute, with the instances and events for it. An
event answers 200 once cast, 404 when its instance does not exist, 422 when the instance has
no host yet (nothing could take it); the whole answer is 207 when they differ, and 404 when
no event found its instance, as nova's does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from labcloud.compute.instances import Instances
from labcloud.compute.rpcapi import ComputeAPI
from labcloud.context import RequestContext
from labcloud.exceptions import NotFound


def _hosts(instance: dict[str, Any]) -> set[str]:
    """Where an instance's events go: its host, and both ends of a resize under way
    (nova's ``_get_relevant_hosts``)."""
    hosts = {instance["host"]}
    migration = instance.get("migration") or {}
    hosts |= {migration[k] for k in ("source_compute", "dest_compute") if migration.get(k)}
    return hosts


def create_events(
    instances: Instances,
    compute: ComputeAPI,
    ctxt: RequestContext,
    events: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], int]:
    """(each event with its ``status`` and ``code``, the answer's status code)."""
    found = instances.get_many({e["server_uuid"] for e in events})
    answer, result = [], 200
    by_host: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        shown = dict(event)
        instance = found.get(event["server_uuid"])
        if instance is None or not instance["host"]:
            shown |= {"status": "failed", "code": 404 if instance is None else 422}
            result = 207
        else:
            shown |= {"status": "completed", "code": 200}  # nova's answer: accepted
            for host in _hosts(instance):
                by_host[host].append({"status": "completed"} | event)
        answer.append(shown)
    if not by_host:
        raise NotFound("No instances found for any event")
    for host, host_events in by_host.items():
        uuids = {e["server_uuid"] for e in host_events}
        compute.external_instance_event(ctxt, host, [found[u] for u in uuids], host_events)
    return answer, result
