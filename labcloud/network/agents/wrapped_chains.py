"""The chains the firewall owns in one family's tables (``iptables`` or ``ip6tables``):
named ``neutron-linuxbri-…`` and hooked into FORWARD, INPUT and raw PREROUTING, as
neutron's iptables manager wraps its chains. ``WrappedTables`` writes them, for IPv4 and
IPv6 alike: the whole ruleset the first time, then only the chains that changed."""

from __future__ import annotations

from collections.abc import Callable

from labcloud.network.agents.firewall import Port
from labcloud.network.agents.iptables_rules import (
    HOOKS,
    PREROUTING,
    WRAP,
    filter_chains,
    ruleset,
)
from labcloud.network.agents.netfilter import Netfilter, changed_chains


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


class WrappedTables:
    """One family's chains, written after each change of the ports: ``command`` is
    ``iptables`` or ``ip6tables``, ``sysctl`` the bridge's switch that sends bridged packets
    through it, ``chains_of`` a port's own chains in that family."""

    def __init__(
        self,
        tools: Netfilter,
        command: str,
        sysctl: str,
        chains_of: Callable[[Port], dict[str, list[str]]],
    ) -> None:
        self.tools = tools
        self.command = command
        self.sysctl = sysctl
        self.chains_of = chains_of
        self._text = ""  # the last restore input, whole
        self._chains: set[str] | None = None  # filter chains written last; None: not read

    @property
    def ready(self) -> bool:
        """Written (and hooked) at least once since the start or the last cleanup."""
        return self._chains is not None

    def apply(self, ports: dict[str, Port], zones: dict[str, int]) -> None:
        """The first time the tables are read (``-save``) for chains a crashed agent left,
        and everything is written; after that only the chains whose rules changed, and
        nothing when none did (neutron's iptables manager writes only its differences)."""
        first = self._chains is None
        if self._chains is None:
            stale = set(existing(self.tools, self.command)["filter"])
            self.tools.check(["tee", self.sysctl], "1\n")  # bridged packets meet the tables
        else:
            stale = self._chains
        text = ruleset(ports, zones, stale, self.chains_of)
        delta = text if first else changed_chains(self._text, text)
        if delta:
            self.tools.restore(f"{self.command}-restore", delta)
        self._text = text
        self._chains = filter_chains(text)
        if first:  # hooked in once its chains exist (a crashed agent's may remain)
            hook(self.tools, self.command)

    def forget(self) -> None:
        """Know nothing written (the namespace went, and its tables with it)."""
        self._text, self._chains = "", None

    def cleanup(self) -> None:
        """Unhook and delete every chain of the firewall in this family; safe to repeat."""
        self.forget()
        remove(self.tools, self.command)
