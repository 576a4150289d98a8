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
import subprocess
import tempfile
from pathlib import Path

from fluxfleet.sim.broker import free_port, launch_mosquitto

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
