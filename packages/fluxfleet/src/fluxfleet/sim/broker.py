"""A throw-away local Mosquitto for the demo: a free loopback port, a temporary directory.

(The tests start their broker through this too, via ``testsupport.services.run_mosquitto``,
which adds only the skip-or-fail policy for a missing binary.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary (``MOSQUITTO_BIN``, PATH, /usr/sbin), or None."""
    override = os.environ.get("MOSQUITTO_BIN")
    if override:
        return override if os.access(override, os.X_OK) else None
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_mosquitto(
    exe: str,
    conf: Path,
    log: Path,
    address: tuple[str, int],
    timeout_s: float,
    error: type[Exception] = RuntimeError,
) -> subprocess.Popen[bytes]:
    """Start ``exe -c conf`` (output appended to ``log``) and wait until ``address``
    accepts connections; raise ``error`` with the log's tail if it exits or stays silent.

    The one start-and-wait loop of the simulator's broker, the ingest tests' and demo's
    broker (``fluxfleet.ingest.broker``) and ``fluxfleet broker``.
    """
    with log.open("ab") as out:
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise error(
                f"mosquitto exited with code {proc.returncode}: "
                f"{log.read_text(errors='replace')[-800:]}"
            )
        try:
            with socket.create_connection(address, timeout=0.5):
                return proc
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise error(
                    f"mosquitto did not answer on port {address[1]} within {timeout_s} s"
                ) from None
            time.sleep(0.05)


@contextlib.contextmanager
def local_mosquitto(exe: str, timeout_s: float = 15.0) -> Iterator[tuple[str, int]]:
    """Run Mosquitto on a free loopback port; yield (host, port); stop it afterwards.

    Raises
    ------
    RuntimeError
        If it exits or does not accept connections within ``timeout_s``; the message
        carries the broker's log.
    """
    with tempfile.TemporaryDirectory(prefix="fluxfleet-mosquitto-") as td:
        port = free_port()
        conf = Path(td) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
            "log_type error\n"
        )
        proc = launch_mosquitto(
            exe, conf, Path(td) / "mosquitto.log", ("127.0.0.1", port), timeout_s
        )
        try:
            yield "127.0.0.1", port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
