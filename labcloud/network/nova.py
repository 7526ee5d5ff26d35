"""neutron-server telling nova about instances' ports (neutron/notifiers/nova.py).

When a port of an instance (device_owner ``compute:*``, device_id its uuid) changes status,
neutron posts to nova's ``/os-server-external-events``, as its own service user, at the URL
of keystone's catalog: ``network-vif-plugged`` when it goes DOWN/BUILD (or new) → ACTIVE
(``completed``) or → ERROR (``failed``), ``network-vif-unplugged`` when it goes ACTIVE →
DOWN, and ``network-vif-deleted`` when it is deleted. A port taken back from its instance
(device_id cleared) is no longer an instance's when neutron looks, so nothing is sent, as in
neutron. Events are batched as neutron's BatchNotifier does: an event queued when nothing is
being sent leaves at once, then the sender holds for ``send_events_interval``, and every event
queued meanwhile leaves in one request after it. labcloud leaves out ``network-changed``
(nova's info cache refresh on other port updates).

One code path serves every datapath: without agents a port is ACTIVE at once and its
network-vif-plugged leaves then (nova, which saw it ACTIVE, does not wait for it); with
agents it leaves when the port's last provisioning block is gone (provisioning_blocks.py:
its L2 agent has plugged it and the DHCP agent's dnsmasq knows it).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from labcloud.rest.auth import ServiceToken
from labcloud.rest.client import ServiceClient

LOG = logging.getLogger(__name__)
VIF_PLUGGED = "network-vif-plugged"
VIF_UNPLUGGED = "network-vif-unplugged"
VIF_DELETED = "network-vif-deleted"
STATUS_MAP = {"ACTIVE": "completed", "ERROR": "failed", "DOWN": "completed"}
SEND_EVENTS_INTERVAL = 2.0  # neutron's [DEFAULT] send_events_interval


class NovaClient:
    """nova's API as neutron uses it (python-novaclient's server_external_events)."""

    def __init__(self, http: ServiceClient, token: ServiceToken) -> None:
        self.http, self.token = http, token

    def close(self) -> None:
        self.http.close()
        self.token.identity.close()

    def server_external_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each event with nova's ``code``; [] when nova found none of their servers (404)."""
        answer = self.http.post(
            "/v2.1/os-server-external-events",
            json={"events": events},
            token=self.token.get(),
            user=self.token.credentials.user,
            request_id=f"req-{uuid.uuid4()}",
        )
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return list(answer.json()["events"])


def is_compute_port(port: dict[str, Any]) -> bool:
    return bool(port.get("device_id")) and str(port.get("device_owner", "")).startswith("compute:")


def status_event(port: dict[str, Any], previous: str | None, current: str) -> dict[str, Any] | None:
    """The event a status change of ``port`` means to nova (None: nothing); ``previous``
    None is a new port (neutron's NO_VALUE)."""
    if not is_compute_port(port):
        return None
    if previous == "ACTIVE" and current == "DOWN":
        name = VIF_UNPLUGGED
    elif previous in (None, "DOWN", "BUILD") and current in ("ACTIVE", "ERROR"):
        name = VIF_PLUGGED
    else:
        return None
    return {
        "server_uuid": port["device_id"],
        "name": name,
        "status": STATUS_MAP[current],
        "tag": port["id"],
    }


class NovaNotifier:
    """neutron's nova Notifier, with its BatchNotifier; ``stop()`` drops what is queued."""

    def __init__(self, nova: NovaClient, interval: float = SEND_EVENTS_INTERVAL) -> None:
        self.nova, self.interval = nova, interval
        self._lock = threading.Lock()
        self._queue: list[dict[str, Any]] = []
        self._sender: threading.Thread | None = None  # while one sends or holds
        self._stopping = threading.Event()

    def port_status_changed(self, port: dict[str, Any], previous: str | None, current: str) -> None:
        event = status_event(port, previous, current)
        if event is not None:
            self.queue_event(event)

    def port_deleted(self, port: dict[str, Any]) -> None:
        if is_compute_port(port):
            self.queue_event(
                {"server_uuid": port["device_id"], "name": VIF_DELETED, "tag": port["id"]}
            )

    def queue_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._queue.append(event)
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_batches, name="neutron-nova-notifier", daemon=True
                )
                self._sender.start()

    def _send_batches(self) -> None:
        """neutron's synced_send: what is queued leaves now; holding ``interval`` after each
        request lets the events queued meanwhile batch up for the next one."""
        while True:
            with self._lock:
                events, self._queue = self._queue, []
                if not events or self._stopping.is_set():
                    self._sender = None
                    return
            self._send(events)
            self._stopping.wait(self.interval)

    def _send(self, events: list[dict[str, Any]]) -> None:
        try:
            answered = self.nova.server_external_events(events)
        except Exception:  # neutron logs it and goes on: nova may be down
            LOG.exception("failed to notify nova on events: %s", events)
            return
        for event in answered:
            if event.get("code") != 200:
                LOG.warning("nova event %s returned with failed status", event)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            sender = self._sender
            self._queue.clear()
        if sender is not None and sender is not threading.current_thread():
            sender.join(10)
        self.nova.close()
