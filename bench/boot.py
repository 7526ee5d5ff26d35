"""Boot benchmark for the in-process cloud (targets from issue 3).

    .venv/bin/python bench/boot.py [--instances 1000]

Cold start to the first ACTIVE instance (target <= 2 s), N instances through the full flow
(one request with min_count=N, target <= 20 s for 1,000) and the cloud's resident memory
(target <= 250 MB). The scheduling decision over 10,000 hosts is bench/scheduler.py.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import httpx

from labcloud.cloud import LabCloud
from labcloud.spec import CloudSpec, HostSpec, NetworkSpec
from labcloud.trace.events import StateEvent
from labcloud.trace.flow import FlowRecorder


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def boot(cloud: LabCloud, token: str, count: int) -> list[str]:
    headers = {"X-Auth-Token": token}
    image = httpx.get(cloud.urls["image"] + "/v2/images", headers=headers).json()["images"][0]
    body = {
        "server": {"name": "bench", "flavorRef": "1", "imageRef": image["id"], "min_count": count}
    }
    answer = httpx.post(
        cloud.urls["compute"] + "/v2.1/servers", json=body, headers=headers, timeout=60
    )
    answer.raise_for_status()
    servers = httpx.get(cloud.urls["compute"] + "/v2.1/servers", headers=headers, timeout=60)
    return [s["id"] for s in servers.json()["servers"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    args = parser.parse_args()
    spec = CloudSpec.demo().but(
        hosts=tuple(
            HostSpec(f"compute{i}", vcpus=64, ram_mb=262144, disk_gb=4000) for i in range(1, 9)
        ),
        networks=(NetworkSpec("private", "10.0.0.0/16"),),
    )
    start = time.perf_counter()
    with LabCloud(spec) as cloud:
        flow = FlowRecorder(cloud.bus)
        token = cloud.login("demo")
        (first,) = boot(cloud, token, 1)
        flow.wait_for_state(first, "ACTIVE")
        cold = time.perf_counter() - start
        active: set[str] = set()
        done = threading.Event()

        def count(event: object) -> None:
            if isinstance(event, StateEvent) and event.status == "ACTIVE":
                active.add(event.id)
                if len(active) >= args.instances:
                    done.set()

        cloud.bus.subscribe(count)
        start = time.perf_counter()
        boot(cloud, token, args.instances)
        if not done.wait(600):
            raise SystemExit(f"only {len(active) - 1} of {args.instances} became ACTIVE")
        many = time.perf_counter() - start
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        flow.close()
    print(
        f"cold start to the first ACTIVE instance: {cold:.2f} s (target <= 2 s: "
        f"{verdict(cold <= 2)})"
    )
    print(
        f"{args.instances} instances through the full flow: {many:.1f} s "
        f"({args.instances / many:.0f}/s; target 1,000 in <= 20 s: "
        f"{verdict(many * 1000 / args.instances <= 20)})"
    )
    print(
        f"peak resident memory of the cloud: {rss_mb:.0f} MB (target <= 250 MB: "
        f"{verdict(rss_mb <= 250)})"
    )


if __name__ == "__main__":
    main()
