"""``import labcloud.cloud`` loads no service: their modules are imported by start(), while
the users' passwords are hashed on the other cores (bcrypt lets go of the GIL)."""

from __future__ import annotations

import json
import subprocess
import sys

SERVICES = ("labcloud.compute", "labcloud.network.api", "labcloud.identity.api", "fastapi")


def test_importing_the_cloud_loads_no_service() -> None:
    code = (
        "import json, sys; import labcloud.cloud; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({SERVICES!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_passwords_start_hashing_before_the_services_are_imported() -> None:
    code = (
        "import sys, labcloud.identity.passwords as p\n"
        "calls = []\n"
        "ahead = p.hash_ahead\n"
        "def spy(passwords, rounds):\n"
        "    calls.append(('labcloud.compute.api' in sys.modules, len(passwords)))\n"
        "    return ahead(passwords, rounds)\n"
        "p.hash_ahead = spy\n"
        "from labcloud.cloud import LabCloud\n"
        "from labcloud.spec import CloudSpec\n"
        "with LabCloud(CloudSpec.demo(), bcrypt_rounds=4) as cloud:\n"
        "    assert cloud.login('demo')\n"
        "print(calls[0][0], calls[0][1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    services_loaded, passwords = out.stdout.split()
    assert services_loaded == "False"
    assert int(passwords) >= 6  # the spec's users' and the four services'
