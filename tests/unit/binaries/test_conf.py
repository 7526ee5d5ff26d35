"""labcloud.conf: the INI file, per-project sections, the sample, and what misspellings give."""

from __future__ import annotations

from pathlib import Path

import pytest

from labcloud.conf import PROJECTS, load, parse, sample
from labcloud.conf.options import ConfigError

FILE = """
[DEFAULT]
transport_url = rabbit://guest:guest@10.0.0.1:5672/
host = compute1
report_interval = 2

[database]
connection = sqlite:////tmp/shared.sqlite

[keystone_authtoken]
auth_url = http://10.0.0.1:5000
password = shared%secret

[nova:database]
connection = postgresql+psycopg://nova:pw@10.0.0.1/nova

[nova:keystone_authtoken]
password = nova-pw

[nova:api]
bind_port = 18774
"""


def test_a_project_sees_the_shared_sections_and_its_own() -> None:
    nova = parse(FILE, "nova")
    assert nova.DEFAULT.transport_url == "rabbit://guest:guest@10.0.0.1:5672/"
    assert nova.DEFAULT.host == "compute1"
    assert nova.DEFAULT.report_interval == 2.0
    assert nova.DEFAULT.service_down_time == 60.0  # nova's default
    assert nova.database_url == "postgresql+psycopg://nova:pw@10.0.0.1/nova"
    assert nova.username == "nova"
    assert nova.keystone_authtoken.password == "nova-pw"
    assert nova.keystone_authtoken.auth_url == "http://10.0.0.1:5000"
    assert nova.bind == ("127.0.0.1", 18774)


def test_another_project_does_not_see_novas_sections() -> None:
    glance = parse(FILE, "glance")
    assert glance.database_url == "sqlite:////tmp/shared.sqlite"
    assert glance.keystone_authtoken.password == "shared%secret"  # no interpolation
    assert glance.username == "glance"
    assert glance.bind == ("127.0.0.1", PROJECTS["glance"].port)


def test_without_a_connection_a_project_gets_a_sqlite_file_in_state_path() -> None:
    cinder = parse("[DEFAULT]\nstate_path = /srv/lab\n", "cinder")
    assert cinder.database_url == "sqlite:////srv/lab/cinder.sqlite"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[DEFAULT]\ntransport_ulr = x\n", "transport_ulr"),
        ("[databse]\nconnection = x\n", "unknown section [databse]"),
        ("[swift:database]\nconnection = x\n", "unknown section [swift:database]"),
        ("[DEFAULT]\nreport_interval = often\n", "report_interval"),
        ("no section header\n", "no section headers"),
    ],
)
def test_a_mistake_is_an_error_that_names_it(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"(?i)" + says.replace("[", r"\[")):
        parse(text, "nova")


def test_unknown_project_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown project"):
        parse("", "swift")
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "absent.conf", "nova")


def test_the_sample_documents_every_option_and_parses_for_every_project() -> None:
    text = sample()
    assert "#transport_url = rabbit://guest:guest@127.0.0.1:5672/" in text
    assert "# A service silent for this many seconds is down." in text
    for project in PROJECTS:
        conf = parse(text, project)
        assert conf.DEFAULT.transport_url.startswith("rabbit://")
        assert conf.bind[1] == PROJECTS[project].port
    assert parse(text, "nova").keystone_authtoken.password == "NOVA_PASS"


def test_a_filled_in_sample_is_what_up_processes_writes(tmp_path: Path) -> None:
    text = sample(
        transport_url="amqp://guest:guest@127.0.0.1:5673/lab",
        database_url="postgresql+psycopg://lab@127.0.0.1/lab_{project}",
        state_path=tmp_path,
        passwords={"nova": "n", "glance": "g", "neutron": "q", "cinder": "c"},
        ports={"nova-api": 18774},
    )
    path = tmp_path / "labcloud.conf"
    path.write_text(text)
    nova = load(path, "nova")
    assert nova.DEFAULT.transport_url == "amqp://guest:guest@127.0.0.1:5673/lab"
    assert nova.DEFAULT.state_path == tmp_path
    assert nova.database_url == "postgresql+psycopg://lab@127.0.0.1/lab_nova"
    assert nova.keystone_authtoken.password == "n"
    assert nova.bind == ("127.0.0.1", 18774)
    assert load(path, "neutron").keystone_authtoken.password == "q"
