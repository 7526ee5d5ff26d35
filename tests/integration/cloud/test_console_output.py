"""os-getConsoleOutput: nova-api asks the nova-compute running the instance for its console."""

from __future__ import annotations

import httpx

from labcloud.cloud import LabCloud


def test_console_output_comes_from_the_instances_host() -> None:
    with LabCloud() as cloud:
        boot = cloud.boot("vm1")
        boot.wait("ACTIVE")
        token = cloud.login("demo")
        url = f"{cloud.urls['compute']}/v2.1/servers/{boot.server_id}/action"
        headers = {"X-Auth-Token": token}
        whole = httpx.post(url, json={"os-getConsoleOutput": {}}, headers=headers)
        assert whole.status_code == 200, whole.text
        driver = cloud.compute_driver(cloud.compute.instances.get(boot.server_id)["host"])
        output = whole.json()["output"]
        instance = {"uuid": boot.server_id, "display_name": "vm1"}
        assert output == driver.get_console_output(instance)
        assert output, "the fake hypervisor's console says something"
        tail = httpx.post(url, json={"os-getConsoleOutput": {"length": 1}}, headers=headers)
        assert tail.json()["output"] == output.splitlines(keepends=True)[-1]
        bad = httpx.post(url, json={"os-getConsoleOutput": {"length": "x"}}, headers=headers)
        assert bad.status_code == 400
        assert "length" in bad.json()["badRequest"]["message"]
