"""Boot benchmark for the in-process cloud (targets from issue 9), each scenario in a fresh process.

    .venv/bin/python bench/boot.py [--instances 1000] [--hosts 100] [--quick]

- cold start: from the process's own start (interpreter and imports included) to the first
  instance ACTIVE (target <= 1.5 s);
- N instances through the full flow as one multi-create (min_count = max_count = N; target
  1,000 in <= 10 s) and as N separate POSTs from 10 client threads (target 1,000 in <= 20 s);
- a cloud with 100 compute hosts: its start time (target <= 2 s) and resident memory (<= 200 MB).

Instances are counted by their own states (nova's StateEvents for resource "instance"), and
checked against nova-api's GET /v2.1/servers/detail; every build is waited for (ACTIVE or
ERROR) before the cloud stops, and the resident memory is read with all of them done.
Instances in ERROR (with their faults), builds that never finish and tracebacks on a
scenario's stderr are failures: they are printed, and the exit status is 1.
Scheduling among 10,000 hosts is bench/scheduler.py; RPC against oslo.messaging, bench/rpc.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

from _figures import figure, load

THREADS = 10  # client threads for the separate POSTs
TIMEOUT = 600.0  # seconds a scenario may wait for its builds


# -- clocks and memory ---------------------------------------------------------------------
def since_process_start() -> float:
    """Seconds since this process was exec'd (/proc/self/stat starttime, on CLOCK_BOOTTIME)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of proc(5)
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started


def rss_mb() -> float:
    """Resident memory now (VmRSS), not the peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- the child: one scenario in its own process ---------------------------------------------
class Builds:
    """Follows instances by their own states until each is ACTIVE or ERROR."""

    def __init__(self, bus: Any) -> None:
        from labcloud.trace.events import StateEvent

        self.done: dict[str, str] = {}
        self.last = 0.0  # perf_counter of the last build to finish
        self.first = 0.0
        self._cond = threading.Condition()
        self._sub = bus.subscribe(
            self._seen, types=(StateEvent,), where=lambda e: e.resource == "instance"
        )

    def _seen(self, event: Any) -> None:
        if event.status not in ("ACTIVE", "ERROR"):
            return
        with self._cond:
            if event.id not in self.done:
                self.done[event.id] = event.status
                self.last = time.perf_counter()
                self.first = self.first or self.last
                self._cond.notify_all()

    def wait(self, count: int, timeout: float = TIMEOUT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.done) >= count, timeout)

    def close(self, bus: Any) -> None:
        bus.unsubscribe(self._sub)


def bench_spec(hosts: int, big: bool = True) -> Any:
    from labcloud.spec import CloudSpec, HostSpec, NetworkSpec

    def host(i: int) -> HostSpec:
        if big:
            return HostSpec(f"compute{i}", vcpus=64, ram_mb=262144, disk_gb=4000)
        return HostSpec(f"compute{i}")

    return CloudSpec.demo().but(
        hosts=tuple(host(i) for i in range(1, hosts + 1)),
        networks=(NetworkSpec("private", "10.0.0.0/16"),),
    )


def image_id(cloud: Any, token: str) -> str:
    import httpx

    answer = httpx.get(cloud.urls["image"] + "/v2/images", headers={"X-Auth-Token": token})
    return str(answer.json()["images"][0]["id"])


def server_body(name: str, image: str, count: int = 1) -> dict[str, Any]:
    server: dict[str, Any] = {"name": name, "flavorRef": "1", "imageRef": image}
    if count > 1:
        server |= {"min_count": count, "max_count": count}
    return {"server": server}


def post(client: Any, cloud: Any, body: dict[str, Any]) -> str:
    answer = client.post(cloud.urls["compute"] + "/v2.1/servers", json=body)
    if answer.status_code != 202:
        raise RuntimeError(f"nova-api answered {answer.status_code}: {answer.text[:300]}")
    return str(answer.json()["server"]["id"])


def census(cloud: Any, token: str) -> dict[str, Any]:
    """What nova-api says of every instance: counts by status, and the faults."""
    import httpx

    answer = httpx.get(
        cloud.urls["compute"] + "/v2.1/servers/detail",
        headers={"X-Auth-Token": token},
        timeout=120,
    )
    answer.raise_for_status()
    statuses: dict[str, int] = {}
    faults = []
    for s in answer.json()["servers"]:
        statuses[s["status"]] = statuses.get(s["status"], 0) + 1
        if s["status"] == "ERROR":
            faults.append(f"{s['id']}: {s.get('fault', {}).get('message', '(no fault)')}")
    return {"statuses": statuses, "faults": faults[:20]}


def scenario_cold() -> dict[str, Any]:
    entered = since_process_start()
    import httpx

    from labcloud.cloud import LabCloud

    imported = since_process_start()
    cloud = LabCloud(bench_spec(8)).start()
    started = since_process_start()
    builds = Builds(cloud.bus)
    token = cloud.login("demo")
    with httpx.Client(headers={"X-Auth-Token": token}, timeout=60) as client:
        post(client, cloud, server_body("cold", image_id(cloud, token)))
    finished = builds.wait(1)
    active = since_process_start()
    cpu = time.process_time()  # every thread's, from the process's start
    result = {
        "cpu": cpu,
        "entered": entered,
        "imported": imported,
        "started": started,
        "active": active,
        "finished": finished,
        "states": dict(builds.done),
        "census": census(cloud, token),
    }
    builds.close(cloud.bus)
    cloud.stop()
    return result


def scenario_builds(count: int, separate: bool) -> dict[str, Any]:
    import httpx

    from labcloud.cloud import LabCloud

    cloud = LabCloud(bench_spec(8)).start()
    token = cloud.login("demo")
    image = image_id(cloud, token)
    builds = Builds(cloud.bus)
    errors: list[str] = []

    def client_thread(n: int, first: int) -> None:
        with httpx.Client(headers={"X-Auth-Token": token}, timeout=TIMEOUT) as client:
            for i in range(first, first + n):
                try:
                    post(client, cloud, server_body(f"bench-{i}", image))
                except Exception as exc:  # a failed POST is a result to report
                    errors.append(repr(exc))

    start, cpu, times = time.perf_counter(), time.process_time(), os.times()
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    if separate:
        share = [count // THREADS + (t < count % THREADS) for t in range(THREADS)]
        threads = [
            threading.Thread(target=client_thread, args=(share[t], sum(share[:t])))
            for t in range(THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        with httpx.Client(headers={"X-Auth-Token": token}, timeout=TIMEOUT) as client:
            post(client, cloud, server_body("bench", image, count))
    posted = time.perf_counter() - start
    finished = builds.wait(count - len(errors))
    result = {
        "elapsed": builds.last - start,
        "cpu": time.process_time() - cpu,
        "cpu_kernel": os.times().system - times.system,  # system calls, thread switches
        "switches": resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - switches,
        "first": builds.first - start if builds.first else None,
        "posted": posted,
        "finished": finished,
        "rss_mb": rss_mb(),
        "states": dict(builds.done),
        "post_errors": errors[:20],
        "census": census(cloud, token),
    }
    builds.close(cloud.bus)
    start = time.perf_counter()
    cloud.stop()
    result["stop"] = time.perf_counter() - start
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def scenario_hosts(hosts: int) -> dict[str, Any]:
    from labcloud.cloud import LabCloud

    spec = bench_spec(hosts, big=False)
    before = rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    cloud = LabCloud(spec).start()
    started = time.perf_counter() - start
    result = {
        "start": started,
        "cpu": time.process_time() - cpu,
        "rss_mb": rss_mb(),
        "rss_before_mb": before,
    }
    up = cloud.hosts_up()
    result["up"] = sum(up.values())
    start = time.perf_counter()
    cloud.stop()
    result["stop"] = time.perf_counter() - start
    return result


def child(args: argparse.Namespace) -> None:
    if args.scenario == "cold":
        result = scenario_cold()
    elif args.scenario == "hosts":
        result = scenario_hosts(args.hosts)
    else:
        result = scenario_builds(args.instances, separate=args.scenario == "separate")
    print("RESULT " + json.dumps(result), flush=True)


# -- the parent: runs each scenario in a fresh process, prints figures -----------------------
def run(scenario: str, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    cmd = [sys.executable, __file__, "--scenario", scenario]
    cmd += ["--instances", str(args.instances), "--hosts", str(args.hosts)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 120)
    problems = []
    if proc.returncode != 0:
        problems.append(f"{scenario}: exit status {proc.returncode}")
    if "Traceback" in proc.stderr:
        tracebacks = proc.stderr.count("Traceback")
        problems.append(f"{scenario}: {tracebacks} traceback(s) on stderr:\n{proc.stderr[-3000:]}")
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        problems.append(f"{scenario}: no result\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        return {}, problems
    return json.loads(lines[-1][len("RESULT ") :]), problems


def failures(name: str, r: dict[str, Any], count: int) -> list[str]:
    """Builds that ended in ERROR or never finished, and disagreements with nova-api."""
    states = r["states"]
    problems = []
    errors = [i for i, s in states.items() if s == "ERROR"]
    if errors:
        problems.append(f"{name}: {len(errors)} instance(s) in ERROR: {r['census']['faults']}")
    if not r["finished"] or len(states) < count:
        problems.append(f"{name}: only {len(states)} of {count} builds finished in {TIMEOUT} s")
    if r.get("post_errors"):
        problems.append(f"{name}: POSTs failed: {r['post_errors']}")
    active = sum(1 for s in states.values() if s == "ACTIVE")
    if r["census"]["statuses"].get("ACTIVE", 0) != active:
        problems.append(f"{name}: nova-api counts {r['census']['statuses']}, events {active}")
    return problems


def report(args: argparse.Namespace) -> int:
    n, full = args.instances, args.instances == 1000
    print(f"labcloud boot benchmark; {load()}", flush=True)
    problems: list[str] = []

    cold, p = run("cold", args)
    problems += p
    if cold:
        problems += failures("cold start", cold, 1)
        figure("cold start, process start to first ACTIVE", cold["active"], "s", at_most=1.5)
        print(
            f"  (interpreter {cold['entered']:.2f} s, importing labcloud.cloud "
            f"{cold['imported'] - cold['entered']:.2f} s, cloud start (the services' imports"
            f" included) {cold['started'] - cold['imported']:.2f} s, login + boot to ACTIVE "
            f"{cold['active'] - cold['started']:.2f} s; CPU time {cold['cpu']:.2f} s, which"
            " load on the machine changes less)"
        )
    for scenario, what, target in (
        ("multi", f"{n} instances as one multi-create", 10.0),
        ("separate", f"{n} instances as {n} POSTs from {THREADS} threads", 20.0),
    ):
        print(f"  ({load()})", flush=True)
        r, p = run(scenario, args)
        problems += p
        if not r:
            continue
        problems += failures(what, r, n)
        active = sum(1 for s in r["states"].values() if s == "ACTIVE")
        note = (
            f"({active} ACTIVE, {len(r['states']) - active} ERROR; {active / r['elapsed']:.0f}/s)"
        )
        figure(f"{what}, to all ACTIVE", r["elapsed"], "s", at_most=target, judged=full, note=note)
        figure(f"resident memory with {n} instances ACTIVE", r["rss_mb"], "MB", digits=0)
        print(
            f"  (POSTs answered after {r['posted']:.2f} s, first ACTIVE after {r['first'] or 0:.2f}"
            f" s; cloud stop {r['stop']:.2f} s; peak RSS {r['peak_rss_mb']:.0f} MB; the cloud's"
            f" CPU time while building {r['cpu']:.1f} s, which load on the machine changes less;"
            f" {r['cpu_kernel']:.1f} s of it in the kernel, {r['switches'] / n:.0f} voluntary"
            " thread switches per instance: a machine where those cost more is slower here)"
        )
    print(f"  ({load()})", flush=True)
    hosts, p = run("hosts", args)
    problems += p
    if hosts:
        judged = args.hosts == 100
        what = f"a cloud with {args.hosts} compute hosts"
        figure(f"start of {what}", hosts["start"], "s", at_most=2.0, judged=judged)
        figure(
            f"resident memory of {what}",
            hosts["rss_mb"],
            "MB",
            at_most=200,
            judged=judged,
            digits=0,
        )
        print(
            f"  ({hosts['up']} of {args.hosts} hosts up; the start's CPU time "
            f"{hosts['cpu']:.2f} s, which load on the machine changes less; stop "
            f"{hosts['stop']:.2f} s)"
        )
        if hosts["up"] != args.hosts:
            problems.append(f"hosts: only {hosts['up']} of {args.hosts} hosts are up")
    for problem in problems:
        print(f"FAILURE {problem}", flush=True)
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="20 instances, 10 hosts")
    parser.add_argument("--scenario", choices=["cold", "multi", "separate", "hosts"])
    args = parser.parse_args()
    if args.scenario:
        return child(args)
    if args.quick:
        args.instances, args.hosts = 20, 10
    raise SystemExit(report(args))


if __name__ == "__main__":
    main()
