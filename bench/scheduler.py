"""How long nova-scheduler takes to place one instance among 10,000 hosts (target <= 50 ms).

.venv/bin/python bench/scheduler.py [--hosts 10000] [--decisions 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from labcloud.compute.models import Base, ComputeNode
from labcloud.compute.scheduler.manager import SchedulerManager
from labcloud.db import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'nova.sqlite'}", Base.metadata)
        db.create_all()
        with db.session() as s:
            s.add_all(
                ComputeNode(
                    host=f"compute{i}",
                    vcpus=32,
                    memory_mb=131072,
                    local_gb=2000,
                    memory_mb_used=(i * 7919) % 65536,
                    availability_zone="nova" if i % 10 else "edge",
                )
                for i in range(args.hosts)
            )
        scheduler = SchedulerManager(db)
        start = time.perf_counter()
        scheduler.refresh(None)
        load = time.perf_counter() - start
        spec = {
            "flavor": {"vcpus": 2, "memory_mb": 4096, "root_gb": 40},
            "ignore_hosts": [],
            "availability_zone": "nova",
            "image_properties": {},
        }
        samples = []
        for i in range(args.decisions):
            start = time.perf_counter()
            scheduler.select_destinations(None, spec, [f"i{i}"])
            samples.append((time.perf_counter() - start) * 1e3)
        db.dispose()
    samples.sort()
    median, p95 = statistics.median(samples), samples[int(len(samples) * 0.95) - 1]
    print(
        f"scheduler over {args.hosts:,} hosts: refresh from the database {load * 1e3:.0f} ms; "
        f"one decision median {median:.1f} ms, p95 {p95:.1f} ms "
        f"(target <= 50 ms: {'MET' if median <= 50 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
