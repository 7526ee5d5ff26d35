"""A whole cloud (demo spec plus a second project) on SQLite or on PostgreSQL, for the tests
that walk every API it serves (fuzzing, cross-project). One per test: a cloud's threads
end with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from labcloud.cloud import LabCloud
from labcloud.config import Settings
from labcloud.spec import CloudSpec, NetworkSpec, UserSpec
from tests.conftest import port_open, require

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
DATABASES = ("keystone", "nova", "glance", "neutron", "cinder")


@dataclass
class Cloud:
    """The running cloud and who calls it: ``tokens["admin"]``, ``tokens["demo"]`` (a member
    of demo) and ``tokens["bob"]`` (a member of the ``other`` project)."""

    cloud: LabCloud
    backend: str
    tokens: dict[str, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)  # user -> the project's id

    @property
    def urls(self) -> dict[str, str]:
        return self.cloud.urls

    def login(self) -> None:
        for user in ("admin", "demo", "bob"):
            self.tokens[user] = self.cloud.login(user)
        for user, project in (("admin", "admin"), ("demo", "demo"), ("bob", "other")):
            self.projects[user] = self.cloud.project_id(project)


def spec() -> CloudSpec:
    demo = CloudSpec.demo(hosts=1)
    return demo.but(
        projects=(*demo.projects, "other"),
        users=(*demo.users, UserSpec("bob", "bob-secret", "other", roles=("member",))),
        networks=(*demo.networks, NetworkSpec("bobnet", "10.9.0.0/24", project="other")),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def api_cloud(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    """The cloud on SQLite files, or on throwaway PostgreSQL databases (one per project),
    where an over-long string or an out-of-range integer is an error, not stored."""
    if request.param == "sqlite":
        with LabCloud(spec()) as cloud:
            made = Cloud(cloud, "sqlite")
            made.login()
            yield made
        return
    require(port_open("127.0.0.1", 5432), "no PostgreSQL on 127.0.0.1:5432")
    import sqlalchemy

    prefix = f"labcloud_api_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in DATABASES:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{prefix}_{name}"'))
    try:
        settings = Settings(database_url=f"{POSTGRES}/{prefix}_{{project}}")
        with LabCloud(spec(), settings) as cloud:
            made = Cloud(cloud, "postgresql")
            made.login()
            yield made
    finally:
        with admin.connect() as conn:
            for name in DATABASES:
                conn.execute(
                    sqlalchemy.text(f'DROP DATABASE IF EXISTS "{prefix}_{name}" WITH (FORCE)')
                )
        admin.dispose()
