"""Run Mosquitto with the repository's configuration (``deploy/mosquitto/mosquitto.conf``).

For the tests and the demo: the production file with its listener moved to a free port
and its persistence into a working directory, so what is tested is what is deployed.
:class:`Mosquitto` can be stopped and started again on the same port and directory (the
broker-restart test).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[5] / "deploy" / "mosquitto" / "mosquitto.conf"
"""The deployed configuration (in the repository checkout)."""


def render_config(template: str, port: int, data_dir: Path) -> str:
    """``template`` listening on 127.0.0.1:``port`` and persisting into ``data_dir``."""
    text, n = re.subn(r"(?m)^listener\s+\d+.*$", f"listener {port} 127.0.0.1", template)
    if n != 1:
        raise ValueError("the broker configuration must have exactly one listener line")
    text, n = re.subn(r"(?m)^persistence_location\s+.*$", f"persistence_location {data_dir}/", text)
    if n != 1:
        raise ValueError("the broker configuration must have one persistence_location line")
    return text


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """Mosquitto on the deployed configuration, in ``workdir``, on a free port."""

    def __init__(self, exe: str, workdir: Path, config: Path = CONFIG) -> None:
        if not config.is_file():
            raise FileNotFoundError(f"broker configuration {config} not found")
        self.exe = exe
        self.workdir = workdir
        self.port = free_port()
        self.host = "127.0.0.1"
        # Started as root, Mosquitto drops to the 'mosquitto' account, which must be able to
        # reach and write its persistence directory (a test's tmp_path is root-only).
        self.data_dir = Path(tempfile.mkdtemp(prefix="fluxfleet-broker-data-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("mosquitto")
                os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
            except KeyError:
                pass
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(render_config(config.read_text(), self.port, self.data_dir))
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start it and wait until it accepts connections."""
        self.proc = launch_mosquitto(
            self.exe, self.conf, self.log, (self.host, self.port), timeout_s, RuntimeError
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop it cleanly (SIGTERM: it saves its persistence file)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def launch_mosquitto(
    exe: str,
    conf: Path,
    log: Path,
    address: tuple[str, int],
    timeout_s: float,
    error: type[Exception],
) -> subprocess.Popen[bytes]:
    """Start ``exe -c conf`` (output appended to ``log``) and wait until ``address``
    accepts connections; raise ``error`` with the log's tail if it exits or stays silent."""
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
                raise error(f"mosquitto did not answer on {address[1]}") from None
            time.sleep(0.05)
