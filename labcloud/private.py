"""Files only their owner may read: passwords, clouds.yaml, openrc, keys (mode 0600).

Written to a temporary file made 0600 from the start and renamed over the target, so no
other user ever sees the content, not even for a moment, and a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(temp, 0o600)  # O_CREAT's mode is only used when the file is new
    os.replace(temp, path)
    return path


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or {} when there is none."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return dict(found) if isinstance(found, dict) else {}
