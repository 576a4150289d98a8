"""``fluxfleet live-demo`` (what ``make demo`` runs), tried as a new user would: start it,
open the printed address in headless Chromium, and see chambers cycling live, fluxes
appearing and an alarm from the injected fault; then Ctrl-C (SIGINT) stops it cleanly: exit
status 0, no traceback, no child process left (Mosquitto). Screenshots stay in tmp_path.

The waits are generous (the machine may be loaded): they bound how long the test waits for
what the demo shows, they do not measure it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fluxfleet.live_demo import FAULT_CHAMBERS

from testsupport.services import free_port, wait_until

FLUXFLEET = str(Path(sys.executable).parent / "fluxfleet")
WAIT_MS = 240_000
"""Longest wait for each thing the demo must show [ms] (it shows them within a minute on
an idle machine; the bound leaves room for a loaded one)."""


def _children(pid: int) -> set[int]:
    """Every live descendant process of ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in out:
                out.add(child)
                todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path, Path]]:
    """The demo on a free port: (process, console address, stdout file, stderr file)."""
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    port = free_port()
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [FLUXFLEET, "live-demo", "--port", str(port), "--chambers", "8"], stdout=o, stderr=e
        )
    try:
        wait_until(
            lambda: "console: http://" in out.read_text(),
            timeout_s=120,
            what="fluxfleet live-demo",
            proc=proc,
        )
        m = re.search(r"console: (http://\S+)/", out.read_text())
        assert m is not None
        assert m.group(1) == f"http://127.0.0.1:{port}"
        yield proc, m.group(1), out, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_demo_shows_the_fleet_live_and_stops_cleanly(
    demo: tuple[subprocess.Popen[bytes], str, Path, Path], chromium: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    proc, base, out, err = demo
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium.cdp_url)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        try:
            # chambers cycling live: a panel's cycle number advances while the page is open
            page.goto(base + "/live")
            panel = page.locator("section.live-device").first
            cyc = panel.locator(".cyc")
            page.wait_for_function(
                "el => /^[0-9]+$/.test(el.textContent)", arg=cyc.element_handle(), timeout=WAIT_MS
            )
            first = int(cyc.inner_text())
            page.wait_for_function(
                f"el => Number(el.textContent) > {first}",
                arg=cyc.element_handle(),
                timeout=WAIT_MS,
            )
            # fluxes appearing: a finished closure's fitted line on the live page …
            page.locator("section.live-device .fits li").first.wait_for(timeout=WAIT_MS)
            page.screenshot(path=str(tmp_path / "demo-live.png"), full_page=True)
            # … and on the Fluxes page
            page.goto(base + "/fluxes")
            page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
            assert page.locator("#fluxes tbody tr").count() > 0
            page.screenshot(path=str(tmp_path / "demo-fluxes.png"), full_page=True)
            # an alarm from the injected I2C fault (the page shows the store as loaded)
            device = f"ch{FAULT_CHAMBERS['i2c_error']:03d}"
            row = page.locator(f"#alarms tbody tr:has(td.device:text-is('{device}'))")
            deadline = time.monotonic() + WAIT_MS / 1000
            while True:
                page.goto(base + "/alarms")
                page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
                if row.count() or time.monotonic() > deadline:
                    break
                page.wait_for_timeout(2000)
            assert row.count() == 1, page.locator("#alarms").inner_text()
            assert row.locator("td.kind").inner_text() == "sensor_error"
            page.screenshot(path=str(tmp_path / "demo-alarms.png"), full_page=True)
            # the fleet page: every chamber, each with its newest sample's phase and cycle;
            # the fault-free reference chambers online
            page.goto(base + "/")
            rows = page.locator("#devices tbody tr")
            assert rows.count() == 8
            phases = {"open", "closing", "closed", "extended", "opening", "flush"}
            for i in range(rows.count()):
                row = rows.nth(i)
                assert row.locator("td.phase").inner_text() in phases
                assert row.locator("td.cyc").inner_text().isdigit()
            for ref in ("ch000", "ch001"):
                row = page.locator(f"#devices tbody tr[data-device='{ref}']")
                assert row.locator("td.link").inner_text() == "online"
            page.screenshot(path=str(tmp_path / "demo-fleet.png"), full_page=True)
        finally:
            context.close()
            browser.close()
    local = urlsplit(base).netloc
    assert [u for u in requests if urlsplit(u).netloc != local] == []

    children = _children(proc.pid)
    assert children, "the demo should run Mosquitto as its child"
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(60) == 0
    assert "stopped" in out.read_text()
    assert "Traceback" not in err.read_text(), err.read_text()
    assert [c for c in children if _alive(c)] == []
