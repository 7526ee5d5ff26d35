"""Compute, after OpenStack's nova: nova-api (REST /v2.1), nova-conductor, nova-scheduler and
one nova-compute per host, talking over RPC with nova's method names.

labcloud leaves out cells, placement (the scheduler filters hosts from the compute_nodes
table, as nova did before placement), RPC versioning and versioned objects (plain dicts
cross the bus).
"""
