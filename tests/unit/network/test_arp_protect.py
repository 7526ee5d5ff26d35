"""The ebtables chains against MAC and ARP spoofing (neutron's arp_protect): a filtered
port's frames must carry its MAC, its ARP packets one of its addresses with that MAC."""

from __future__ import annotations

from typing import Any

from labcloud.network.agents.arp_protect import DISPATCH, mac_ip_pairs, port_chains, ruleset

TAP = "tap0123456789a"


def port(**kw: Any) -> dict[str, Any]:
    return {
        "mac_address": "FA:16:3E:00:00:01",
        "fixed_ips": ["10.0.0.5", "fd00::5"],
        "device_owner": "compute:nova",
        "port_security_enabled": True,
        "allowed_address_pairs": [],
    } | kw


def test_a_ports_frames_carry_its_mac_and_its_arp_its_address() -> None:
    assert port_chains(TAP, port()) == {
        f"neutronMAC-{TAP}": [
            f"-i {TAP} --among-src fa:16:3e:00:00:01 -j RETURN",
            "-j DROP",
        ],
        f"neutronARP-{TAP}": [
            "-p ARP --arp-ip-src 10.0.0.5 --arp-mac-src fa:16:3e:00:00:01 -j ACCEPT",
            "-j DROP",
        ],
    }


def test_allowed_address_pairs_add_their_mac_and_address() -> None:
    pairs = [{"ip_address": "10.0.1.0/24", "mac_address": "fa:16:3e:00:00:02"}]
    pairs.append({"ip_address": "10.0.2.9"})  # no MAC: the port's
    made = port(allowed_address_pairs=pairs)
    assert mac_ip_pairs(made) == [
        ("fa:16:3e:00:00:01", "10.0.0.5"),
        ("fa:16:3e:00:00:02", "10.0.1.0/24"),
        ("fa:16:3e:00:00:01", "10.0.2.9"),
    ]
    chains = port_chains(TAP, made)
    assert "--among-src fa:16:3e:00:00:01,fa:16:3e:00:00:02" in chains[f"neutronMAC-{TAP}"][0]
    assert len(chains[f"neutronARP-{TAP}"]) == 4
    anywhere = port(allowed_address_pairs=[{"ip_address": "0.0.0.0/0"}])
    assert list(port_chains(TAP, anywhere)) == [f"neutronMAC-{TAP}"]  # any address: no ARP check


def test_only_filtered_ports_are_checked_and_stale_chains_go() -> None:
    ports = {
        TAP: port(),
        "tapdhcp": port(device_owner="network:dhcp"),
        "tapoff": port(port_security_enabled=False),
    }
    text = ruleset(ports, {"neutronARP-tapgone", f"neutronMAC-{TAP}"})
    assert f"-A {DISPATCH} -i {TAP} -j neutronMAC-{TAP}" in text
    assert f"-A {DISPATCH} -p ARP -i {TAP} -j neutronARP-{TAP}" in text
    assert "tapdhcp" not in text
    assert "tapoff" not in text
    assert "-X neutronARP-tapgone" in text
    assert f"-X neutronMAC-{TAP}" not in text
