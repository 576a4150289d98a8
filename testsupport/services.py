"""Real services for tests: Mosquitto, PostgreSQL and headless Chromium.

Each fixture starts the real program as a subprocess on a free loopback port in a
temporary directory, waits until it answers, and stops it afterwards. A missing binary
skips the test with the reason, unless ``REQUIRE_SERVICES=1`` (as in CI), where it fails.

Binaries are found on ``PATH`` (and in Debian's PostgreSQL directory); ``MOSQUITTO_BIN``,
``PG_BIN_DIR`` and ``CHROMIUM_BIN`` override where to look.

Loaded for every test by the root ``conftest.py`` as a pytest plugin.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVICE_FIXTURES = frozenset({"mosquitto", "postgres", "chromium"})
REPO_ROOT = Path(__file__).resolve().parent.parent


def services_required() -> bool:
    """True when a missing service must fail the run rather than skip (CI)."""
    return os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def missing_service(reason: str) -> None:
    """Skip the current test with ``reason`` -- or fail it under REQUIRE_SERVICES=1."""
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    ready: Callable[[], bool], *, timeout_s: float, what: str, proc: subprocess.Popen[bytes]
) -> None:
    """Poll ``ready`` until it returns True; fail with the process's log if it dies or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before answering")
        with contextlib.suppress(OSError, ValueError):
            if ready():
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not answer within {timeout_s} s")


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


def _binary(env_var: str, names: list[str], extra_globs: tuple[str, ...] = ()) -> str | None:
    override = os.environ.get(env_var)
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for pattern in extra_globs:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[-1]
    return None


# --------------------------------------------------------------------------- Mosquitto


@dataclass(frozen=True)
class Broker:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@contextlib.contextmanager
def run_mosquitto() -> Iterator[Broker]:
    """Start a Mosquitto broker on a free port; yield it; stop it.

    The launcher is fluxfleet's own (the one ``fluxfleet demo`` uses); this adds only the
    skip-or-fail policy for a missing binary.
    """
    from fluxfleet.sim.broker import find_mosquitto, local_mosquitto

    exe = find_mosquitto()
    if exe is None:
        missing_service("mosquitto is not installed (apt-get install mosquitto)")
        raise AssertionError("unreachable")
    with local_mosquitto(exe) as (host, port):
        yield Broker(host, port)


# --------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    dbname: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"


def _unprivileged_user() -> str | None:
    """PostgreSQL refuses to run as root: pick an account to run it as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account exists")


@contextlib.contextmanager
def run_postgres(keep_root: Path | None = None) -> Iterator[Postgres]:
    """initdb + pg_ctl a throw-away cluster on a free port; yield it; stop and delete it.

    With ``keep_root`` the cluster lives in that directory instead and is kept: made by
    ``initdb`` the first time, started again on later calls, and stopped cleanly (``fast``,
    a checkpoint: it runs with ``fsync=off``) but not deleted — for a long benchmark load
    that spans several sessions (benchmarks/season_store.py ``--pg-root``).
    """
    pg_dir = os.environ.get("PG_BIN_DIR")
    if pg_dir:
        candidates = [str(Path(pg_dir) / "initdb")]
    else:  # Debian keeps the server binaries off PATH, one directory per major version.
        debian = reversed(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        candidates = [shutil.which("initdb") or "", *debian]
    initdb = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if initdb is None:
        missing_service("PostgreSQL server is not installed (apt-get install postgresql)")
        raise AssertionError("unreachable")
    bindir = Path(initdb).parent
    user = _unprivileged_user()
    # Not under pytest's tmp_path: that is 0700 root-owned, which the server's user can't enter.
    root = Path(tempfile.mkdtemp(prefix="pgtest-")) if keep_root is None else keep_root
    root.mkdir(parents=True, exist_ok=True)
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    data, log_file = root / "data", root / "server.log"
    port = free_port()
    try:
        if not (data / "PG_VERSION").exists():
            subprocess.run(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--no-sync", "--no-instructions"],
                check=True, capture_output=True, user=user,
            )  # fmt: skip
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log_file), "-w", "-t", "30",
             "-o", f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off", "start"],
            check=True, capture_output=True, user=user,
        )  # fmt: skip
        yield Postgres("127.0.0.1", port, "postgres", "postgres")
    except subprocess.CalledProcessError as exc:
        log = log_file.read_text() if log_file.exists() else ""
        raise RuntimeError(f"PostgreSQL failed to start: {exc.stderr!r}\n{log}") from exc
    finally:
        if (data / "postmaster.pid").exists():
            mode = "immediate" if keep_root is None else "fast"
            subprocess.run(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "-t", "600", "stop"],
                capture_output=True, user=user,
            )  # fmt: skip
        if keep_root is None:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- Chromium

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)


@dataclass(frozen=True)
class Browser:
    port: int
    websocket_url: str

    @property
    def cdp_url(self) -> str:
        """For ``playwright.chromium.connect_over_cdp``."""
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def run_chromium(workdir: Path) -> Iterator[Browser]:
    """Start headless Chromium with a DevTools port; yield it; stop it."""
    exe = _binary("CHROMIUM_BIN", ["chromium", "chromium-browser"], ("/usr/bin/chromium",))
    if exe is None:
        missing_service("chromium is not installed (apt-get install chromium chromium-driver)")
        raise AssertionError("unreachable")
    port = free_port()
    profile = workdir / "chromium-profile"
    profile.mkdir()
    log = (workdir / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [exe, *CHROMIUM_FLAGS, f"--remote-debugging-port={port}",
         "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    info: dict[str, str] = {}

    def answers() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=1) as r:
            info.update(json.load(r))
        return "webSocketDebuggerUrl" in info

    try:
        wait_until(answers, timeout_s=30, what="chromium", proc=proc)
        yield Browser(port, info["webSocketDebuggerUrl"])
    finally:
        stop(proc)
        log.close()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Broker]:
    """A running Mosquitto broker (session-wide)."""
    with run_mosquitto() as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A running throw-away PostgreSQL cluster (session-wide)."""
    with run_postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """A running headless Chromium with its DevTools endpoint (session-wide)."""
    with run_chromium(tmp_path_factory.mktemp("chromium")) as browser:
        yield browser


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` beside the checkout (``SHARED_REFERENCE`` overrides).

    Skips, saying why, when it is absent: the files are never copied into the repo.
    """
    path = Path(os.environ.get("SHARED_REFERENCE", REPO_ROOT.parent / "shared" / "reference"))
    if not path.is_dir():
        pytest.skip(f"reference data not found at {path} (set SHARED_REFERENCE)")
    return path


# --------------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a service fixture with ``service``."""
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.service)


_skipped_services: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # An xfail is reported as skipped too; it ran, so it is not a missing service.
    if report.skipped and "service" in report.keywords and not hasattr(report, "wasxfail"):
        _skipped_services.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under REQUIRE_SERVICES=1 a skipped service test fails the run, however it skipped."""
    if services_required() and _skipped_services and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if services_required() and _skipped_services:
        terminalreporter.write_line(
            "REQUIRE_SERVICES=1: service tests were skipped, failing the run: "
            + ", ".join(_skipped_services),
            red=True,
        )
