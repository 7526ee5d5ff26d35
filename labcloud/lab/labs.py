"""The labs: their numbers, titles and files, and a fresh cloud for each."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labcloud.pids import alive

if TYPE_CHECKING:
    from labcloud.cloud import LabCloud

# number -> (file stem, title)
LABS: dict[str, tuple[str, str]] = {
    "00": ("00-welcome", "Welcome"),
    "watch": ("watch-and-step", "Watch and step"),
    "01": ("01-architecture", "Architecture"),
    "02": ("02-rest-and-tokens", "REST and tokens"),
    "03": ("03-messaging", "Messaging"),
    "04": ("04-boot-flow", "Boot flow"),
    "05": ("05-networking", "Networking"),
    "06": ("06-debugging", "Debugging"),
    "07": ("07-failures", "Failures"),
    "08": ("08-processes", "One process per binary"),
}


class UnknownLab(LookupError):
    """A lab name that is not one of LABS; its message is one sentence for the user."""


def lab_number(name: str) -> str:
    """The LABS key for what a user typed: ``4``, ``04``, ``04-boot-flow(.ipynb)``, ``watch``.

    >>> lab_number("4"), lab_number("04-boot-flow.ipynb"), lab_number("watch-and-step")
    ('04', '04', 'watch')
    """
    stem = Path(name).name.removesuffix(".ipynb")
    for number, (lab_stem, _) in LABS.items():
        if stem in (number, lab_stem) or (stem.isdigit() and stem.zfill(2) == number):
            return number
    if stem == "watch-and-step":
        return "watch"
    known = ", ".join(LABS)
    raise UnknownLab(f"there is no lab {name!r}; the labs are {known} (`labcloud lab list`)")


def labs_state_base() -> Path:
    return Path(os.environ.get("LABCLOUD_STATE_DIR") or Path.home() / ".labcloud") / "labs"


def lab_state_dir(number: str, pid: int | None = None) -> Path:
    """Where lab ``number``, run by process ``pid`` (this one), keeps its cloud's files.

    Each running copy of a lab has its own folder, so two kernels running the same lab
    (two browser tabs, a student's and ``labcloud lab check``) never share a database."""
    return labs_state_base() / number / f"kernel-{pid or os.getpid()}"


def forget_states(number: str, *, keep_running: bool = True) -> list[Path]:
    """Remove lab ``number``'s cloud folders (those of finished kernels only, unless
    ``keep_running`` is False); returns what was removed."""
    removed = []
    for folder in sorted((labs_state_base() / number).glob("kernel-*")):
        pid = int(folder.name.removeprefix("kernel-") or 0)
        if keep_running and pid != os.getpid() and alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def start(
    number: str, *, quiet: bool = True, settings: dict[str, Any] | None = None, **kwargs: Any
) -> LabCloud:
    """A fresh in-kernel cloud for lab ``number`` (this kernel's previous state is wiped).

    ``quiet``: the services' log warnings (a failed build, a reschedule) stay out of the
    notebook's output; the trace and the widgets show those events anyway. ``settings``:
    Settings fields to change, e.g. ``{"service_down_time": 3}`` for a faster clock."""
    if quiet:
        logging.getLogger("labcloud").setLevel(logging.ERROR)
    from labcloud.cloud import LabCloud
    from labcloud.config import Settings
    from labcloud.spec import CloudSpec

    number = lab_number(number)
    forget_states(number)  # this kernel's last run, and kernels that are gone
    state = lab_state_dir(number)
    state.mkdir(parents=True, exist_ok=True)
    spec = kwargs.pop("spec", None) or CloudSpec.demo()
    return LabCloud(spec, Settings(state_dir=state, **(settings or {})), **kwargs).start()
