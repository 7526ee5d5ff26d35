"""Linux networking for labcloud's datapath, with pyroute2: namespaces, bridges, veth pairs,
VXLAN, and processes (dnsmasq, udhcpc, httpd) run inside namespaces.

``inventory`` reads what is there (for the network topology view) and changes nothing.
It knows nothing of neutron or nova: network/ (the agents) and compute/virt/ (instances
as namespaces) build on it. Nothing here touches the machine's own network namespace:
every cloud works inside namespaces named ``lc-<tag>-...``, so a crashed cloud is cleaned
up by deleting the namespaces with its tag (``cleanup(tag)``), and two clouds never meet.

    lc-<tag>-fabric            the "physical" network: bridges ``data`` (VXLAN underlay,
                               172.31.255.0/24) and ``physnet1`` (flat provider network)
    lc-<tag>-<host>            one per neutron/nova host: neutron's own names inside
                               (``brq<net>``, ``tap<port>``, ``vxlan-<vni>``), and its ends
                               of the fabric (``data0`` with an address, ``phy0``)
    lc-<tag>-qdhcp-<net>       a DHCP server's namespace (neutron: ``qdhcp-<net>``)
    lc-<tag>-qrouter-<router>  a router (neutron: ``qrouter-<router>``): ``qr-``/``qg-`` ports,
                               forwarding on, its NAT in its own iptables (nat.py)
    lc-<tag>-internet          "the internet" a lab or test adds on the provider network
    lc-<tag>-i-<instance>      an instance of the fake hypervisor (eth0 plugged like a tap)
"""
