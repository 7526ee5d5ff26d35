"""What the lab notebooks use: a cloud per lab, and checks that tell a student how they did.

    from labcloud.lab import check, start
    cloud = start("04")                       # a fresh in-kernel cloud for lab 04
    check("04.1", answer == expected, "look at the table's second row")
    compare(prediction, observed)             # predict, then observe (not graded)

A check prints ``✓ 04.1 passed`` or ``✗ 04.1 not yet: <hint>`` and never raises, so a
notebook with blank answers still runs from top to bottom. When ``LABCLOUD_LAB_RESULTS``
names a file (``labcloud lab check`` sets it), every result is also appended there.
"""

from labcloud.lab.checks import Result, check, compare, results
from labcloud.lab.labs import LABS, lab_state_dir, start

__all__ = ["LABS", "Result", "check", "compare", "lab_state_dir", "results", "start"]
