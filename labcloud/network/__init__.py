"""Network, after OpenStack's neutron: networks, subnets, ports and IP address management
behind neutron's REST API ``/v2.0``, and neutron's agents over RPC.

- neutron-server: api/ (REST, one router per resource: networks, subnets, ports, security
  groups, routers, floating IPs, agents), schemas/ (the bodies it accepts, checked at the
  edge), manager.py, ports.py and allocations.py (the database and IPAM), secgroups.py
  (and secgroups_rpc.py: the rules an agent's firewall gets), routers.py and
  floatingips.py, segments.py (flat, vlan, vxlan), plugin_rpc.py (what agents call on
  ``q-plugin`` and ``q-reports-plugin``), l3_rpc.py (what L3 agents call on
  ``q-l3-plugin``), rpcapi.py and notifier.py (what it casts).
  Who may do what is labcloud.policy's (neutron's default rules).
- agents/: neutron-linuxbridge-agent, neutron-dhcp-agent and neutron-l3-agent, with a no-op
  datapath or the real one (Linux bridges, VXLAN, dnsmasq, and routers with iptables NAT in
  namespaces: labcloud.netns), and the L2 agent's firewall (security groups: no-op, or
  neutron's iptables driver, for IPv4 and IPv6, with ebtables against MAC and ARP spoofing
  and conntrack cutting the flows of a removed rule).
- nova.py: what neutron-server tells nova of its instances' ports (network-vif-plugged,
  -unplugged, -deleted), posted to nova-api's /os-server-external-events.
- service.py: all of it as a cloud runs it; guests.py: ping and exec for labs.

Left out for now: router scheduling (one L3 agent, on the network host, hosts every router),
DVR and HA routers, IPv6 router advertisements and DHCPv6, quotas, nova's
network-changed event; a bulk create is not atomic as neutron's is.
"""
