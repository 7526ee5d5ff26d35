"""A body's Content-Type, as each OpenStack API treats it (labcloud/rest/content_type.py):
nova reads text/plain or no type as JSON and answers other types 415 ``badMediaType``;
cinder answers any type but its JSON ones 415; neutron and glance read any body as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from labcloud.cloud import LabCloud
from labcloud.spec import CloudSpec


@pytest.fixture
def cloud() -> Iterator[tuple[LabCloud, httpx.Client]]:
    with LabCloud(CloudSpec.demo(hosts=1)) as c, httpx.Client(timeout=60) as http:
        http.headers["X-Auth-Token"] = c.login("demo")
        yield c, http


def post(http: httpx.Client, url: str, body: object, content_type: str | None) -> httpx.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return http.post(url, content=json.dumps(body), headers=headers)


def test_nova_reads_plain_text_as_json_and_refuses_other_types(
    cloud: tuple[LabCloud, httpx.Client],
) -> None:
    c, http = cloud
    url = c.urls["compute"] + "/v2.1/os-keypairs"
    for i, content_type in enumerate((None, "", "text/plain", "application/json; charset=utf-8")):
        made = post(http, url, {"keypair": {"name": f"k{i}"}}, content_type)
        assert made.status_code == 200, (content_type, made.text)
    for content_type in ("application/xml", "text/html", "application/x-www-form-urlencoded"):
        refused = post(http, url, {"keypair": {"name": "x"}}, content_type)
        assert refused.status_code == 415, (content_type, refused.text)
        assert refused.json() == {
            "badMediaType": {"code": 415, "message": "Unsupported Content-Type"}
        }
    listed = http.get(c.urls["compute"] + "/v2.1/os-keypairs").json()["keypairs"]
    assert sorted(k["keypair"]["name"] for k in listed) == ["k0", "k1", "k2", "k3"]
    assert http.get(url, headers={"Content-Type": "application/xml"}).status_code == 415


def test_cinder_refuses_any_type_but_json_neutron_and_glance_read_json(
    cloud: tuple[LabCloud, httpx.Client],
) -> None:
    c, http = cloud
    project = c.project_id("demo")
    volumes = f"{c.urls['volumev3']}/v3/{project}/volumes"
    for content_type in ("text/plain", "application/xml"):
        refused = post(http, volumes, {"volume": {"size": 1}}, content_type)
        assert refused.status_code == 415, refused.text
        assert refused.json()["badMediaType"]["message"] == "Unsupported Content-Type"
    made = post(http, volumes, {"volume": {"size": 1}}, "application/vnd.openstack.volume+json")
    assert made.status_code == 202, made.text
    network = post(http, c.urls["network"] + "/v2.0/networks", {"network": {"name": "n"}},
                   "text/plain")  # fmt: skip
    assert network.status_code == 201, network.text
    image = post(http, c.urls["image"] + "/v2/images", {"name": "i"}, "application/xml")
    assert image.status_code == 201, image.text
    broken = http.post(c.urls["network"] + "/v2.0/networks", content=b"<network/>",
                       headers={"Content-Type": "application/xml"})  # fmt: skip
    assert broken.status_code == 400
    assert "NeutronError" in broken.json()
