"""The L3 agent's nat table for a router as sync_routers describes it (no datapath)."""

from __future__ import annotations

from typing import Any

from labcloud.network.agents.l3_driver import cidrs, fip_statuses, nat_rules

GW = "6a1e0b3c-0f4e-4f0a-9d55-9d0c7f5b1a01"
QG = "qg-" + GW[:11]


def router(*, snat: bool = True, gateway: bool = True, fips: int = 1) -> dict[str, Any]:
    subnet = {"id": "s-int", "cidr": "10.70.0.0/24", "gateway_ip": "10.70.0.1"}
    gw_port = {
        "id": GW,
        "fixed_ips": [{"subnet_id": "s-ext", "ip_address": "203.0.113.9"}],
        "subnets": [{"id": "s-ext", "cidr": "203.0.113.0/24", "gateway_ip": "203.0.113.1"}],
    }
    return {
        "id": "r1",
        "enable_snat": snat,
        "gw_port": gw_port if gateway else None,
        "_interfaces": [
            {
                "id": "p-int",
                "fixed_ips": [{"subnet_id": "s-int", "ip_address": "10.70.0.1"}],
                "subnets": [subnet],
            }
        ],
        "_floatingips": [
            {"id": "f1", "floating_ip_address": "203.0.113.20", "fixed_ip_address": "10.70.0.5"}
        ][:fips],
    }


def test_snat_and_a_floating_ip() -> None:
    rules = nat_rules(router())
    assert f"-A neutron-l3-agent-snat -s 10.70.0.0/24 -o {QG} -j SNAT --to-source 203.0.113.9" in (
        rules
    )
    assert (
        "-A neutron-l3-agent-PREROUTING -d 203.0.113.20/32 -j DNAT --to-destination 10.70.0.5"
        in (rules)
    )
    assert "-A neutron-l3-agent-OUTPUT -d 203.0.113.20/32 -j DNAT --to-destination 10.70.0.5" in (
        rules
    )
    float_snat = "-A neutron-l3-agent-float-snat -s 10.70.0.5/32 -j SNAT --to-source 203.0.113.20"
    # the floating IP's own SNAT is looked at before the router's: its chain comes first
    assert rules.index("-A neutron-l3-agent-snat -j neutron-l3-agent-float-snat") < next(
        i for i, r in enumerate(rules) if "--to-source 203.0.113.9" in r
    )
    assert float_snat in rules


def test_without_snat_only_floating_ips_are_natted() -> None:
    rules = nat_rules(router(snat=False))
    assert not any("--to-source 203.0.113.9" in r for r in rules)
    assert any("--to-source 203.0.113.20" in r for r in rules)


def test_without_a_gateway_nothing_is_natted_and_floating_ips_are_in_error() -> None:
    plain = router(gateway=False)
    assert not any("SNAT" in r or "DNAT" in r for r in nat_rules(plain))
    assert fip_statuses(plain) == {"f1": "ERROR"}
    assert fip_statuses(router()) == {"f1": "ACTIVE"}


def test_a_ports_addresses_carry_their_subnets_prefix() -> None:
    assert cidrs(router()["gw_port"]) == ["203.0.113.9/24"]
