"""What a deployer does once, before the services start: ``keystone-manage bootstrap`` (roles,
the admin), each service's user with the ``service`` role, the catalog's endpoints, and the
spec's content (DevStack's flavors, the cirros image, the demo project and its network).
The spec's users get passwords made for this cloud, kept 0600 in ``credentials.json`` next
to labcloud.conf; keystone's Fernet keys are made as ``keystone-manage fernet_setup`` does.

It writes straight into each project's database (synced first), as ``keystone-manage`` does;
DevStack does the second half through the APIs. Run again, it changes nothing.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from labcloud.binaries import content
from labcloud.binaries.identity import image_dir
from labcloud.compute.models import Base as NovaBase
from labcloud.conf.options import PROJECTS, ServiceConf, load
from labcloud.db import Database
from labcloud.exceptions import Conflict
from labcloud.identity.api import SERVICE_PROJECT, SERVICE_ROLE
from labcloud.identity.manager import IdentityManager
from labcloud.identity.models import Project
from labcloud.identity.passwords import spec_passwords
from labcloud.image.manager import ImageManager
from labcloud.image.store import FileStore
from labcloud.network.manager import NetworkManager
from labcloud.private import read_json, write_private
from labcloud.spec import CloudSpec


def endpoint(conf: ServiceConf) -> str:
    host, port = conf.bind
    return f"http://{host}:{port}{PROJECTS[conf.project].path}"


def credentials_file(config: str | Path) -> Path:
    """Where the spec's users' passwords are kept (0600), next to labcloud.conf."""
    return Path(config).with_name("credentials.json")


def user_passwords(config: str | Path, spec: CloudSpec) -> dict[str, str]:
    """Each spec user's password, made once for this cloud and kept in credentials_file."""
    path = credentials_file(config)
    known = read_json(path)
    passwords = spec_passwords(spec, {k: str(v) for k, v in known.items()})
    if passwords != known:
        write_private(path, json.dumps(passwords, indent=2))
    return passwords


def bootstrap(config: str | Path, spec: CloudSpec) -> bool:
    """Fill the cloud's databases for ``spec`` and make keystone's Fernet keys (as
    ``keystone-manage fernet_setup``); False if keystone had been bootstrapped."""
    confs = {project: load(config, project) for project in PROJECTS}
    manager = IdentityManager(
        confs["keystone"].database_url,
        key_repository=confs["keystone"].key_repository,
        bcrypt_rounds=confs["keystone"].identity.password_hash_rounds,
    )
    try:
        if any(p["name"] == SERVICE_PROJECT for p in manager.names(Project)):
            return False
        content.load_accounts(manager, spec, user_passwords(config, spec))
        manager.create_role(SERVICE_ROLE)
        with contextlib.suppress(Conflict):
            manager.create_project(SERVICE_PROJECT, "the services' own users")
        for project, conf in confs.items():
            if project != "keystone":
                manager.create_user(
                    conf.username, conf.keystone_authtoken.password, SERVICE_PROJECT
                )
                manager.assign_role(conf.username, SERVICE_PROJECT, SERVICE_ROLE)
            info = PROJECTS[project]
            manager.register_endpoint(
                info.service_type, info.service_name, endpoint(conf), spec.region
            )
        project_ids = {p["name"]: p["id"] for p in manager.names(Project)}
    finally:
        manager.dispose()
    _load_content(confs, spec, project_ids)
    return True


def _load_content(confs: dict[str, ServiceConf], spec: CloudSpec, ids: dict[str, str]) -> None:
    glance = ImageManager(confs["glance"].database_url, FileStore(image_dir(confs["glance"])))
    try:
        content.load_images(glance, spec, ids["admin"])
    finally:
        glance.db.dispose()
    neutron = NetworkManager(confs["neutron"].database_url)
    try:
        content.load_networks(neutron, spec, ids)
    finally:
        neutron.db.dispose()
    nova = Database(confs["nova"].database_url, NovaBase.metadata)
    try:
        content.load_flavors(nova, spec)
    finally:
        nova.dispose()
