"""The supervisor's fork server: a binary forked from the zygote is the supervisor's own child,
named after its binary, says READY=1 on its NOTIFY_SOCKET, logs to its file, and stops on
SIGTERM with status 0; one that cannot start exits 1 with its traceback in its log.

The zygote's client makes its process a child subreaper, so each test runs it in a process
of its own (never pytest's: orphans anywhere in the suite would become pytest's children).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

SCRIPT = r"""
import json, os, signal, socket, sys
from pathlib import Path
from labcloud.binaries import dbsync
from labcloud.binaries.zygote import Zygote, become_subreaper
from labcloud.conf import load, sample

tmp = Path(sys.argv[1])
config = tmp / "labcloud.conf"
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
config.write_text(
    sample(transport_url="memory://", state_path=tmp / "data", ports={"keystone": port})
)
(tmp / "data").mkdir()
dbsync.sync("keystone", load(config, "keystone").database_url)
become_subreaper()
zygote = Zygote(tmp / "zygote.log")
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(str(tmp / "notify.sock"))
notify.settimeout(240)
child = zygote.spawn("keystone", config, None, tmp / "keystone.log",
                     {"NOTIFY_SOCKET": str(tmp / "notify.sock")})
said = notify.recv(100).decode()
pid = child.pid
stat = Path(f"/proc/{pid}/status").read_text()
result = {
    "said": said,
    "ppid": int(next(l.split()[1] for l in stat.splitlines() if l.startswith("PPid:"))),
    "me": os.getpid(),
    "cmdline": Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(),
    "comm": Path(f"/proc/{pid}/comm").read_text().strip(),
    "zygote": Path(f"/proc/{zygote.pid}/cmdline").read_bytes().split(b"\0")[0].decode(),
    "sigign": int(next(l.split()[1] for l in stat.splitlines() if l.startswith("SigIgn:")), 16),
}
child.send_signal(signal.SIGTERM)
result["exit"] = child.wait(60)
if sys.argv[2:] == ["die"]:  # as a supervisor killed with -9: nothing stopped
    print("RESULT " + json.dumps(result | {"pid": pid}), flush=True)
    os._exit(9)
broken = zygote.spawn("keystone", tmp / "missing.conf", None, tmp / "broken.log", {})
result["broken_exit"] = broken.wait(120)
zygote.stop()
print("RESULT " + json.dumps(result))
"""


def run_script(tmp_path: Path, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=280,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    logs = "".join(f"\n--- {p.name}\n{p.read_text()}" for p in tmp_path.glob("*.log"))
    assert lines, f"{proc.returncode}\n{proc.stdout}\n{proc.stderr}{logs}"
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def test_a_binary_forked_by_the_zygote(tmp_path: Path) -> None:
    r = run_script(tmp_path)
    assert r["said"] == "READY=1"
    assert r["ppid"] == r["me"]  # reparented to the subreaper, not the zygote's
    assert str(r["cmdline"]).startswith("keystone --config ")
    assert r["comm"] == "keystone"
    # SIGPIPE ignored, as in any Python process: a broker that dies under a write gives a
    # BrokenPipeError, never a binary killed by the signal (every one died so before)
    assert int(str(r["sigign"])) & (1 << (signal.SIGPIPE - 1))
    assert r["zygote"] == "labcloud-zygote"
    assert r["exit"] == 0
    assert "keystone started" in (tmp_path / "keystone.log").read_text()
    assert "keystone stopped" in (tmp_path / "keystone.log").read_text()
    assert r["broken_exit"] == 1
    assert "Traceback" in (tmp_path / "broken.log").read_text()


def _gone(pid: int) -> bool:
    """No such process, or a zombie (nothing in a container may reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_a_binary_dies_with_its_supervisor(tmp_path: Path) -> None:
    import threading
    import time

    r = run_script(tmp_path, "die")
    pid = int(str(r["pid"]))
    deadline = time.monotonic() + 60
    while not _gone(pid) and time.monotonic() < deadline:
        threading.Event().wait(0.1)
    assert _gone(pid), f"keystone (pid {pid}) outlived its supervisor"
    assert "keystone stopped" in (tmp_path / "keystone.log").read_text()  # SIGTERM: clean
