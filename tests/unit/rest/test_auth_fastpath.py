"""A token found in a service's cache is taken on the event loop only while nobody follows
the validation step; followed, it is validated in a worker thread and reported as cached."""

from __future__ import annotations

from labcloud.rest.auth import AuthInfo, KeystoneValidator, TokenCache
from labcloud.rest.client import ServiceClient
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import StepEvent

INFO = AuthInfo("tok", "u1", "demo", "p1", "demo", ("member",), "2099-01-01T00:00:00Z")


def validator(bus: TraceBus) -> KeystoneValidator:
    cache = TokenCache()
    cache.put(INFO)
    identity = ServiceClient("http://127.0.0.1:9", source="glance-api", target="keystone")
    return KeystoneValidator(identity, cache, bus=bus, service="glance-api")


def test_a_cached_token_is_taken_at_once_when_nobody_follows_the_step() -> None:
    v = validator(TraceBus())
    assert v.cached("tok") == INFO
    assert v.cached("unknown") is None  # not cached: validate() asks keystone


def test_a_followed_validation_step_is_reported_even_for_a_cached_token() -> None:
    bus = TraceBus()
    v = validator(bus)
    steps = bus.collect(where=lambda e: isinstance(e, StepEvent))
    assert v.cached("tok") is None  # someone follows step 20: no shortcut
    assert v.validate("tok") == INFO
    assert [(s.step, s.cached) for s in steps] == [(20, True)]
    steps.close()
