"""The A/B loader: signed manifests, verified streamed downloads, confirm or roll back.

The device's flash is a temporary directory; the update server is a fake that serves the
files ``fluxfleet.keys.write_bundle`` published (and can corrupt, truncate or go silent);
one test runs the loader over real HTTP against a local server.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
from fluxfleet import keys
from fluxfleet.firmware import ed25519, loader
from fluxfleet.firmware import http as fw_http
from fluxfleet.firmware.hal.host import TcpTransport

BASE = "http://updates.example/fleet"


class FakeResponse:
    def __init__(self, status: int, data: bytes, chunk: int = 300) -> None:
        self.status = status
        self.data = data
        self.chunk = chunk
        self.closed = False

    def read(self, n: int) -> bytes:
        out, self.data = self.data[: min(n, self.chunk)], self.data[min(n, self.chunk) :]
        return out

    def close(self) -> None:
        self.closed = True


class FakeServer:
    """Serves ``root`` (a directory written by keys.write_bundle) under BASE."""

    def __init__(self, root: Path, clock: list[int]) -> None:
        self.root = root
        self.clock = clock
        self.silent = False
        self.tamper: dict[str, bytes] = {}  # relative path -> bytes served instead
        self.requests: list[tuple[str, int]] = []

    def fetch(self, url: str, timeout_ms: int) -> FakeResponse:
        self.requests.append((url, timeout_ms))
        if self.silent:  # nothing comes back: the transport gives up at the deadline
            self.clock[0] += timeout_ms
            raise OSError(110, "ETIMEDOUT")
        rel = url[len(BASE) + 1 :]
        if rel in self.tamper:
            return FakeResponse(200, self.tamper[rel])
        path = self.root / rel
        if not path.is_file():
            return FakeResponse(404, b"not found")
        return FakeResponse(200, path.read_bytes())


class Wdt:
    def __init__(self) -> None:
        self.feeds = 0

    def feed(self) -> None:
        self.feeds += 1


def make_src(tmp: Path, name: str, marker: str) -> Path:
    """A small firmware tree (main.py, a package) whose content names its version."""
    src = tmp / name
    (src / "drivers").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "main.py").write_text(f"VERSION = {marker!r}\n" + "# padding\n" * 200)
    (src / "drivers" / "__init__.py").write_text("")
    (src / "drivers" / "x.py").write_text("X = 1\n")
    return src


class Device:
    """A chamber's flash (a directory) and its loader, rebuilt at every boot."""

    def __init__(self, tmp: Path, server: FakeServer, key: bytes, clock: list[int]) -> None:
        self.flash = tmp / "flash"
        self.flash.mkdir()
        self.server = server
        self.key = key
        self.clock = clock
        self.log: list[str] = []
        self.wdt = Wdt()

    def boot(self) -> dict[str, object]:
        self.loader = loader.Loader(
            str(self.flash),
            self.key,
            BASE,
            self.server.fetch,
            lambda: self.clock[0],
            self.wdt,
            self.log.append,
        )
        return self.loader.boot()

    def running(self, decision: dict[str, object]) -> str | None:
        """The VERSION string the device would run (read from the slot's main.py)."""
        if decision["slot"] is None:
            return None
        text = (Path(str(decision["path"])) / "app" / "main.py").read_text()
        return text.splitlines()[0].split("'")[1]


@pytest.fixture
def fleet_key() -> keys.FleetKey:
    return keys.generate_key()


@pytest.fixture
def setup(tmp_path: Path, fleet_key: keys.FleetKey) -> tuple[Device, FakeServer, Path]:
    clock = [0]
    www = tmp_path / "www"
    www.mkdir()
    server = FakeServer(www, clock)
    dev = Device(tmp_path, server, fleet_key.public_bytes, clock)
    return dev, server, www


def publish(tmp: Path, www: Path, key: keys.FleetKey, version: str) -> None:
    keys.write_bundle(www, version, key, src=make_src(tmp, "src-" + version, version))


def test_first_boot_installs_verifies_and_runs_the_bundle(setup, tmp_path, fleet_key):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    d = dev.boot()
    assert d["updated"] is True
    assert (d["slot"], d["version"], d["pending"]) == ("a", "6.0.0", True)
    assert dev.running(d) == "6.0.0"
    assert (dev.flash / "slot_a" / "app" / "drivers" / "x.py").read_text() == "X = 1\n"
    assert not list(dev.flash.rglob("*.tmp"))
    assert dev.wdt.feeds >= 6  # fed between chunks and steps
    assert server.requests[0] == (BASE + "/manifest.json", 20_000)  # the 20 s budget


def test_up_to_date_boot_does_not_download(setup, tmp_path, fleet_key):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    server.requests.clear()
    d = dev.boot()
    assert d["reason"] == "up to date"
    assert [u for u, _ in server.requests] == [BASE + "/manifest.json"]
    assert (d["slot"], d["pending"]) == ("a", False)


def test_an_update_goes_to_the_other_slot_and_keeps_the_old_one(setup, tmp_path, fleet_key):
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    d = dev.boot()
    assert (d["slot"], d["version"], d["pending"]) == ("b", "6.1.0", True)
    assert dev.loader.state["prev"] == "a"
    assert dev.loader.slot_version("a") == "6.0.0"


@pytest.mark.parametrize("fault", ["corrupt", "truncated", "longer"])
def test_a_corrupt_or_truncated_file_is_refused_and_the_old_version_runs(
    setup, tmp_path, fleet_key, fault
):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    good = (www / "bundles/6.1.0/main.py").read_bytes()
    bad = {
        "corrupt": good[:-5] + b"EVIL\n",  # same size, different hash
        "truncated": good[: len(good) // 2],
        "longer": good + b"import os\n",
    }[fault]
    server.tamper["bundles/6.1.0/main.py"] = bad
    d = dev.boot()
    assert d["updated"] is False
    expected = {"corrupt": "SHA-256", "truncated": "truncated", "longer": "longer than"}[fault]
    assert "update refused: manifest.files[" in str(d["reason"])
    assert expected in str(d["reason"])
    assert (d["slot"], d["version"]) == ("a", "6.0.0")
    assert dev.running(d) == "6.0.0"
    assert dev.loader.state["active"] == "a"
    assert not (dev.flash / "slot_b" / "manifest.json").exists()  # never became a valid slot


def _envelope(www: Path) -> dict[str, str]:
    env: dict[str, str] = json.loads((www / "manifest.json").read_bytes())
    return env


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ("unsigned", "manifest.sig: missing"),
        ("other_key", "manifest.sig: does not verify"),
        ("tampered_body", "manifest.sig: does not verify"),
        ("not_json", "manifest: not JSON"),
    ],
)
def test_an_unsigned_or_wrongly_signed_manifest_is_refused(
    setup, tmp_path, fleet_key, change, what
):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    env = _envelope(www)
    if change == "unsigned":
        del env["sig"]
    elif change == "other_key":
        other = keys.generate_key()
        env = json.loads(keys.sign_manifest(json.loads(env["body"]), other))
    elif change == "tampered_body":
        body = json.loads(env["body"])
        body["files"][0]["size"] += 0  # same content ...
        body["version"] = "6.1.1"  # ... but a different version than was signed
        env["body"] = json.dumps(body, separators=(",", ":"), sort_keys=True)
    raw = b"{oops" if change == "not_json" else json.dumps(env).encode()
    server.tamper["manifest.json"] = raw
    d = dev.boot()
    assert what in str(d["reason"])
    assert (d["slot"], d["version"]) == ("a", "6.0.0")
    assert not any("bundles/6.1" in u for u, _ in server.requests)  # nothing downloaded


def test_a_silent_server_costs_at_most_20_s_then_the_cached_version_runs(
    setup, tmp_path, fleet_key
):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    server.silent = True
    t0 = dev.clock[0]
    d = dev.boot()
    assert dev.clock[0] - t0 == 20_000
    assert "update server unavailable" in str(d["reason"])
    assert (d["slot"], d["version"]) == ("a", "6.0.0")


def test_no_bundle_and_no_server_is_safe_mode(setup):
    dev, server, _ = setup
    server.silent = True
    d = dev.boot()
    assert d["slot"] is None


def test_an_unconfirmed_version_is_reverted_after_3_boots_and_not_reinstalled(
    setup, tmp_path, fleet_key
):
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")  # crashes before confirming, say
    runs = [dev.running(dev.boot()) for _ in range(5)]
    assert runs == ["6.1.0", "6.1.0", "6.1.0", "6.0.0", "6.0.0"]
    assert dev.loader.state["bad"] == ["6.1.0"]
    assert dev.loader.state["pending"] is False
    assert any("did not confirm itself in 3 boots" in m for m in dev.log)
    assert "reverted before" in dev.log[-1]
    # a fixed release with a new version number is installed again
    publish(tmp_path, www, fleet_key, "6.1.1")
    d = dev.boot()
    assert (d["version"], d["pending"]) == ("6.1.1", True)


def test_a_version_that_confirms_within_3_boots_stays(setup, tmp_path, fleet_key):
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    dev.boot()
    dev.boot()
    dev.boot()  # third boot of 6.1.0: its first cycle and publish confirm it
    dev.loader.confirm()
    runs = [dev.running(dev.boot()) for _ in range(4)]
    assert runs == ["6.1.0"] * 4


def test_flash_corruption_of_the_active_slot_falls_back_and_never_runs_it(
    setup, tmp_path, fleet_key
):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    dev.boot()
    dev.loader.confirm()
    victim = dev.flash / "slot_b" / "app" / "drivers" / "x.py"
    victim.write_text("X = 2\n")  # a bit flip
    server.silent = True
    d = dev.boot()
    assert (d["slot"], d["version"]) == ("a", "6.0.0")
    assert any("not running slot b" in m and "drivers/x.py" in m for m in dev.log)


def test_path_traversal_in_a_signed_manifest_is_still_refused(setup, fleet_key):
    dev, server, _ = setup
    manifest = {
        "v": 1,
        "version": "9.9.9",
        "files": [{"path": "../boot.py", "size": 1, "sha256": "0" * 64}],
    }
    server.tamper["manifest.json"] = keys.sign_manifest(manifest, fleet_key)
    d = dev.boot()
    assert "manifest.files[0].path: path '../boot.py' leaves the bundle" in str(d["reason"])


def test_the_real_firmware_bundle_installs(setup, fleet_key):
    dev, _, www = setup
    keys.write_bundle(www, "6.1.0", fleet_key)
    d = dev.boot()
    assert (d["slot"], d["version"]) == ("a", "6.1.0")
    app = Path(str(d["path"])) / "app"
    assert (app / "controller.py").read_bytes() == (
        keys.FIRMWARE_DIR / "controller.py"
    ).read_bytes()
    assert (app / "drivers" / "scd30.py").is_file()
    assert not (app / "boot.py").exists()  # stage 0 is never replaced by an update


def test_device_side_ed25519_verifies_what_the_release_side_signs(fleet_key):
    env = json.loads(keys.sign_manifest({"v": 1, "version": "1", "files": []}, fleet_key))
    sig = bytes.fromhex(env["sig"])
    assert ed25519.verify(fleet_key.public_bytes, env["body"].encode(), sig)
    assert not ed25519.verify(fleet_key.public_bytes, env["body"].encode() + b" ", sig)
    # RFC 8032 section 7.1, test 1 (empty message)
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sg = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert ed25519.verify(pk, b"", sg)
    assert not ed25519.verify(pk, b"x", sg)


@pytest.mark.parametrize("n", [0, 1, 111, 112, 127, 128, 129, 1000])
def test_pure_python_sha512_matches_hashlib(n):
    import hashlib

    data = bytes((i * 7 + 3) % 256 for i in range(n))
    assert ed25519.sha512(data) == hashlib.sha512(data).digest()


def test_the_loader_over_real_http(tmp_path, fleet_key):
    www = tmp_path / "www"
    www.mkdir()
    publish(tmp_path, www, fleet_key, "7.0.0")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
            pass

    srv = Quiet(("127.0.0.1", 0), handler)
    srv.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        import time

        port = srv.server_address[1]
        flash = tmp_path / "flash"
        flash.mkdir()

        def fetch(url: str, timeout_ms: int) -> fw_http.Response:
            return fw_http.get(TcpTransport, url, timeout_ms, lambda: int(time.monotonic() * 1000))

        ld = loader.Loader(
            str(flash), fleet_key.public_bytes, f"http://127.0.0.1:{port}", fetch, lambda: 0
        )
        d = ld.boot()
        assert (d["slot"], d["version"], d["updated"]) == ("a", "7.0.0", True)
    finally:
        srv.shutdown()
        srv.server_close()


def test_fleet_key_files_round_trip_and_the_private_key_is_private(tmp_path, fleet_key):
    path = tmp_path / "fleet.key"
    keys.save_key(fleet_key, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "fleet.key.pub").read_text().strip() == fleet_key.public_hex
    again = keys.load_key(path)
    assert again.public_bytes == fleet_key.public_bytes
    env = json.loads(keys.sign_manifest({"v": 1}, again))
    assert ed25519.verify(fleet_key.public_bytes, env["body"].encode(), bytes.fromhex(env["sig"]))


def test_a_published_bundle_lists_every_firmware_file_but_stage_0(tmp_path, fleet_key):
    www = tmp_path / "www"
    keys.write_bundle(www, "6.1.0", fleet_key)
    body = json.loads(json.loads((www / "manifest.json").read_bytes())["body"])
    paths = {f["path"] for f in body["files"]}
    expected = {
        p.relative_to(keys.FIRMWARE_DIR).as_posix()
        for p in keys.FIRMWARE_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    } - {"boot.py"}
    assert paths == expected
    assert {"main.py", "controller.py", "protocol.py", "drivers/scd30.py"} <= paths
    assert not list(www.rglob("*.tmp"))


@pytest.mark.parametrize("version", ["..", ".hidden"])
def test_a_signed_version_that_would_leave_the_bundles_directory_is_refused(
    setup, fleet_key, version
):
    dev, server, _ = setup
    manifest = {
        "v": 1,
        "version": version,
        "files": [{"path": "main.py", "size": 1, "sha256": "0" * 64}],
    }
    server.tamper["manifest.json"] = keys.sign_manifest(manifest, fleet_key)
    d = dev.boot()
    assert "manifest.version: must not start with '.'" in str(d["reason"])
    assert d["slot"] is None
    assert [u for u, _ in server.requests] == [BASE + "/manifest.json"]  # nothing fetched


# --- field defects (issue 12) ---------------------------------------------------------------


def test_a_first_install_that_never_confirms_is_kept_never_reverted_to_nothing(
    setup, tmp_path, fleet_key
):
    # a factory install waiting for its location code or a broker for 3 x 6 h: the only
    # version must keep running (before: reverted to slot None and blacklisted = bricked)
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    runs = [dev.running(dev.boot()) for _ in range(6)]
    assert runs == ["6.0.0"] * 6
    assert dev.loader.state["bad"] == []
    assert any("no verified previous version: keeping it" in m for m in dev.log)
    server.silent = True  # and offline too
    assert dev.running(dev.boot()) == "6.0.0"


def test_an_unconfirmed_update_whose_old_slot_is_corrupt_is_kept(setup, tmp_path, fleet_key):
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    dev.boot()
    (dev.flash / "slot_a" / "app" / "main.py").write_text("broken\n")
    runs = [dev.running(dev.boot()) for _ in range(4)]
    assert runs == ["6.1.0"] * 4


class HostileTransport:
    """An update server's socket that answers every request with ``reply``."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def write(self, data: bytes) -> None:
        pass

    def read(self, n: int, timeout_ms: int) -> bytes:
        out, self.reply = self.reply[:n], self.reply[n:]
        return out

    def close(self) -> None:
        pass


HOSTILE = [
    b"HTTP/1.1 OK\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 12abc\r\n\r\n{}",
    b"HTTP/1.0 200 OK\r\nLocation: \xe9t\xe9\r\n\r\n",
    b"<html>captive portal</html>\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n" + b"\xff" * 300,  # a body that is not a manifest
]


@pytest.mark.parametrize("reply", HOSTILE)
def test_any_hostile_http_reply_runs_the_cached_version(setup, tmp_path, fleet_key, reply):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    clock = dev.clock
    server.fetch = lambda url, timeout_ms: fw_http.get(  # type: ignore[method-assign]
        lambda host, port: HostileTransport(reply), url, timeout_ms, lambda: clock[0]
    )
    d = dev.boot()
    assert (d["slot"], d["version"]) == ("a", "6.0.0")
    assert "running the cached version" in str(d["reason"]) or "refused" in str(d["reason"])


@pytest.mark.parametrize("base", ["ftp://updates.example/fleet", "updates.example/fleet"])
def test_an_update_url_the_client_cannot_speak_runs_the_cached_version(
    setup, tmp_path, fleet_key, base
):
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    ld = loader.Loader(
        str(dev.flash),
        fleet_key.public_bytes,
        base,
        lambda url, t: fw_http.get(lambda h, p: HostileTransport(b""), url, t, lambda: 0),
        lambda: 0,
    )
    d = ld.boot()
    assert (d["slot"], d["version"]) == ("a", "6.0.0")
    assert "only http:// and https://" in str(d["reason"])


def test_an_unexpected_error_in_the_update_path_runs_the_cached_version(setup, tmp_path, fleet_key):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()

    def broken(url: str, timeout_ms: int) -> FakeResponse:
        raise MemoryError("out of RAM while connecting")

    server.fetch = broken  # type: ignore[method-assign]
    d = dev.boot()
    assert d["version"] == "6.0.0"
    assert "update failed" in str(d["reason"])


@pytest.mark.parametrize("damage", ["lost", "empty", "garbage", "rename_cut"])
def test_a_lost_or_corrupt_pointer_is_rebuilt_by_verifying_both_slots(
    setup, tmp_path, fleet_key, damage
):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    dev.boot()
    dev.loader.confirm()
    ptr = dev.flash / "loader.json"
    if damage == "rename_cut":  # FAT: remove-then-rename, cut between the two
        ptr.rename(dev.flash / "loader.json.tmp")
    elif damage == "lost":
        ptr.unlink()
    else:
        ptr.write_bytes(b"" if damage == "empty" else b'{"active": "zz", ')
    server.requests.clear()
    d = dev.boot()
    assert (d["slot"], d["version"]) == ("b", "6.1.0")
    assert d["reason"] == "up to date"  # nothing downloaded over a good slot
    assert dev.loader.slot_version("a") == "6.0.0"
    assert [u for u, _ in server.requests] == [BASE + "/manifest.json"]


def test_a_rebuilt_pointer_skips_a_corrupt_slot(setup, tmp_path, fleet_key):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    dev.boot()
    (dev.flash / "loader.json").unlink()
    (dev.flash / "slot_b" / "app" / "main.py").write_text("bit rot\n")
    server.silent = True
    d = dev.boot()
    assert (d["slot"], d["version"]) == ("a", "6.0.0")
    assert dev.loader.state["pending"] is False


def test_a_rebuilt_pointer_with_two_slots_reverts_to_the_older_if_the_newer_never_confirms(
    setup, tmp_path, fleet_key
):
    dev, server, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    dev.boot()  # 6.1.0 pending, then the pointer is lost
    (dev.flash / "loader.json").unlink()
    server.silent = True
    runs = [dev.running(dev.boot()) for _ in range(5)]
    assert runs == ["6.1.0", "6.1.0", "6.1.0", "6.0.0", "6.0.0"]


def _publish_manifest(www: Path, src: Path, key: keys.FleetKey, version: str, **extra: str) -> None:
    """Publish ``version`` with extra manifest fields signed in (by hand, not via the CLI)."""
    keys.write_bundle(www, version, key, src=src)  # the files
    m = keys.build_manifest(version, src)
    m.update(extra)
    (www / "manifest.json").write_bytes(keys.sign_manifest(m, key))


def test_min_version_stops_the_replay_of_an_older_signed_bundle(setup, tmp_path, fleet_key):
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    old_envelope = (www / "manifest.json").read_bytes()
    dev.boot()
    dev.loader.confirm()
    _publish_manifest(
        www, make_src(tmp_path, "s61", "6.1.0"), fleet_key, "6.1.0", min_version="6.1.0"
    )
    d = dev.boot()
    assert (d["version"], dev.loader.state["floor"]) == ("6.1.0", "6.1.0")
    dev.loader.confirm()
    (www / "manifest.json").write_bytes(old_envelope)  # a replayed, validly signed 6.0.0
    d = dev.boot()
    assert d["version"] == "6.1.0"
    assert "older than the minimum 6.1.0" in str(d["reason"])
    # an operator's deliberate rollback stays possible: a new bundle that allows it
    _publish_manifest(
        www, make_src(tmp_path, "s62", "6.0.1"), fleet_key, "6.0.1", min_version="6.0.1"
    )
    assert dev.boot()["reason"].startswith("update refused")  # 6.0.1 < floor 6.1.0 too


def test_min_version_must_not_exceed_the_version_and_versions_sort_by_number():
    body = json.dumps(
        {
            "v": 1,
            "version": "6.0.0",
            "min_version": "6.1.0",
            "files": [{"path": "main.py", "size": 0, "sha256": "0" * 64}],
        }
    ).encode()
    with pytest.raises(loader.LoaderError, match=r"manifest\.min_version"):
        loader.parse_manifest(body)
    assert loader.version_key("6.10.0") > loader.version_key("6.9.3")
    assert loader.version_key("6.1.0") == loader.version_key("6.1.0")
    assert loader.version_key("7") > loader.version_key("6.99")


def test_a_newer_release_never_overwrites_the_fallback_while_the_running_one_is_unconfirmed(
    setup, tmp_path, fleet_key
):
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    dev.boot()  # 6.1.0 pending in slot b, 6.0.0 the fallback in slot a
    publish(tmp_path, www, fleet_key, "6.2.0")
    d = dev.boot()
    assert d["version"] == "6.1.0"
    assert "6.2.0 waits" in str(d["reason"])
    assert dev.loader.slot_version("a") == "6.0.0"  # the fallback is intact
    dev.loader.confirm()
    d = dev.boot()
    assert (d["version"], d["slot"]) == ("6.2.0", "a")  # now it may go over 6.0.0


def test_the_server_naming_the_previous_version_rolls_an_unconfirmed_one_back_at_once(
    setup, tmp_path, fleet_key
):
    """``fluxfleet rollout``'s rollback: the canary goes back at its next boot, not after 3."""
    dev, _, www = setup
    publish(tmp_path, www, fleet_key, "6.0.0")
    dev.boot()
    dev.loader.confirm()
    publish(tmp_path, www, fleet_key, "6.1.0")
    d = dev.boot()
    assert (d["version"], d["slot"], d["pending"]) == ("6.1.0", "b", True)
    # the update server serves 6.0.0's signed manifest again (kept by fluxfleet bundle)
    (www / "manifest.json").write_bytes((www / "manifests" / "6.0.0.json").read_bytes())
    d = dev.boot()
    assert (d["version"], d["slot"], d["pending"], d["reverted"]) == ("6.0.0", "a", False, True)
    assert "rolled back to 6.0.0" in str(d["reason"])
    d = dev.boot()
    assert (d["version"], d["reason"]) == ("6.0.0", "up to date")
    # a confirmed version is not rolled back this way: the old one is installed anew
    publish(tmp_path, www, fleet_key, "6.2.0")
    dev.boot()
    dev.loader.confirm()
    (www / "manifest.json").write_bytes((www / "manifests" / "6.0.0.json").read_bytes())
    d = dev.boot()
    assert (d["version"], d["updated"]) == ("6.0.0", True)
