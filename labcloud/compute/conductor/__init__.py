"""nova-conductor: schedules builds (asking nova-scheduler, then casting to a compute host),
reschedules failed ones, and does nova-compute's database work on its behalf."""
