"""``labcloud config sample``: every option, its default and what it means, as oslo-config's
sample generator writes them (``#option = default`` under a comment).

Given values (a transport URL, a database URL template, passwords) are written uncommented,
which is how ``labcloud up --processes`` writes the file its processes read.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from pydantic.fields import FieldInfo

from labcloud.conf.options import PROJECTS, SECTIONS

HEADER = """\
# labcloud.conf: one file for every service of a labcloud, in OpenStack's INI shape.
#
# [SECTION] is shared by every project; [PROJECT:SECTION] is that project's own [SECTION]
# (what nova.conf, glance-api.conf, neutron.conf, cinder.conf or keystone.conf would hold)
# and overrides it. Services find each other in keystone's catalog: this file names only
# keystone and each service's credentials.
#
#   labcloud db sync nova --config THIS_FILE      (nova-manage db sync)
#   labcloud run nova-compute --config THIS_FILE  (nova-compute --config-file nova.conf)
"""


def _default(field: FieldInfo) -> str:
    value = field.default
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _option(name: str, field: FieldInfo, value: str | None) -> list[str]:
    lines = [f"# {line}" for line in textwrap.wrap(field.description or "", 94)]
    line = f"{name} = {value}" if value is not None else f"#{name} = {_default(field)}"
    lines.append(line.rstrip())
    return [*lines, ""]


def _section(name: str, given: Mapping[str, str], *, every: bool = True) -> list[str]:
    """The section with each option documented (``every=False``: the given ones only)."""
    model = SECTIONS[name.rpartition(":")[2]]
    lines = [f"[{name}]", ""]
    for option, field in model.model_fields.items():
        if every or option in given:
            lines += _option(option, field, given.get(option))
    return lines


def sample(
    *,
    transport_url: str | None = None,
    database_url: str | None = None,
    state_path: str | Path | None = None,
    passwords: Mapping[str, str] | None = None,
    ports: Mapping[str, int] | None = None,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """The documented file. ``database_url``: a template with ``{project}`` (one database
    per project); ``passwords`` and ``ports``: per project; ``extra``: more values by section."""
    given: dict[str, dict[str, str]] = {name: {} for name in SECTIONS}
    if transport_url:
        given["DEFAULT"]["transport_url"] = transport_url
    if state_path:
        given["DEFAULT"]["state_path"] = str(state_path)
    for section, values in (extra or {}).items():
        given.setdefault(section, {}).update(values)
    lines = [HEADER]
    for name in SECTIONS:
        lines += _section(name, given.get(name, {}))
    for project, info in PROJECTS.items():
        lines += [f"# ---- {project} ({info.api}) " + "-" * (80 - len(project) - len(info.api))]
        lines += [""]
        db = {"connection": database_url.format(project=project)} if database_url else {}
        lines += _section(f"{project}:database", db, every=not db)
        port = (ports or {}).get(info.api, info.port)
        lines += _section(f"{project}:api", {"bind_port": str(port)}, every=False)
        if project != "keystone":
            auth = {"username": project, "password": (passwords or {}).get(project, "")}
            if passwords is None:
                auth["password"] = f"{project.upper()}_PASS"
            lines += _section(f"{project}:keystone_authtoken", auth, every=False)
    return "\n".join(lines).rstrip() + "\n"
