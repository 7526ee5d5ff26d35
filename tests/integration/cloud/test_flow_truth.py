"""The flow shows what happened, when it happened, in the service that did it.

A validation answered from a service's cache is a cached step and no request to keystone; a
step is reported before its work (a breakpoint on it stops before); each boot's steps are its
own, tied by instance uuid or request id, never by timing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.spec import CloudSpec
from labcloud.trace.events import HttpEvent, MessageEvent, PauseEvent, StepEvent
from labcloud.trace.flow import FlowRecorder
from tests.integration.cloud.test_boot_flow import Client, in_seed_order

VALIDATIONS = (4, 20, 23, 26)


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo()) as c:
        yield c


def keystone_validations(cloud: LabCloud) -> Any:
    """GET /v3/auth/tokens requests keystone answered, as their callers saw them."""
    return cloud.bus.collect(
        where=lambda e: (
            isinstance(e, HttpEvent)
            and e.target == "keystone"
            and e.method == "GET"
            and "/v3/auth/tokens" in e.url
        )
    )


def test_a_second_boot_with_the_same_token_finds_it_in_every_cache(cloud: LabCloud) -> None:
    flow = FlowRecorder(cloud.bus)
    first = cloud.boot("vm1")
    first.wait("ACTIVE")
    token = cloud.login("demo")
    warm = cloud.boot("vm2", token=token)  # nova-api, glance and neutron validate it once
    warm.wait("ACTIVE")
    asked = keystone_validations(cloud)
    second = cloud.boot("vm3", token=token)
    second.wait("ACTIVE")
    steps = flow.steps_of(second.server_id)
    validations = [s for s in steps if s.step in VALIDATIONS]
    assert [s.step for s in validations] == [4, 20, 23, 20, 23]
    assert all(s.cached for s in validations)
    assert all("cache" in s.what for s in validations)
    assert 5 not in [s.step for s in steps]  # keystone never confirmed anything
    assert 1 not in [s.step for s in steps]  # and no login: the token was reused
    assert list(asked) == []  # keystone received no validation request at all
    # the first boot's own token was new to nova-api: keystone was asked (4, then 5)
    first_steps = [(s.step, s.cached) for s in flow.steps_of(first.server_id)]
    assert first_steps[:5] == [(1, False), (2, False), (3, False), (4, False), (5, False)]
    asked.close()
    flow.close()


def test_two_users_booting_at_once_each_get_their_own_flow(cloud: LabCloud) -> None:
    flow = FlowRecorder(cloud.bus)
    held = cloud.bus.collect(where=lambda e: isinstance(e, PauseEvent) and e.event == "paused")
    cloud.stepper.break_on(step=3)  # both have logged in before either reaches nova-api
    boots = {user: cloud.boot(f"vm-{user}", user=user) for user in ("demo", "admin")}
    held.wait_for(lambda e: len(held) == 2)
    cloud.stepper.clear()
    flows = {}
    for user, boot in boots.items():
        boot.wait("ACTIVE")
        flows[user] = flow.steps_of(boot.server_id)
    ids = {user: {s.request_id for s in steps} for user, steps in flows.items()}
    for user, steps in flows.items():
        assert len(ids[user]) == 1, (user, ids[user])  # one request: login and boot
        assert in_seed_order([s.step for s in steps]) == [*range(1, 25), 28]
        assert [s.step for s in steps].count(1) == 1  # its own login, and only that
        assert all(s.instance_uuid in ("", boots[user].server_id) for s in steps)
    assert ids["demo"].isdisjoint(ids["admin"])
    held.close()
    flow.close()


class KeystoneSpy:
    """The tokens keystone's manager was asked to validate, as it is asked."""

    def __init__(self, cloud: LabCloud) -> None:
        self.manager = cloud.identity.manager
        self.original = self.manager.validate
        self.asked: list[str] = []
        self.manager.validate = self._validate  # type: ignore[method-assign]

    def _validate(self, token_id: str) -> Any:
        self.asked.append(token_id)
        return self.original(token_id)

    def close(self) -> None:
        self.manager.validate = self.original  # type: ignore[method-assign]


def test_a_breakpoint_on_step_4_stops_before_keystone_is_asked(cloud: LabCloud) -> None:
    client = Client(cloud)
    client.image_id()  # glance knows the token: the boot's image lookup asks nobody
    spy = KeystoneSpy(cloud)
    asked = keystone_validations(cloud)
    steps = cloud.bus.collect(where=lambda e: isinstance(e, StepEvent))
    cloud.stepper.break_on(step=4)
    boot = cloud.boot("vm1", token=client.token)
    pause = cloud.stepper.wait_paused()
    assert (pause.event.step, pause.event.cached, pause.service) == (4, False, "nova-api")
    rid = pause.event.request_id
    assert client.token not in spy.asked  # keystone has not seen the token
    assert [e for e in asked if e.request_id == rid] == []
    assert [s.step for s in steps if s.request_id == rid] == [3, 4]
    cloud.stepper.clear()
    boot.wait("ACTIVE")
    assert client.token in spy.asked
    (validation,) = [e for e in asked if e.source == "nova-api" and e.request_id == rid]
    assert validation.status == 200
    spy.close()
    asked.close()
    steps.close()


def test_step_5_is_keystone_answering_in_its_own_thread(cloud: LabCloud) -> None:
    threads: dict[int, int] = {}

    def note(event: StepEvent) -> None:
        threads.setdefault(event.step, threading.get_ident())

    sub = cloud.bus.subscribe(note, where=lambda e: isinstance(e, StepEvent))
    asked = keystone_validations(cloud)
    cloud.stepper.break_on(step=5)
    boot = cloud.boot("vm1")
    pause = cloud.stepper.wait_paused()
    rid = pause.event.request_id
    assert (pause.event.step, pause.service) == (5, "keystone")
    assert threads[5] != threads[4]  # not nova-api's thread, which waits for the answer
    assert [e for e in asked if e.request_id == rid] == []  # nova-api has no answer yet
    cloud.stepper.clear()
    boot.wait("ACTIVE")
    # nova-api's validation, then neutron's (nova-api checking the network, step 23)
    assert [e.source for e in asked if e.request_id == rid] == ["nova-api", "neutron-server"]
    sub.close()
    asked.close()


def test_steps_9_to_11_are_the_schedulers_receiving_deciding_and_answering(
    cloud: LabCloud,
) -> None:
    events = cloud.bus.collect(
        where=lambda e: (
            (isinstance(e, StepEvent) and e.step in (8, 9, 10, 11, 12))
            or (isinstance(e, MessageEvent) and e.service in ("nova-scheduler", "nova-conductor"))
        )
    )
    cloud.stepper.break_on(step=10)
    boot = cloud.boot("vm1")
    pause = cloud.stepper.wait_paused()
    assert pause.service == "nova-scheduler"

    def seen(what: Any) -> list[Any]:
        return [e for e in events if what(e)]

    call = seen(lambda e: isinstance(e, MessageEvent) and e.method == "select_destinations")
    assert [e.event for e in call if e.service == "nova-scheduler"][:1] == ["deliver"]
    replies = seen(lambda e: e.service == "nova-scheduler" and getattr(e, "kind", "") == "reply")
    assert replies == []  # the scheduler has not answered
    cloud.stepper.clear()
    boot.wait("ACTIVE")
    order = [
        f"step {e.step}" if isinstance(e, StepEvent) else f"{e.service} {e.event} {e.kind}"
        for e in events
        if isinstance(e, StepEvent) or e.method == "select_destinations" or e.kind == "reply"
    ]
    delivered = order.index("nova-scheduler deliver call")
    replied = next(i for i, o in enumerate(order) if o.startswith("nova-scheduler publish reply"))
    assert delivered < order.index("step 9") < order.index("step 10")
    assert order.index("step 10") < order.index("step 11") < replied < order.index("step 12")
    events.close()


def test_only_an_admin_a_service_or_its_holder_may_ask_about_a_token(cloud: LabCloud) -> None:
    demo, admin = cloud.login("demo"), cloud.login("admin")
    url = cloud.urls["identity"] + "/v3/auth/tokens"

    def ask(asker: str, subject: str) -> int:
        headers = {"X-Auth-Token": asker, "X-Subject-Token": subject}
        return httpx.get(url, headers=headers).status_code

    assert ask(demo, demo) == 200
    assert ask(admin, demo) == 200
    assert ask(demo, admin) == 403
    assert httpx.head(
        url, headers={"X-Auth-Token": demo, "X-Subject-Token": admin}
    ).status_code == (403)
    gone = httpx.delete(url, headers={"X-Auth-Token": demo, "X-Subject-Token": admin})
    assert gone.status_code == 403
    assert ask(admin, admin) == 200  # still valid


def test_a_service_whose_own_token_was_revoked_logs_in_again(
    cloud: LabCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labcloud.identity.manager import TokenInfo

    manager = cloud.identity.manager
    issued: list[TokenInfo] = []  # keystone stores no token (Fernet): watch it issue them
    real_issue = manager.issue

    def issue(user_id: str, project: str | None, **kw: Any) -> TokenInfo:
        issued.append(real_issue(user_id, project, **kw))
        return issued[-1]

    monkeypatch.setattr(manager, "issue", issue)

    def novas_tokens() -> list[TokenInfo]:
        return [t for t in issued if t.user_name == "nova"]

    servers = cloud.urls["compute"] + "/v2.1/servers"
    assert httpx.get(servers, headers={"X-Auth-Token": cloud.login("demo")}).status_code == 200
    (own,) = novas_tokens()  # nova-api logged in once to validate the user's token
    manager.revoke(own.id)
    fresh = cloud.login("demo")  # not in nova-api's cache: keystone must be asked again
    assert httpx.get(servers, headers={"X-Auth-Token": fresh}).status_code == 200
    assert len(novas_tokens()) == 2  # refused (401) with the revoked one, it logged in again


def test_waiting_for_a_state_looks_at_the_current_state_first() -> None:
    """A wait begun after the server got there returns at once (watch-and-step's Continue
    pressed before the next cell runs); one that cannot come says what the server is."""
    with LabCloud() as cloud:
        boot = cloud.boot("early")
        boot.wait("ACTIVE")
        assert cloud.wait_for(boot.server_id, "ACTIVE", timeout=5) == "ACTIVE"
        with pytest.raises(TimeoutError, match="was ACTIVE"):
            cloud.wait_for(boot.server_id, "ERROR", timeout=0.2)


def test_each_step_names_the_host_and_process_that_did_it(cloud: LabCloud) -> None:
    """nova-compute's steps (13, 14, 18, 19, 21, 22, 24, 28: no volume) name the compute
    host the instance landed on; the controller's services (the conductor's 15-17, the token
    checks) run in this process, on this machine; the client's steps name no host."""
    flow = FlowRecorder(cloud.bus)
    client = Client(cloud)
    uuid = client.boot()
    flow.wait_for_state(uuid, "ACTIVE")
    landed = client.server(uuid)["OS-EXT-SRV-ATTR:host"]
    steps = flow.steps_of(uuid)
    compute = [s for s in steps if s.service == "nova-compute"]
    assert {s.step for s in compute} == {13, 14, 18, 19, 21, 22, 24, 28}
    assert {s.host for s in compute} == {landed}
    others = {(s.service, s.host) for s in steps if s.service not in ("nova-compute", "client")}
    assert {host for _, host in others} == {cloud.origin.host}
    assert "nova-conductor" in {service for service, _ in others}
    assert {s.host for s in steps if s.service == "client"} == {""}
    assert {s.process for s in steps} == {cloud.origin.process}  # the kernel's one process
    flow.close()
