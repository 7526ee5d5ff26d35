"""labcloud.binaries without a cloud: the registry, the supervisor's programs, systemd units,
database URLs, migrations, and keystone's catalog as a service reads it."""

from __future__ import annotations

import configparser
from pathlib import Path

from labcloud.binaries import BINARIES, dbsync
from labcloud.binaries.base import _public_urls
from labcloud.binaries.processes import database_template
from labcloud.binaries.runner import title
from labcloud.binaries.supervisor import programs
from labcloud.binaries.units import write_units
from labcloud.conf import PROJECTS

OPENSTACK_BINARIES = {
    "keystone",
    "glance-api",
    "neutron-server",
    "neutron-dhcp-agent",
    "neutron-l3-agent",
    "neutron-linuxbridge-agent",
    "nova-api",
    "nova-conductor",
    "nova-scheduler",
    "nova-compute",
    "cinder-api",
    "cinder-scheduler",
    "cinder-volume",
}


def test_one_factory_per_openstack_binary() -> None:
    assert set(BINARIES) == OPENSTACK_BINARIES
    assert all(b.project in PROJECTS for b in BINARIES.values())


def test_an_all_in_one_cloud_runs_computes_and_l2_agents_per_host() -> None:
    names = [p.name for p in programs(["compute1", "compute2"])]
    assert names[0] == "keystone"
    assert {"nova-compute-compute1", "nova-compute-compute2"} <= set(names)
    assert "nova-compute-controller" not in names
    assert {
        f"neutron-linuxbridge-agent-{h}" for h in ("controller", "compute1", "compute2")
    } <= set(names)
    assert len(names) == len(OPENSTACK_BINARIES) - 2 + 2 + 3


def test_the_process_title_starts_with_the_binary() -> None:
    assert title("nova-compute", "/etc/labcloud/labcloud.conf", "compute1").startswith(
        "nova-compute --config /etc/labcloud/labcloud.conf"
    )


def test_systemd_units(tmp_path: Path) -> None:
    written = write_units(tmp_path / "labcloud.conf", tmp_path / "units", hosts="c1,c2")
    names = {p.name for p in written}
    assert "labcloud-nova-compute-c1.service" in names
    assert "labcloud-nova-compute-c2.service" in names
    assert "labcloud.target" in names
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(tmp_path / "units" / "labcloud-nova-compute-c1.service")
    assert unit["Service"]["Type"] == "notify"
    assert unit["Service"]["Restart"] == "on-failure"
    assert "rabbitmq-server.service" in unit["Unit"]["After"]
    assert "postgresql.service" in unit["Unit"]["After"]
    assert unit["Service"]["ExecStart"].endswith(
        f"run nova-compute --config {tmp_path / 'labcloud.conf'} --host c1"
    )


def test_a_database_url_becomes_one_database_per_project() -> None:
    assert (
        database_template("postgresql://lab@127.0.0.1/labcloud")
        == "postgresql+psycopg://lab@127.0.0.1/labcloud_{project}"
    )
    assert database_template("sqlite:////tmp/{project}.db") == "sqlite:////tmp/{project}.db"


def test_migrations_build_each_projects_models_on_sqlite(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from labcloud.db import make_engine

    for project in PROJECTS:
        url = f"sqlite:///{tmp_path / project}.sqlite"
        before, after = dbsync.sync(project, url)
        assert (before, after) == (None, dbsync.head(project))
        assert dbsync.sync(project, url) == (after, after)  # a second sync changes nothing
        engine = make_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, dbsync.metadata(project)) == [], (
                f"{project}'s models changed without a migration: labcloud db revision"
            )
        engine.dispose()


def test_the_catalog_gives_each_services_base_url() -> None:
    def entry(kind: str, url: str) -> dict[str, object]:
        return {
            "type": kind,
            "endpoints": [
                {"interface": "public", "region": "RegionOne", "url": url},
                {"interface": "internal", "region": "RegionOne", "url": url + "/internal"},
            ],
        }

    urls = _public_urls(
        [
            entry("volumev3", "http://h:8776/v3/$(project_id)s"),
            entry("compute", "http://h:8774/v2.1"),
            entry("image", "http://h:9292"),
        ],
        "RegionOne",
    )
    assert urls == {
        "volumev3": "http://h:8776",
        "compute": "http://h:8774",
        "image": "http://h:9292",
    }
