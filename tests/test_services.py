"""The shared service fixtures start real services that really answer."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from playwright.sync_api import sync_playwright

from testsupport.services import Broker, Browser, Postgres, run_postgres

REPO = Path(__file__).resolve().parent.parent


def test_mosquitto_round_trip(mosquitto: Broker) -> None:
    topic = f"test/{uuid.uuid4().hex}"
    got: list[bytes] = []
    arrived = threading.Event()
    subscribed = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.payload)
        arrived.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        assert subscribed.wait(5)
        client.publish(topic, b"hello", qos=1).wait_for_publish(5)
        assert arrived.wait(5)
    finally:
        client.loop_stop()
        client.disconnect()
    assert got == [b"hello"]


def test_postgres_round_trip(postgres: Postgres) -> None:
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (x double precision)")
        conn.execute("INSERT INTO t VALUES (1.5), (2.5)")
        row = conn.execute("SELECT sum(x), version() FROM t").fetchone()
    assert row is not None
    assert row[0] == pytest.approx(4.0)
    assert "PostgreSQL" in row[1]


def test_a_kept_postgres_cluster_keeps_its_data_across_restarts(postgres: Postgres) -> None:
    # (the fixture only makes the test need PostgreSQL, skipped or failed as the others are)
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="pgkept-"))  # not tmp_path: the server's user
    try:  # must be able to enter it
        with run_postgres(keep_root=root) as pg, psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute("CREATE TABLE kept (x int)")
            c.execute("INSERT INTO kept VALUES (7)")
        assert (root / "data" / "PG_VERSION").exists()
        assert not (root / "data" / "postmaster.pid").exists()  # stopped, not deleted
        with run_postgres(keep_root=root) as pg, psycopg.connect(pg.dsn) as conn:
            assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_chromium_renders_and_runs_javascript(chromium: Browser) -> None:
    html = (
        "<html><body><p id=out>waiting</p>"
        "<script>document.getElementById('out').textContent = String(6 * 7)</script>"
        "</body></html>"
    )
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(chromium.cdp_url)
        try:
            page = browser.new_context().new_page()
            page.set_content(html)
            assert page.text_content("#out") == "42"
            assert page.screenshot()[:8] == b"\x89PNG\r\n\x1a\n"
        finally:
            browser.close()


NEEDS_BROKER = """
def test_needs_broker(mosquitto):
    pass
"""

SKIPS_ITSELF = """
import pytest

@pytest.mark.service
def test_skips_itself():
    pytest.skip("no broker today")
"""


def _run_probe(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on a one-test file with the service plugin, as CI would."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(source)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    command += ["-p", "testsupport.services", "-q", str(probe)]
    command += ["--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml")]
    missing = str(tmp_path / "no-such-mosquitto")
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "MOSQUITTO_BIN": missing, **env},
    )


def test_missing_service_skips_with_reason(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, NEEDS_BROKER, REQUIRE_SERVICES="0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "mosquitto is not installed" in result.stdout


def test_missing_service_fails_when_required(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, NEEDS_BROKER, REQUIRE_SERVICES="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "REQUIRE_SERVICES=1 but mosquitto is not installed" in result.stdout


def test_skipped_service_test_fails_run_when_required(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, SKIPS_ITSELF, REQUIRE_SERVICES="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "service tests were skipped" in result.stdout
