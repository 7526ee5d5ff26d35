"""What a spec puts into a cloud: its accounts, images, networks and flavors, written
through each project's manager, as DevStack's stack.sh fills a fresh cloud.

The services know nothing of the spec (each is built from its settings alone); the in-kernel
cloud and ``labcloud up``'s bootstrap call these once, on the services' managers or databases.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from sqlalchemy import select

from labcloud.compute.models import Flavor
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import Conflict
from labcloud.identity.api import SERVICE_PROJECT, SERVICE_ROLE
from labcloud.identity.manager import IdentityManager
from labcloud.identity.passwords import new_password, spec_passwords
from labcloud.image.manager import ImageManager
from labcloud.network.manager import NetworkManager
from labcloud.spec import CloudSpec

ROLES = ("admin", "member", "reader")


def load_accounts(
    keystone: IdentityManager, spec: CloudSpec, passwords: dict[str, str] | None = None
) -> dict[str, str]:
    """Create the spec's projects, roles, users and their role assignments; returns each
    user's password (``passwords``, from spec_passwords, or new ones).

    As in DevStack, a user with the ``admin`` role holds it on every project too.
    """
    passwords = passwords or spec_passwords(spec)
    load_projects(keystone, spec)
    load_users(keystone, spec, passwords)
    return passwords


def load_projects(keystone: IdentityManager, spec: CloudSpec) -> None:
    """The first half of load_accounts: the roles and the spec's projects."""
    for role in ROLES:
        keystone.create_role(role)
    for project in spec.projects:
        keystone.create_project(project)


def load_users(keystone: IdentityManager, spec: CloudSpec, passwords: dict[str, str]) -> None:
    """The second half of load_accounts: the spec's users and their role assignments."""
    keystone.create_users([(u.name, passwords[u.name], u.project) for u in spec.users])
    for user in spec.users:
        for role in user.roles:
            keystone.assign_role(user.name, user.project, role)
        if "admin" in user.roles:
            for project in spec.projects:
                keystone.assign_role(user.name, project, "admin")


def add_service_users(
    keystone: IdentityManager, names: Iterable[str], passwords: dict[str, str] | None = None
) -> dict[str, str]:
    """Create each service's user, with the ``service`` role on the ``service`` project
    and a password made for this cloud (or ``passwords``'); returns ``{name: password}``."""
    keystone.create_role(SERVICE_ROLE)
    with contextlib.suppress(Conflict):  # the spec may have one already
        keystone.create_project(SERVICE_PROJECT, "the services' own users")
    known = passwords or {}
    passwords = {name: known.get(name) or new_password() for name in names}
    keystone.create_users([(name, pw, SERVICE_PROJECT) for name, pw in passwords.items()])
    for name in passwords:
        keystone.assign_role(name, SERVICE_PROJECT, SERVICE_ROLE)
    return passwords


def load_images(glance: ImageManager, spec: CloudSpec, owner_project_id: str) -> None:
    """Create and upload the spec's images, owned by ``owner_project_id``."""
    owner = RequestContext(project_id=owner_project_id, is_admin=True, roles=("admin",))
    for spec_image in spec.images:
        image = glance.create(
            owner,
            {
                "name": spec_image.name,
                "disk_format": spec_image.disk_format,
                "container_format": spec_image.container_format,
                "visibility": spec_image.visibility,
                "min_disk": spec_image.min_disk,
                "min_ram": spec_image.min_ram,
            }
            | spec_image.properties,
        )
        glance.upload(owner, image.id, [spec_image.data])


def load_networks(neutron: NetworkManager, spec: CloudSpec, project_ids: dict[str, str]) -> None:
    """Create the spec's networks, each with one subnet, owned by their projects."""
    admin = RequestContext(is_admin=True, roles=("admin",))
    for net in spec.networks:
        made = neutron.create_network(
            admin,
            {"name": net.name, "shared": net.shared, "project_id": project_ids[net.project]},
        )
        subnet = {"network_id": made["id"], "cidr": net.cidr, "name": f"{net.name}-subnet"}
        if net.gateway_ip:
            subnet["gateway_ip"] = net.gateway_ip
        neutron.create_subnet(admin, subnet)


def load_flavors(nova: Database, spec: CloudSpec) -> None:
    """Create the spec's flavors that nova's database does not have yet."""
    with nova.session() as s:
        known = set(s.scalars(select(Flavor.id)))
        for f in spec.flavors:
            if f.id not in known:
                s.add(
                    Flavor(
                        id=f.id, name=f.name, vcpus=f.vcpus, memory_mb=f.ram_mb, root_gb=f.disk_gb
                    )
                )
