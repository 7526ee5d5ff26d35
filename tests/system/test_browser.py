"""The widgets in a real browser: JupyterLab, Debian's chromium driven by Playwright.

A notebook boots an instance with a breakpoint on ``select_destinations``. The test sees the
flow view and the broker graph render, the stepper show the paused scheduler, clicks
Continue, and sees the instance ACTIVE in the flow view's table. Another stops a boot at
step 4, before keystone is asked, then boots again with the same token and sees the
validations drawn as answered from cache. Screenshots go to ``artifacts/browser/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CELLS = [
    "from labcloud.cloud import LabCloud\n"
    "from labcloud.notebook import watch\n"
    "from labcloud.spec import CloudSpec\n"
    "cloud = LabCloud(CloudSpec.demo()).start()\n"
    "board = watch(cloud)",
    "board",
    "import httpx\n"
    "token = cloud.login('demo')\n"
    "h = {'X-Auth-Token': token}\n"
    "image = httpx.get(cloud.urls['image'] + '/v2/images', headers=h).json()['images'][0]\n"
    "cloud.stepper.break_on(method='select_destinations')\n"
    "body = {'server': {'name': 'vm1', 'flavorRef': '1', 'imageRef': image['id']}}\n"
    "answer = httpx.post(cloud.urls['compute'] + '/v2.1/servers', json=body, headers=h)\n"
    "print('booting', answer.status_code)",
]

CACHED_CELLS = [
    CELLS[0],
    "board",
    "from labcloud.trace.events import HttpEvent\n"
    "# nova-api's validations of the boots' token (neutron's token, sent with its\n"
    "# network-vif-plugged events, is validated too, under neutron's own request id)\n"
    "validations = cloud.bus.collect(where=lambda e: isinstance(e, HttpEvent)"
    " and e.method == 'GET' and '/v3/auth/tokens' in e.url and e.source == 'nova-api')\n"
    "events = cloud.bus.collect(where=lambda e: isinstance(e, HttpEvent)"
    " and e.source == 'neutron-server' and e.target == 'nova-api')\n"
    "def boots_asked(): return [v for v in validations if v.request_id not in"
    " {n.request_id for n in events}]\n"
    "token = cloud.login('demo')\n"
    "cloud.stepper.break_on(step=4)\n"
    "first = cloud.boot('vm1', token=token)\n"
    "pause = cloud.stepper.wait_paused()\n"
    "print('held at', pause.breakpoint, '; nova-api validations keystone answered:',"
    " len(boots_asked()))",
    "cloud.stepper.clear()\n"
    "first.wait('ACTIVE')\n"
    "second = cloud.boot('vm2', token=token)\n"
    "second.wait('ACTIVE')\n"
    "print('second boot ACTIVE; nova-api validations keystone answered:',"
    " len(boots_asked()))",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def notebook(path: Path, sources: list[str] = CELLS) -> None:
    cells = [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": c}
        for c in sources
    ]
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path.write_text(
        json.dumps(
            {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
        )
    )


@dataclass
class Lab:
    url: str
    token: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab() -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="labcloud-browser-") as tmp:
        root = Path(tmp) / "notebooks"
        root.mkdir()
        notebook(root / "step.ipynb")
        notebook(root / "cached.ipynb", CACHED_CELLS)
        yield from jupyterlab(root, Path(tmp))


@pytest.fixture
def labs_server() -> Iterator[Lab]:
    """A JupyterLab of its own per lab, on a copy of labs/ (nothing is saved back into the
    checkout, and no tab or kernel of one lab is left open for the next)."""
    with tempfile.TemporaryDirectory(prefix="labcloud-labs-") as tmp:
        root = Path(tmp) / "labs"
        shutil.copytree(ROOT / "labs", root)
        yield from jupyterlab(root, Path(tmp))


def jupyterlab(root: Path, tmp: Path) -> Iterator[Lab]:
    port, token = free_port(), secrets.token_hex(16)
    env = os.environ | {
        "JUPYTER_CONFIG_DIR": f"{tmp}/config",
        "JUPYTER_RUNTIME_DIR": f"{tmp}/runtime",
        "JUPYTERLAB_WORKSPACES_DIR": f"{tmp}/workspaces",
        "JUPYTERLAB_SETTINGS_DIR": f"{tmp}/settings",
    }
    cmd = [
        str(Path(sys.executable).parent / "jupyter-lab"),
        "--no-browser",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--KernelManager.transport=ipc",  # as ./run lab starts its kernels
    ] + (["--allow-root"] if os.geteuid() == 0 else [])
    log = open(tmp / "lab.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, token, server)
        yield Lab(url, token)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def wait_for_server(url: str, token: str, server: subprocess.Popen[Any]) -> None:
    import threading

    pause = threading.Event()
    for _ in range(600):
        if server.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        pause.wait(0.1)  # a process we started: nothing to wait on but its port
    raise AssertionError("jupyter lab did not answer in 60 s")


KERNEL_IDLE = (
    "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
    " const k = w && w.sessionContext && w.sessionContext.session"
    " && w.sessionContext.session.kernel; return Boolean(k) && k.status === 'idle'; }"
)


def playwright_api() -> Any:
    require(chromium() is not None, "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        require(False, "playwright is not installed (the test extra)")
        raise
    return sync_api


def open_and_run_all(page: Any, lab: Lab, path: str) -> None:
    """Open a notebook in JupyterLab, wait for its kernel, run all cells."""
    page.goto(f"{lab.url}/lab/tree/{path}?token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden)", timeout=60_000)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def test_a_student_steps_through_a_boot_in_the_browser(lab: Lab) -> None:
    sync_api = playwright_api()
    expect = sync_api.expect
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium(), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            open_and_run_all(page, lab, "step.ipynb")

            stepper = page.locator(".lc-stepper")
            expect(stepper.locator("summary")).to_contain_text(
                "select_destinations", timeout=60_000
            )
            flow = page.locator(".lc-flow")
            expect(flow.locator(".lc-status")).to_contain_text("paused at method", timeout=30_000)
            done_before = flow.locator("g.step.done").count()
            assert done_before >= 8, done_before  # steps 1-8 at least, drawn as done
            page.screenshot(path=str(ARTIFACTS / "1-paused-at-select_destinations.png"))

            stepper.locator("button.lc-continue").click()
            expect(flow.locator(".lc-table")).to_contain_text("ACTIVE", timeout=60_000)
            expect(stepper).to_contain_text("running", timeout=30_000)
            assert flow.locator("g.step.done").count() > done_before
            expect(flow.locator("g.step.current")).to_have_id("step-28")
            page.screenshot(path=str(ARTIFACTS / "2-active.png"))

            page.get_by_role("tab", name="Broker").click()
            graph = page.locator(".lc-broker-graph svg")
            expect(graph).to_be_visible(timeout=30_000)
            expect(graph.locator('g[id="q:scheduler"]')).to_have_count(1)
            expect(graph.locator('g[id="q:compute.compute1"]')).to_contain_text("consumers")
            page.screenshot(path=str(ARTIFACTS / "3-broker.png"))

            page.get_by_role("tab", name="Messages").click()
            expect(page.locator(".lc-inspector table")).to_contain_text("build_and_run_instance")
            page.screenshot(path=str(ARTIFACTS / "4-messages.png"))
        finally:
            page.screenshot(path=str(ARTIFACTS / "last.png"))
            browser.close()


def run_next_cell(page: Any) -> None:
    """Run the selected cell, select the next, and wait until the kernel is idle again."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell-and-select-next')")
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)


def test_a_breakpoint_on_step_4_and_a_second_boot_from_cache_in_the_browser(lab: Lab) -> None:
    sync_api = playwright_api()
    expect = sync_api.expect
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium(), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            page.goto(f"{lab.url}/lab/tree/cached.ipynb?token={lab.token}")
            page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden)", timeout=60_000)
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            for _ in range(3):
                run_next_cell(page)
            flow = page.locator(".lc-flow")
            expect(flow.locator(".lc-status")).to_contain_text("paused at step 4", timeout=30_000)
            outputs = page.locator(".jp-OutputArea-output")
            expect(outputs.filter(has_text="held at step 4")).to_contain_text("answered: 0")
            expect(flow.locator("g#step-4")).to_have_class("step done current")
            expect(flow.locator("g#step-5")).to_have_class("step")  # keystone not asked yet
            flow.screenshot(path=str(ARTIFACTS / "5-paused-at-step-4.png"))

            run_next_cell(page)  # clear, first boot ACTIVE, the same token again
            expect(outputs.filter(has_text="second boot ACTIVE")).to_contain_text("answered: 1")
            expect(flow.locator(".lc-table")).to_contain_text("ACTIVE", timeout=30_000)
            for step in (4, 20, 23):
                cached = flow.locator(f"g#step-{step}")
                expect(cached).to_have_class(re.compile(r"\bcached\b"))
                expect(cached.locator(".label")).to_contain_text("from cache")
                dash = cached.locator(".arrow").evaluate("e => getComputedStyle(e).strokeDasharray")
                assert dash not in ("", "none"), (step, dash)
            expect(flow.locator("g#step-5")).not_to_have_class(re.compile(r"\bdone\b"))
            expect(flow.locator("g#step-22 .label")).not_to_contain_text("from cache")
            flow.screenshot(path=str(ARTIFACTS / "6-second-boot-from-cache.png"))
        finally:
            page.screenshot(path=str(ARTIFACTS / "last-cached.png"))
            browser.close()


LAB_NOTEBOOKS = sorted(p.name for p in (ROOT / "labs").glob("*.ipynb"))
# labs whose last boot ends ACTIVE: their flow view must say so after Run All (the last
# state reaches the view, also once the cloud has stopped)
ENDS_ACTIVE = {
    "04-boot-flow.ipynb",
    "06-debugging.ipynb",
    "08-processes.ipynb",
    "watch-and-step.ipynb",
}
# widgets (and anything else in an output) wider than the output area that holds them
TOO_WIDE = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
  .filter(o => o.offsetParent !== null)
  .flatMap(o => [...o.querySelectorAll(
    '.lc-flow, .lc-broker, .lc-inspector, .lc-stepper, .lc-topology, svg')]
    .filter(w => w.offsetParent !== null
      && w.getBoundingClientRect().right > o.getBoundingClientRect().right + 1)
    .map(w => `${w.className.baseVal ?? w.className}: `
      + `${Math.round(w.getBoundingClientRect().width)} px`
      + ` in ${Math.round(o.getBoundingClientRect().width)} px`))"""


def check_network_view(sync_api: Any, view: Any, stem: str) -> None:
    """As root, the datapath the lab built, as it was when the cloud stopped (the view's
    last read is before the cloud takes it down): hosts, the fabric, instances and dnsmasq;
    without root, the view says why it draws nothing."""
    if os.geteuid() != 0:
        sync_api.expect(view.locator(".lc-status")).to_contain_text("Nothing to draw")
        return
    sync_api.expect(view.locator("svg")).to_be_visible(timeout=30_000)
    sync_api.expect(view.locator(".lc-status")).to_contain_text("3 hosts")
    for kind in ("host · compute1", "the physical networks", "instance · i-", "dnsmasq"):
        assert kind in (view.text_content() or ""), kind
    assert view.locator('g.node[id^="l:"]').count() > 20
    view.screenshot(path=str(ARTIFACTS / f"lab-{stem}-network.png"))


@pytest.mark.parametrize("name", LAB_NOTEBOOKS)
def test_each_lab_runs_in_the_browser_without_errors(labs_server: Lab, name: str) -> None:
    """What a student sees: all cells run, every one gets its number, no error output, no
    widget wider than its output area; the flow view of a finished boot shows ACTIVE and
    the broker view the services (screenshots of both in artifacts/browser/)."""
    sync_api = playwright_api()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium(), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            open_and_run_all(page, labs_server, name)
            cells = page.locator(".jp-CodeCell")
            count = cells.count()
            assert count > 0
            page.wait_for_function(
                "() => { const p = document.querySelectorAll('.jp-CodeCell .jp-InputPrompt');"
                " return p.length > 0 && [...p].every(e => /\\[\\d+\\]/.test(e.textContent)); }",
                timeout=120_000,
            )
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            errors = page.locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
            )
            tracebacks = page.locator(".jp-OutputArea-output .ansi-red-fg")
            assert errors.count() == 0, errors.first.inner_text()
            assert tracebacks.count() == 0, tracebacks.first.inner_text()
            assert page.evaluate(TOO_WIDE) == []
            stem = name.removesuffix(".ipynb")
            flow = page.locator(".lc-flow")
            if name in ENDS_ACTIVE:
                sync_api.expect(flow.locator(".lc-status")).to_contain_text("ACTIVE")
                sync_api.expect(flow.locator("g.step.current")).to_have_id("step-28")
                flow.screenshot(path=str(ARTIFACTS / f"lab-{stem}-flow.png"))
            if flow.count():  # a lab with the live widgets: the broker view names the services
                page.get_by_role("tab", name="Broker").first.click()
                broker = page.locator(".lc-broker").first
                sync_api.expect(broker.locator('g.node[id^="s:"]').first).to_be_visible()
                assert "Worker" in broker.inner_text()
                assert page.evaluate(TOO_WIDE) == []
                broker.screenshot(path=str(ARTIFACTS / f"lab-{stem}-broker.png"))
            if name == "05-networking.ipynb":  # the network view, shown on its own in lab 05
                check_network_view(sync_api, page.locator(".lc-topology").first, stem)
        finally:
            page.screenshot(
                path=str(ARTIFACTS / f"lab-{name.removesuffix('.ipynb')}.png"), full_page=True
            )
            browser.close()
