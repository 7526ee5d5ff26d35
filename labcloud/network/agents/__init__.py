"""neutron's agents, one per host and kind: the linuxbridge (L2) agent, the DHCP agent and
the L3 agent (routers and floating IPs).

Each talks to neutron-server only over the broker (agents/rpc.py: ``q-plugin``,
``q-l3-plugin`` and ``q-reports-plugin``; the server's notifications in network/rpcapi.py),
and does its work through a datapath: the no-op one, or Linux bridges, dnsmasq and router
namespaces with iptables NAT (labcloud.netns).
"""
