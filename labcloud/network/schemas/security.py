"""Security groups and their rules as neutron's securitygroup extension has them."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from labcloud.network.schemas.types import Body, Cidr, Description, Name, Owned, Stamped, Uuid

# neutron-lib's constants.IP_PROTOCOL_MAP (the names a rule may use instead of a number)
PROTOCOLS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
    "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
    "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}  # fmt: skip
PORT_PROTOCOLS = {"tcp", "udp", "dccp", "sctp", "udplite", "6", "17", "33", "132", "136"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}


class SecurityGroupUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    stateful: bool | None = None


class SecurityGroupCreate(SecurityGroupUpdate, Owned):
    pass


class SecurityGroupRuleCreate(Owned):
    NULLABLE = frozenset(
        {"protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id"}
    )
    security_group_id: Uuid
    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = Field(None, ge=0, le=65535)
    port_range_max: int | None = Field(None, ge=0, le=65535)
    remote_ip_prefix: Cidr | None = None
    remote_group_id: Uuid | None = None
    description: Description | None = None

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str | int | None) -> str | None:
        if value is None or (isinstance(value, str) and value.lower() in ("any", "")):
            return None
        text = str(value).lower()
        if text in PROTOCOLS or (text.isdigit() and 0 <= int(text) <= 255):
            return text
        raise ValueError(f"protocol {value!r} is not supported (a name or 0-255)")

    @model_validator(mode="after")
    def _consistent(self) -> SecurityGroupRuleCreate:
        low, high = self.port_range_min, self.port_range_max
        if (low is not None or high is not None) and self.protocol is None:
            raise ValueError("port_range_min/max: a port range needs a protocol")
        ranged = low is not None or high is not None
        bad_range = low is None or high is None or not 1 <= low <= high
        if self.protocol in PORT_PROTOCOLS and ranged and bad_range:
            raise ValueError("port_range_min: for TCP/UDP 1 <= port_range_min <= port_range_max")
        if self.protocol in ICMP_PROTOCOLS:
            if (low is not None and low > 255) or (high is not None and high > 255):
                raise ValueError("port_range_min/max: an ICMP type and code are 0-255")
            if high is not None and low is None:
                raise ValueError("port_range_max: an ICMP code needs an ICMP type")
        if self.remote_ip_prefix is not None and self.remote_group_id is not None:
            raise ValueError("only remote_ip_prefix or remote_group_id may be provided")
        if self.remote_ip_prefix is not None:
            version = ipaddress.ip_network(self.remote_ip_prefix).version
            if f"IPv{version}" != self.ethertype:
                raise ValueError(
                    f"remote_ip_prefix {self.remote_ip_prefix} does not match {self.ethertype}"
                )
        return self


class SecurityGroupRuleView(Stamped):
    security_group_id: str
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None


class SecurityGroupView(Stamped):
    name: str
    stateful: bool
    security_group_rules: list[SecurityGroupRuleView]
