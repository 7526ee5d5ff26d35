"""``labcloud netns-cleanup`` removes a dead cloud's namespaces and what runs in them, and
only the cloud named by --tag."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from labcloud.netns import links, procs
from labcloud.netns.fabric import Fabric, cleanup, files, new_tag
from tests.conftest import require


def labcloud(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labcloud.cli", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def two() -> Iterator[tuple[Fabric, Fabric]]:
    require(os.geteuid() == 0, "network namespaces need root")
    dead, alive = Fabric(new_tag()), Fabric(new_tag())
    try:
        yield dead, alive
    finally:
        cleanup(dead.tag)
        cleanup(alive.tag)


def test_cleanup_removes_one_clouds_namespaces_and_processes(two: tuple[Fabric, Fabric]) -> None:
    dead, alive = two
    dead.host("compute1")
    alive.host("compute1")
    sleeper = procs.start(dead.ns("compute1"), ["sleep", "300"])
    for fabric in two:  # a guest's page, say
        (files(fabric.tag) / "guests").mkdir(parents=True, exist_ok=True)
    listed = labcloud("netns-cleanup", "--tag", dead.tag, "--list")
    assert listed.returncode == 0, listed.stderr
    assert dead.ns("compute1") in listed.stdout.split()
    assert links.namespaces(dead.ns("")), "--list removed something"
    done = labcloud("netns-cleanup", "--tag", dead.tag)
    assert done.returncode == 0, done.stderr
    assert f"removed {dead.ns('compute1')}" in done.stdout
    assert links.namespaces(dead.ns("")) == []
    assert sleeper.wait(timeout=10) is not None  # what ran in it was killed
    assert links.namespaces(alive.ns("")) != []  # another cloud's namespaces stay
    assert not files(dead.tag).exists()  # the files of what ran there went with it
    assert files(alive.tag).exists()
    again = labcloud("netns-cleanup", "--tag", dead.tag)
    assert "nothing to remove" in again.stdout
