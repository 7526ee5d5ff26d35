"""Network, after OpenStack's neutron: networks, subnets, ports and IP address management,
behind neutron's REST API ``/v2.0``.

This first part is the API and IPAM with a no-op datapath (driver.py); the real datapath
(linuxbridge in namespaces, DHCP, flat/VLAN modes) comes later. Left out for now: routers,
floating IPs, security groups, quotas.
"""
