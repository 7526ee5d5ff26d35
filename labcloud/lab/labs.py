"""The labs: their numbers, titles and files, and a fresh cloud for each."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labcloud.cloud import LabCloud

# number -> (file stem, title)
LABS: dict[str, tuple[str, str]] = {
    "01": ("01-architecture", "Architecture"),
    "02": ("02-rest-and-tokens", "REST and tokens"),
    "03": ("03-messaging", "Messaging"),
    "04": ("04-boot-flow", "Boot flow"),
    "05": ("05-networking", "Networking"),
    "06": ("06-debugging", "Debugging"),
    "07": ("07-failures", "Failures"),
}


def lab_state_dir(number: str) -> Path:
    """Where lab ``number`` keeps its cloud's files (``labcloud lab reset`` empties it)."""
    base = Path(os.environ.get("LABCLOUD_STATE_DIR") or Path.home() / ".labcloud")
    return base / "labs" / number


def start(
    number: str, *, quiet: bool = True, settings: dict[str, Any] | None = None, **kwargs: Any
) -> LabCloud:
    """A fresh in-kernel cloud for lab ``number`` (its previous state is wiped).

    ``quiet``: the services' log warnings (a failed build, a reschedule) stay out of the
    notebook's output; the trace and the widgets show those events anyway. ``settings``:
    Settings fields to change, e.g. ``{"service_down_time": 3}`` for a faster clock."""
    if quiet:
        logging.getLogger("labcloud").setLevel(logging.ERROR)
    from labcloud.cloud import LabCloud
    from labcloud.config import Settings
    from labcloud.spec import CloudSpec

    state = lab_state_dir(number)
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    spec = kwargs.pop("spec", None) or CloudSpec.demo()
    return LabCloud(spec, Settings(state_dir=state, **(settings or {})), **kwargs).start()
