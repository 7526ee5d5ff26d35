"""nova-scheduler, as nova's classic FilterScheduler worked: filter the hosts, weigh the
rest, pick the best. Modern nova asks the placement service for candidates first and has
retired the RAM, Core and Disk filters into it; labcloud keeps them because they show the
decision in a few readable lines."""
