"""How every bench script prints a figure: its name, its value, and its target beside it.

    figure("cold start to the first ACTIVE", 1.73, "s", at_most=1.5)
    -> FIGURE cold start to the first ACTIVE: 1.73 s  [target <= 1.5 s: MISSED]

A figure measured at a smaller size than its target names (``--quick``) says so and is not
judged. tests/test_bench.py looks for the ``FIGURE <name>:`` lines, never at the values.
"""

from __future__ import annotations

import os


def load() -> str:
    """The machine's load while measuring (the benches share 2 cores with other work)."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min), {os.cpu_count()} cores"


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
    judged: bool = True,
    note: str = "",
    digits: int = 2,
) -> bool:
    """Print one figure with its target; True when the target is met (or there is none)."""
    shown = f"{value:,.{digits}f} {unit}".rstrip()
    if at_most is not None:
        bound, ok, op = at_most, value <= at_most, "<="
    elif at_least is not None:
        bound, ok, op = at_least, value >= at_least, ">="
    else:
        print(f"FIGURE {name}: {shown}  [no target]{'  ' + note if note else ''}", flush=True)
        return True
    target = f"target {op} {bound:g} {unit}".rstrip()
    verdict = ("MET" if ok else "MISSED") if judged else "not judged at this size"
    print(f"FIGURE {name}: {shown}  [{target}: {verdict}]{'  ' + note if note else ''}", flush=True)
    return ok or not judged
