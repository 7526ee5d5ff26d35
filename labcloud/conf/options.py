"""The options of labcloud.conf, section by section, with OpenStack's names and defaults.

Each section is a pydantic model: its fields are the options, their descriptions are what
``labcloud config sample`` prints. ``load(path, project)`` reads the file with configparser
(no interpolation: a password may hold ``%``) and checks it against these models, so a
misspelt option is an error that names the file and section, not a silent default.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


@dataclass(frozen=True)
class Project:
    """An OpenStack project as keystone's catalog lists its API, and where that API listens."""

    service_type: str
    service_name: str
    path: str  # appended to the API's URL in the catalog
    port: int  # DevStack's port
    api: str  # the binary serving the REST API


PROJECTS: dict[str, Project] = {
    "keystone": Project("identity", "keystone", "/v3", 5000, "keystone"),
    "nova": Project("compute", "nova", "/v2.1", 8774, "nova-api"),
    "glance": Project("image", "glance", "", 9292, "glance-api"),
    "neutron": Project("network", "neutron", "", 9696, "neutron-server"),
    "cinder": Project("volumev3", "cinderv3", "/v3/$(project_id)s", 8776, "cinder-api"),
}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DefaultSection(Section):
    transport_url: str = Field(
        default="rabbit://guest:guest@127.0.0.1:5672/",
        description="The broker every service of this project talks RPC over "
        "(rabbit:// or amqp://; memory:// only works inside one process).",
    )
    host: str = Field(
        default="controller",
        description="This machine's name: nova-compute and cinder-volume serve their "
        "queues as this host, neutron's agents report under it.",
    )
    state_path: Path = Field(
        default=Path("/var/lib/labcloud"),
        description="Where services keep files: SQLite databases, images, volumes.",
    )
    rpc_response_timeout: float = Field(
        default=60.0, gt=0, description="Seconds an RPC call waits for its reply."
    )
    report_interval: float = Field(
        default=10.0, description="Seconds between a service's reports of being alive."
    )
    service_down_time: float = Field(
        default=60.0, description="A service silent for this many seconds is down."
    )
    instance_build_timeout: float = Field(
        default=600.0,
        description="nova: a build that has not moved for this long ends in ERROR (0: off).",
    )
    vif_plugging_timeout: float = Field(
        default=300.0,
        description="nova: seconds a build waits for neutron's network-vif-plugged (0: none).",
    )
    vif_plugging_is_fatal: bool = Field(
        default=True, description="nova: a build whose ports did not come up in time fails."
    )
    notify_nova_on_port_status_changes: bool = Field(
        default=True, description="neutron: tell nova when its instances' ports go up or down."
    )
    send_events_interval: float = Field(
        default=2.0,
        description="neutron: seconds it holds after sending events to nova (those queued"
        " meanwhile leave together).",
    )
    compute_driver: str = Field(
        default="fake", description="nova-compute's hypervisor driver: fake or libvirt."
    )
    volumes_dir: str = Field(
        default="", description="cinder-volume's file backend (empty: $state_path/volumes)."
    )
    debug: bool = Field(default=False, description="Log at DEBUG level instead of INFO.")


class DatabaseSection(Section):
    connection: str = Field(
        default="",
        description="The project's SQLAlchemy URL, e.g. "
        "postgresql+psycopg://nova:secret@127.0.0.1/nova (empty: a SQLite file in "
        "$state_path, for one machine only).",
    )


class AuthtokenSection(Section):
    www_authenticate_uri: str = Field(
        default="http://127.0.0.1:5000",
        description="keystone's public URL, told to clients in 401s.",
    )
    auth_url: str = Field(
        default="http://127.0.0.1:5000",
        description="Where the service logs in and finds the others (keystone's catalog).",
    )
    username: str = Field(
        default="", description="The service's own user (default: the project's name)."
    )
    password: str = Field(default="", description="Its password.")
    project_name: str = Field(
        default="service", description="The project the service users belong to."
    )
    user_domain_name: str = Field(default="Default", description="The service user's domain.")
    project_domain_name: str = Field(default="Default", description="The service project's domain.")
    region_name: str = Field(default="RegionOne", description="The region whose endpoints it uses.")
    token_cache_time: float = Field(
        default=300.0,
        description="Seconds a validated token is remembered (0: ask keystone each time).",
    )


class ApiSection(Section):
    bind_host: str = Field(default="127.0.0.1", description="Address the REST API listens on.")
    bind_port: int = Field(default=0, description="Its port (default: DevStack's for the project).")


class TokenSection(Section):
    expiration: int = Field(default=3600, description="keystone: seconds a token lives.")


class IdentitySection(Section):
    password_hash_rounds: int = Field(
        default=12, ge=4, le=31, description="keystone: bcrypt's cost for the passwords it stores."
    )


class FernetTokensSection(Section):
    key_repository: str = Field(
        default="",
        description="keystone: the Fernet keys' directory (empty: $state_path/fernet-keys); "
        "`labcloud token setup` makes it, `labcloud token rotate` rotates its keys.",
    )
    max_active_keys: int = Field(
        default=3, description="keystone: keys kept by a rotation (staged, primary, secondaries)."
    )


class SchedulerSection(Section):
    ram_weight_multiplier: float = Field(
        default=1.0, description="nova: >0 spreads instances on the freest RAM, <0 stacks them."
    )


class GlanceStoreSection(Section):
    filesystem_store_datadir: str = Field(
        default="", description="glance: where image data is kept (empty: $state_path/images)."
    )


class LinuxBridgeSection(Section):
    """neutron's linuxbridge_agent.ini [linux_bridge], and what nova-compute plugs into.

    labcloud's own options: in OpenStack the agent binary a deployer installs is the
    datapath, and a host is a machine; here hosts are network namespaces named
    ``lc-<fabric_tag>-<host>``, so every agent and nova-compute of one cloud needs the tag."""

    datapath: Literal["noop", "linuxbridge"] = Field(
        default="noop",
        description="What neutron's agents build: noop (ports go ACTIVE, nothing is built) "
        "or linuxbridge (bridges, VXLAN, dnsmasq and routers in network namespaces; root).",
    )
    fabric_tag: str = Field(
        default="",
        pattern=r"^[0-9a-z]{0,8}$",
        description="linuxbridge: the cloud's namespaces are lc-<fabric_tag>-...; nova-compute "
        "plugs its guests into lc-<fabric_tag>-<host> (`labcloud netns-cleanup --tag` "
        "removes them).",
    )


class SecurityGroupSection(Section):
    """neutron's linuxbridge_agent.ini [securitygroup]: how the L2 agent's firewall is written."""

    enable_ipset: bool = Field(
        default=True,
        description="A rule naming a remote group matches an ipset of the group's members "
        "(one rule; members change in the set) instead of one rule per member (linuxbridge).",
    )


SECTIONS: dict[str, type[Section]] = {
    "DEFAULT": DefaultSection,
    "database": DatabaseSection,
    "keystone_authtoken": AuthtokenSection,
    "api": ApiSection,
    "token": TokenSection,
    "identity": IdentitySection,
    "fernet_tokens": FernetTokensSection,
    "scheduler": SchedulerSection,
    "glance_store": GlanceStoreSection,
    "linux_bridge": LinuxBridgeSection,
    "securitygroup": SecurityGroupSection,
}


class ConfigError(ValueError):
    """The file cannot be read, or says something labcloud does not know."""


class ServiceConf(BaseModel):
    """One project's view of labcloud.conf: its OpenStack file, sections as attributes."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    project: str
    DEFAULT: DefaultSection = Field(default_factory=DefaultSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    keystone_authtoken: AuthtokenSection = Field(default_factory=AuthtokenSection)
    api: ApiSection = Field(default_factory=ApiSection)
    token: TokenSection = Field(default_factory=TokenSection)
    identity: IdentitySection = Field(default_factory=IdentitySection)
    fernet_tokens: FernetTokensSection = Field(default_factory=FernetTokensSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    glance_store: GlanceStoreSection = Field(default_factory=GlanceStoreSection)
    linux_bridge: LinuxBridgeSection = Field(default_factory=LinuxBridgeSection)
    securitygroup: SecurityGroupSection = Field(default_factory=SecurityGroupSection)

    @property
    def database_url(self) -> str:
        return self.database.connection or (
            f"sqlite:///{self.DEFAULT.state_path / f'{self.project}.sqlite'}"
        )

    @property
    def key_repository(self) -> Path:
        return Path(self.fernet_tokens.key_repository or self.DEFAULT.state_path / "fernet-keys")

    @property
    def username(self) -> str:
        return self.keystone_authtoken.username or self.project

    @property
    def bind(self) -> tuple[str, int]:
        return self.api.bind_host, self.api.bind_port or PROJECTS[self.project].port

    def but(self, section: str, **values: Any) -> ServiceConf:
        """This conf with some options of ``section`` changed (``--host`` on a command line)."""
        changed = getattr(self, section).model_copy(update=values)
        return self.model_copy(update={section: changed})


def _reader() -> configparser.ConfigParser:
    # DEFAULT is an ordinary section here: configparser would copy it into every other one
    return configparser.ConfigParser(interpolation=None, default_section="\x00none")


def parse(text: str, project: str, *, source: str = "<string>") -> ServiceConf:
    """``project``'s view of the INI ``text``: ``[SECTION]`` then ``[project:SECTION]``."""
    if project not in PROJECTS:
        raise ConfigError(f"unknown project {project!r} (labcloud has {', '.join(PROJECTS)})")
    reader = _reader()
    try:
        reader.read_string(text, source=source)
    except configparser.Error as exc:
        raise ConfigError(str(exc)) from exc
    for name in reader.sections():
        owner, _, section = name.rpartition(":")
        if section not in SECTIONS or (owner and owner not in PROJECTS):
            raise ConfigError(f"{source}: unknown section [{name}]")
    values: dict[str, Any] = {"project": project}
    for section in SECTIONS:
        merged: dict[str, str] = {}
        for name in (section, f"{project}:{section}"):
            if reader.has_section(name):
                merged |= dict(reader.items(name))
        values[section] = merged
    try:
        return ServiceConf.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"{source} ({project}): {exc}") from exc


def load(path: str | Path, project: str) -> ServiceConf:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse(text, project, source=str(path))
