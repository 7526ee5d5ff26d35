"""The chains the firewall owns in one family's tables (``iptables`` or ``ip6tables``):
named ``neutron-linuxbri-…`` and hooked into FORWARD, INPUT and raw PREROUTING, as
neutron's iptables manager wraps its chains. The IPv4 driver and its IPv6 half both find,
hook and remove them here."""

from __future__ import annotations

from labcloud.network.agents.iptables_rules import HOOKS, PREROUTING, WRAP
from labcloud.network.agents.netfilter import Netfilter


def existing(tools: Netfilter, command: str) -> dict[str, list[str]]:
    """The firewall's chains in the host's tables now, by table (a crashed agent's too)."""
    found: dict[str, list[str]] = {"filter": [], "raw": []}
    for table in found:
        out = tools.check([f"{command}-save", "-t", table])
        found[table] = [
            line[1:].split()[0] for line in out.splitlines() if line.startswith(f":{WRAP}-")
        ]
    return found


def hook(tools: Netfilter, command: str) -> None:
    """Jump from the built-in chains to the firewall's, once (a crashed agent's may remain)."""
    for table, hooks in HOOKS.items():
        for builtin, target in hooks:
            if tools.run([command, "-t", table, "-C", builtin, "-j", target]).returncode:
                tools.check([command, "-t", table, "-I", builtin, "1", "-j", target])


def remove(tools: Netfilter, command: str) -> None:
    """Unhook and delete every chain of the firewall; safe to repeat."""
    for table, hooks in HOOKS.items():
        for builtin, target in hooks:
            unhook = [command, "-t", table, "-D", builtin, "-j", target]
            while tools.run(unhook).returncode == 0:
                pass
    mine = existing(tools, command)
    text = "*filter\n" + "".join(f":{c} - [0:0]\n" for c in mine["filter"])
    text += "".join(f"-X {c}\n" for c in mine["filter"]) + "COMMIT\n"
    text += f"*raw\n:{PREROUTING} - [0:0]\n-X {PREROUTING}\nCOMMIT\n"
    tools.restore(f"{command}-restore", text)
