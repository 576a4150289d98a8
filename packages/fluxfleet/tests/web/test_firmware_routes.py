"""``fluxfleet serve --bundles``: the signed manifest each device is assigned, the bundle
files, and nothing else (no path outside a bundle, no version never published)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fluxfleet import keys
from fluxfleet.ops import firmware
from fluxfleet.settings import Settings
from fluxfleet.store import open_store
from fluxfleet.web import create_app

from .conftest import TestClient


@pytest.fixture
def served(tmp_path: Path) -> tuple[TestClient, Path, str]:
    key = keys.generate_key()
    www = tmp_path / "www"
    keys.write_bundle(www, "6.1.0", key)
    keys.write_bundle(www, "6.2.0", key, min_version="6.2.0")
    (tmp_path / "secret.txt").write_text("not for devices")
    url = f"duckdb:///{tmp_path}/fleet.duckdb"
    open_store(url).close()
    return TestClient(create_app(Settings(store=url, bundles=www))), www, url


def test_each_device_gets_its_assigned_signed_manifest(served) -> None:
    c, www, url = served
    newest = (www / "manifest.json").read_bytes()
    v61 = (www / "manifests" / "6.1.0.json").read_bytes()
    v62 = (www / "manifests" / "6.2.0.json").read_bytes()
    assert firmware.manifest_body(newest)["version"] == "6.2.0"
    assert c.get("/firmware/manifest.json").content == newest
    assert c.get("/firmware/d/ch001/manifest.json").content == newest  # nothing assigned
    with open_store(url) as st:
        st.execute(firmware.assign_statements([firmware.FLEET], "6.1.0", 1, None))
    assert c.get("/firmware/d/ch001/manifest.json").content == v61  # the fleet's version
    with open_store(url) as st:
        st.execute(firmware.assign_statements(["ch001"], "6.2.0", 2, "r1"))
    assert c.get("/firmware/d/ch001/manifest.json").content == v62  # its own
    assert c.get("/firmware/d/ch002/manifest.json").content == v61
    with open_store(url) as st:
        st.execute(firmware.assign_statements(["ch002"], "7.0.0", 3, "r2"))
        assert firmware.assignments(st) == {"*": "6.1.0", "ch001": "6.2.0", "ch002": "7.0.0"}
    r = c.get("/firmware/d/ch002/manifest.json")  # assigned, never published
    assert r.status_code == 404
    assert "ch002" in r.text


def test_bundle_files_are_served_whole_with_their_length(served) -> None:
    c, www, _ = served
    want = (www / "bundles" / "6.2.0" / "main.py").read_bytes()
    for path in ("/firmware/bundles/6.2.0/main.py", "/firmware/d/ch001/bundles/6.2.0/main.py"):
        r = c.get(path)
        assert r.status_code == 200
        assert r.content == want
        assert int(r.headers["content-length"]) == len(want)  # the loader reads a length
    assert c.get("/firmware/bundles/6.2.0/drivers/scd30.py").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/firmware/bundles/6.2.0/../../secret.txt",
        "/firmware/bundles/6.2.0/%2e%2e/%2e%2e/secret.txt",
        "/firmware/bundles/..%2F..%2Fsecret.txt/x.py",
        "/firmware/bundles/6.2.0/nothing.py",
        "/firmware/bundles/9.9.9/main.py",
        "/firmware/bundles/6.2.0/main.pyc",
        "/firmware/bundles/.hidden/main.py",
        "/firmware/d/ALL/manifest.json",
        "/firmware/d/all/manifest.json",
        "/firmware/d/ch001/bundles/6.2.0/..%2Fmanifest.json",
    ],
)
def test_nothing_outside_a_bundle_is_served(served, path: str) -> None:
    c, _, _ = served
    r = c.get(path)
    assert r.status_code == 404, (path, r.text)
    assert b"not for devices" not in r.content


def test_no_bundles_no_firmware(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/fleet.duckdb"
    open_store(url).close()
    c = TestClient(create_app(Settings(store=url)))
    r = c.get("/firmware/manifest.json")
    assert r.status_code == 404
    assert "--bundles" in r.text
