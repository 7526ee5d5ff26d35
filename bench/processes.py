"""A cloud of one process per binary (``labcloud up --processes``) against the in-kernel one.

    .venv/bin/python bench/processes.py --url amqp://guest:guest@HOST:5672 \\
        [--management-url http://HOST:15672] [--database-url postgresql://...] [--quick]

- start-up: from running ``labcloud up --processes`` to every API answering and every
  process READY (sd_notify) (target <= 10 s), with its phases (config, db sync, bootstrap,
  the supervisor's processes), and the CPU time they all used to get there (on 2 shared
  cores the wall time follows the machine's load; the CPU time much less);
- memory: the supervisor and all its processes together (target <= 600 MB), as the sum of
  their RSS (a page shared by forked processes counted in each) and of their PSS (each
  shared page counted once, split among the processes sharing it: the memory they take);
- boot latency (one server at a time, POST to ACTIVE, median) and the throughput of N
  boots posted by 10 client threads, for both clouds, printed side by side.

Both clouds run the same client code over REST (polling nova-api, as a user would), with
the same hosts (3 by default: 100 m1.tiny fit on 3 of the demo's hosts, not on 2). The
processes' cloud gets a vhost of its own on the broker (``up`` makes it) and SQLite files
unless ``--database-url`` names a PostgreSQL server. Instances in ERROR, builds that never
finish and a cloud that does not come up are failures: printed, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _figures import figure, load

ROOT = Path(__file__).resolve().parents[1]
URL = "amqp://guest:guest@127.0.0.1:5672"
THREADS = 10
BUILD_TIMEOUT = 300.0
PAUSE = threading.Event()  # never set: .wait(t) paces polls of other processes


# -- the client: the same for both clouds --------------------------------------------------
class Client:
    def __init__(self, keystone: str, compute: str, image: str, password: str) -> None:
        import httpx

        account = {"name": "demo", "domain": {"id": "default"}, "password": password}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": account}},
                "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
            }
        }
        answer = httpx.post(f"{keystone}/v3/auth/tokens?nocatalog", json=body, timeout=60)
        answer.raise_for_status()
        self.headers = {"X-Auth-Token": answer.headers["X-Subject-Token"]}
        self.nova = f"{compute}/v2.1"
        images = httpx.get(f"{image}/v2/images", headers=self.headers, timeout=60).json()
        self.image = str(images["images"][0]["id"])

    def post(self, http: Any, name: str) -> str:
        body = {"server": {"name": name, "flavorRef": "1", "imageRef": self.image}}
        answer = http.post(f"{self.nova}/servers", json=body, headers=self.headers)
        if answer.status_code != 202:
            raise RuntimeError(f"nova-api answered {answer.status_code}: {answer.text[:300]}")
        return str(answer.json()["server"]["id"])

    def latency(self, samples: int) -> dict[str, Any]:
        """``samples`` servers one after the other: seconds from POST to ACTIVE."""
        import httpx

        seconds, errors = [], []
        with httpx.Client(timeout=60) as http:
            for i in range(samples):
                start = time.perf_counter()
                server = self.post(http, f"latency-{i}")
                status = self._wait_one(http, server)
                if status == "ACTIVE":
                    seconds.append(time.perf_counter() - start)
                else:
                    errors.append(f"{server}: {status}")
        return {"seconds": seconds, "errors": errors}

    def _wait_one(self, http: Any, server: str) -> str:
        deadline = time.monotonic() + BUILD_TIMEOUT
        while time.monotonic() < deadline:
            got = http.get(f"{self.nova}/servers/{server}", headers=self.headers).json()
            status = str(got["server"]["status"])
            if status in ("ACTIVE", "ERROR"):
                return status
            PAUSE.wait(0.01)
        return "still BUILD"

    def throughput(self, boots: int) -> dict[str, Any]:
        """``boots`` POSTs from 10 threads; seconds until nova-api shows them all ACTIVE."""
        import httpx

        ids: list[str] = []
        errors: list[str] = []

        def client_thread(n: int, first: int) -> None:
            with httpx.Client(timeout=BUILD_TIMEOUT) as http:
                for i in range(first, first + n):
                    try:
                        ids.append(self.post(http, f"bench-{i}"))
                    except Exception as exc:  # a failed POST is a result to report
                        errors.append(repr(exc))

        share = [boots // THREADS + (t < boots % THREADS) for t in range(THREADS)]
        threads = [
            threading.Thread(target=client_thread, args=(share[t], sum(share[:t])))
            for t in range(THREADS)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        posted = time.perf_counter() - start
        wanted = set(ids)
        statuses: dict[str, str] = {}
        deadline = time.monotonic() + BUILD_TIMEOUT
        with httpx.Client(timeout=120) as http:
            while time.monotonic() < deadline:
                detail = http.get(f"{self.nova}/servers/detail", headers=self.headers).json()
                statuses = {s["id"]: s["status"] for s in detail["servers"] if s["id"] in wanted}
                if all(s in ("ACTIVE", "ERROR") for s in statuses.values()) and len(
                    statuses
                ) == len(wanted):
                    break
                PAUSE.wait(0.05)
        elapsed = time.perf_counter() - start
        counts: dict[str, int] = {}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        return {"elapsed": elapsed, "posted": posted, "counts": counts, "errors": errors[:10]}


def measure_boots(client: Client, samples: int, boots: int) -> dict[str, Any]:
    return {"latency": client.latency(samples), "throughput": client.throughput(boots)}


# -- memory ---------------------------------------------------------------------------------
def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) ``pids`` have used so far (their children's not included)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_mb(pids: list[int]) -> dict[str, float]:
    """VmRSS and Pss (smaps_rollup) of ``pids`` summed, in MB."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return {"rss": rss / 1024, "pss": pss / 1024}


# -- the in-kernel cloud, in a child process ------------------------------------------------
def child(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    from labcloud.cloud import LabCloud
    from labcloud.spec import CloudSpec

    cloud = LabCloud(CloudSpec.demo(hosts=args.hosts)).start()
    started = time.perf_counter() - start
    result: dict[str, Any] = {"start": started, "memory": memory_mb([os.getpid()])}
    try:
        urls = cloud.urls
        password = cloud.credentials("demo")["password"]
        client = Client(urls["identity"], urls["compute"], urls["image"], password)
        result |= measure_boots(client, args.samples, args.boots)
    finally:
        cloud.stop()
    print("RESULT " + json.dumps(result), flush=True)


def in_kernel(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    cmd = [sys.executable, __file__, "--in-kernel", "--hosts", str(args.hosts)]
    cmd += ["--boots", str(args.boots), "--samples", str(args.samples)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT * 2 + 120, cwd=ROOT
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {}, [
            f"in-kernel: exit {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        ]
    return json.loads(lines[-1][len("RESULT ") :]), []


# -- the cloud of processes -----------------------------------------------------------------
def labcloud(state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "labcloud.cli", "--state-dir", str(state), *args]


def processes(args: argparse.Namespace, state: Path) -> tuple[dict[str, Any], list[str]]:
    cmd = labcloud(state, "up", "--processes", "--transport-url", args.url.rstrip("/"))
    cmd += ["--hosts", str(args.hosts), "--timeout", "300"]
    if args.management_url:
        cmd += ["--management-url", args.management_url]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},  # each phase's line as it is printed
    )
    assert proc.stdout is not None
    phases: dict[str, float] = {}
    output = []
    for line in proc.stdout:
        output.append(line)
        for mark, phase in (  # each line printed as its phase ends
            ("==> /", "config"),
            ("==> db sync", "db sync"),
            ("==> bootstrapped", "bootstrap"),
            ("==> already bootstrapped", "bootstrap"),
        ):
            if line.startswith(mark):
                phases[phase] = time.perf_counter() - start
    if proc.wait() != 0:
        return {}, [f"labcloud up --processes exited {proc.returncode}:\n{''.join(output)[-3000:]}"]
    status: dict[str, Any] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # up waits for the APIs and computes; this, for all
        status = json.loads((state / "processes.json").read_text())
        if all(p["state"] == "running" for p in status["programs"].values()):
            break
        PAUSE.wait(0.05)
    up = time.perf_counter() - start
    phases["processes"] = up
    if not all(p["state"] == "running" for p in status["programs"].values()):
        return {}, [f"not every process said READY: {status['programs']}"]
    pids = [int(status["supervisor"])] + [int(p["pid"]) for p in status["programs"].values()]
    pids += [int(status["zygote"])] if status.get("zygote") else []
    result: dict[str, Any] = {"start": up, "phases": phases, "count": len(pids)}
    result["cpu"] = cpu_seconds(pids)
    result["memory"] = memory_mb(pids)
    from labcloud.conf import load as load_conf

    def url(project: str) -> str:
        host, port = load_conf(state / "labcloud.conf", project).bind
        return f"http://{host}:{port}"

    from labcloud.binaries.bootstrap import credentials_file
    from labcloud.private import read_json

    password = str(read_json(credentials_file(state / "labcloud.conf"))["demo"])
    client = Client(url("keystone"), url("nova"), url("glance"), password)
    result |= measure_boots(client, args.samples, args.boots)
    return result, []


# -- the report -------------------------------------------------------------------------------
def boot_problems(name: str, r: dict[str, Any], boots: int) -> list[str]:
    problems = [f"{name}: {e}" for e in r["latency"]["errors"]]
    t = r["throughput"]
    if t["errors"]:
        problems.append(f"{name}: POSTs failed: {t['errors']}")
    if t["counts"].get("ACTIVE", 0) != boots:
        problems.append(f"{name}: of {boots} boots, {t['counts']}")
    return problems


def report(args: argparse.Namespace) -> int:
    print(f"labcloud processes benchmark, {args.hosts} compute hosts; {load()}", flush=True)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="labcloud-bench-") as tmp:
        state = Path(tmp)
        try:
            procs, p = processes(args, state)
        finally:
            subprocess.run(labcloud(state, "down"), capture_output=True, timeout=180, cwd=ROOT)
    problems += p
    print(f"  ({load()})", flush=True)
    kernel, p = in_kernel(args)
    problems += p
    if procs:
        phases = procs["phases"]
        figure(
            "labcloud up --processes to every API and service up",
            procs["start"],
            "s",
            at_most=10.0,
            note=f"({procs['count']} processes)",
        )
        figure(
            "CPU time the processes used to start",
            procs["cpu"],
            "s",
            note="(user + system, all of them: the machine's load does not change it much)",
        )
        steps, last = [], 0.0
        for phase, at in phases.items():
            steps.append(f"{phase} {at - last:.2f} s")
            last = at
        print(f"  ({', '.join(steps)})")
        figure(
            "resident memory of all the processes together, sum of RSS",
            procs["memory"]["rss"],
            "MB",
            at_most=600,
            digits=0,
            note="(pages shared by forked processes counted in each)",
        )
        figure(
            "memory of all the processes together, sum of PSS",
            procs["memory"]["pss"],
            "MB",
            at_most=600,
            digits=0,
            note="(a shared page counted once, split among its sharers)",
        )
        problems += boot_problems("processes", procs, args.boots)
    if kernel:
        rss = kernel["memory"]["rss"]
        print(f"  (in-kernel cloud: start {kernel['start']:.2f} s, RSS {rss:.0f} MB)")
        problems += boot_problems("in-kernel", kernel, args.boots)
    print(f"  {'':42} {'processes':>12} {'in-kernel':>12}")
    for what, key in (("boot latency, POST to ACTIVE, median", "latency"),):
        row = [
            statistics.median(r[key]["seconds"]) if r and r[key]["seconds"] else None
            for r in (procs, kernel)
        ]
        print(f"  {what:42} " + " ".join(f"{v:>10.3f} s" if v else f"{'-':>12}" for v in row))
    for name, r in (("processes", procs), ("in-kernel", kernel)):
        if r and r["latency"]["seconds"]:
            figure(
                f"boot latency, {name}, median",
                statistics.median(r["latency"]["seconds"]),
                "s",
                digits=3,
            )
        if r:
            t = r["throughput"]
            active = t["counts"].get("ACTIVE", 0)
            figure(
                f"{args.boots} boots from {THREADS} threads, {name}",
                active / t["elapsed"],
                "boots/s",
                note=f"({active} ACTIVE in {t['elapsed']:.2f} s; POSTs in {t['posted']:.2f} s)",
            )
    for problem in problems:
        print(f"FAILURE {problem}", flush=True)
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=URL, help="RabbitMQ (the cloud makes a vhost there)")
    parser.add_argument("--management-url", default=None)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--boots", type=int, default=100)
    parser.add_argument("--samples", type=int, default=10, help="single boots for the latency")
    parser.add_argument("--quick", action="store_true", help="2 hosts, 10 boots, 3 samples")
    parser.add_argument("--in-kernel", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.hosts, args.boots, args.samples = 2, 10, 3
    if args.in_kernel:
        return child(args)
    raise SystemExit(report(args))


if __name__ == "__main__":
    main()
