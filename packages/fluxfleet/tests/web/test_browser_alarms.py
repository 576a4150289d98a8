"""End to end in headless Chromium: the Alarms page and the Commands panel against
``fluxfleet serve`` on a DuckDB store of their own (an alarm raised by Store.raise_alarm,
a token made by ops.tokens.create) and a Mosquitto broker.

Alarms: the alarm is shown; acknowledging without a token is refused and says so; with the
token it is acknowledged and the row shows who. Commands: sending without a token (or with
a wrong one) is refused and nothing is recorded; with the token the command is recorded and
published, and the page shows each device's acks as the ingestor stores them (through the
real batch path). The ``page`` fixture of test_browser fails any test whose page asked a
host other than the console. Screenshots stay in the test's tmp dir."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fluxfleet.ops import tokens
from fluxfleet.store import Store, StoreError, open_store

from . import test_browser
from .test_alarms_commands_api import ingest_acks
from .test_browser import serving

page = test_browser.page  # a fresh page that fails on any non-local request

T0 = dt.datetime(2026, 5, 1, 3, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with one open alarm and an API token."""
    url = f"duckdb:///{tmp_path_factory.mktemp('alarms')}/fleet.duckdb"
    with open_store(url) as st:
        alarm_id, new = st.raise_alarm("ch001", "offline", "major", T0, None, "no sample")
        assert new
        token = tokens.create(st, "alice", 1_000)
    return {"url": url, "alarm_id": alarm_id, "token": token}


@pytest.fixture(scope="module")
def console(
    fleet: dict[str, Any], mosquitto: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``fluxfleet serve`` on the module's store, sending commands to the test broker."""
    env = dict(os.environ, FLUXFLEET_BROKER=mosquitto.url)
    with serving(fleet["url"], tmp_path_factory.mktemp("serve") / "serve.log", env) as base:
        yield base


def with_store(url: str, action: Callable[[Store], Any]) -> Any:
    """``action`` on the store opened for writing, once ``serve`` lets go of the DuckDB file
    (its ack stream opens it read-only once a second)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            st = open_store(url)
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        try:
            return action(st)
        finally:
            st.close()


def read(url: str, table: str) -> list[dict[str, Any]]:
    return list(with_store(url, lambda st: st.read(table).to_pylist()))


def test_an_alarm_is_acknowledged_only_with_a_token(
    page: Any, console: str, fleet: dict[str, Any], tmp_path: Path
) -> None:
    alarm_id = fleet["alarm_id"]
    page.goto(console + "/alarms")
    page.wait_for_selector("body[data-loaded='true']")
    row = page.locator(f"#alarms tbody tr[data-id='{alarm_id}']")
    assert row.locator("td.device").inner_text() == "ch001"
    assert row.locator("td.kind").inner_text() == "offline"
    assert row.locator("td.raised").inner_text() == "2026-05-01 03:00:00"
    assert row.locator("td.acked-by").inner_text() == ""
    row.locator("button.ack").click()  # no token typed
    error = page.locator("#alarm-error")
    error.filter(has_text="refused (401)").wait_for()
    page.screenshot(path=str(tmp_path / "alarms-refused.png"), full_page=True)
    assert read(fleet["url"], "alarms")[0]["acked"] is None
    page.fill("#token", fleet["token"][:-1] + "x")  # a wrong one
    row.locator("button.ack").click()
    error.filter(has_text="refused (403)").wait_for()
    assert read(fleet["url"], "alarms")[0]["acked"] is None
    page.fill("#token", fleet["token"])
    page.click("#token-form button[type=submit]")
    row.locator("button.ack").click()
    row.locator("td.acked-by").filter(has_text="token:alice").wait_for()
    page.screenshot(path=str(tmp_path / "alarms-acked.png"), full_page=True)
    assert error.inner_text() == ""
    assert row.locator("button.ack").count() == 0
    stored = read(fleet["url"], "alarms")[0]
    assert stored["acked_by"] == "token:alice"
    assert row.locator("td.acked").inner_text() == stored["acked"].strftime("%Y-%m-%d %H:%M:%S")
    # the token stays in this tab only
    assert page.evaluate("sessionStorage.getItem('fluxfleet-token')") == fleet["token"]


def test_the_command_panel_refuses_without_a_token_then_follows_the_acks(
    page: Any, console: str, fleet: dict[str, Any], tmp_path: Path
) -> None:
    page.goto(console + "/commands")
    page.select_option("#send select[name=cmd]", "servo_test")
    page.fill("#send input[name=sweeps]", "3")
    page.fill("#send input[name=devices]", "ch001 ch002")
    page.click("#send button[type=submit]")
    page.locator("#send-error").filter(has_text="refused (401)").wait_for()
    page.screenshot(path=str(tmp_path / "commands-refused.png"), full_page=True)
    page.fill("#token", "fft_00000000_" + "A" * 43)
    page.click("#send button[type=submit]")
    page.locator("#send-error").filter(has_text="refused (403)").wait_for()
    assert read(fleet["url"], "commands") == []

    page.fill("#token", fleet["token"])
    page.click("#send button[type=submit]")
    page.wait_for_selector("#follow[data-loaded='true']")
    commands = read(fleet["url"], "commands")
    assert len(commands) == 1
    cmd_id = commands[0]["cmd_id"]
    assert (commands[0]["cmd"], commands[0]["target"], commands[0]["operator"]) == (
        "servo_test", "ch001,ch002", "token:alice"
    )  # fmt: skip
    assert '"sweeps":3' in commands[0]["payload"].replace(" ", "")
    assert page.locator("#cmd-id").inner_text() == cmd_id
    rows = page.locator("#acks tbody tr")
    assert [rows.nth(i).get_attribute("data-state") for i in range(rows.count())] == [
        "no_answer", "no_answer"
    ]  # fmt: skip

    sent_ms = int(commands[0]["sent"].timestamp() * 1000)
    with_store(fleet["url"], lambda st: ingest_acks(
        st, [("ch001", cmd_id, "accepted", sent_ms + 1000, None)]))  # fmt: skip
    ch001 = page.locator("#acks tbody tr[data-device='ch001']")
    page.wait_for_selector("#acks tbody tr[data-device='ch001'][data-state='accepted']")
    with_store(fleet["url"], lambda st: ingest_acks(st, [
        ("ch001", cmd_id, "done", sent_ms + 9000, None),
        ("ch002", cmd_id, "failed", sent_ms + 2000, "lid is closed"),
    ]))  # fmt: skip
    page.wait_for_selector("#acks tbody tr[data-device='ch002'][data-state='failed']")
    page.wait_for_selector("#acks tbody tr[data-device='ch001'][data-state='done']")
    page.screenshot(path=str(tmp_path / "commands-acks.png"), full_page=True)
    ch002 = page.locator("#acks tbody tr[data-device='ch002']")
    assert ch002.locator("td.detail").inner_text() == "lid is closed"
    done = dt.datetime.fromtimestamp((sent_ms + 9000) / 1000, dt.UTC)
    assert ch001.locator("td.final").inner_text() == done.strftime("%Y-%m-%d %H:%M:%S")
    assert "done 1, failed 1" in page.locator("#cmd-summary").inner_text()
