"""``fluxfleet broker``: Mosquitto with the deployed configuration and dynamic security.

Layout of the data directory ``DIR``::

    DIR/accounts.json              admin, ingest, operator (and the broker URL); mode 0600
    DIR/broker/mosquitto.conf      the deployed file with listener, persistence and plugin set
    DIR/broker/dynamic-security.json   the plugin's accounts and roles (hashed passwords)
    DIR/broker/mosquitto.db        persistence (sessions, queued and retained messages)

At first start the admin is created offline with ``mosquitto_ctrl dynsec init`` (the
broker needs the file before it starts); the ``ingest`` and ``operator`` accounts and
their roles are then created over the control API (:mod:`fluxfleet.ops.dynsec`).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxfleet.ingest.broker import CONFIG
from fluxfleet.ops import roles
from fluxfleet.ops.dynsec import Dynsec, DynsecError
from fluxfleet.sim.broker import launch_mosquitto

PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
ACCOUNTS = "accounts.json"
ADMIN = "admin"


class BrokerSetupError(RuntimeError):
    """The broker cannot be set up or started; the message names the file or option."""


@dataclass(frozen=True)
class Tls:
    """A TLS listener: its port and the PEM files (server certificate, key, CA)."""

    port: int
    certfile: Path
    keyfile: Path
    cafile: Path | None = None


def render(
    template: str, port: int, bind: str, workdir: Path, plugin: Path, tls: Tls | None = None
) -> str:
    """The deployed configuration with its listener on ``bind:port``, persistence in
    ``workdir``, anonymous access off and the dynamic-security plugin on."""
    text, n = re.subn(r"(?m)^listener\s+\d+.*$", f"listener {port} {bind}", template)
    if n != 1:
        raise BrokerSetupError(f"{CONFIG}: expected exactly one listener line")
    text, n = re.subn(r"(?m)^persistence_location\s+.*$", f"persistence_location {workdir}/", text)
    if n != 1:
        raise BrokerSetupError(f"{CONFIG}: expected one persistence_location line")
    text = re.sub(r"(?m)^allow_anonymous\s+.*$", "allow_anonymous false", text)
    text += (
        "\n# fluxfleet broker: accounts and ACLs from the dynamic-security plugin\n"
        f"plugin {plugin}\n"
        f"plugin_opt_config_file {workdir / 'dynamic-security.json'}\n"
    )
    if tls is not None:
        text += f"\nlistener {tls.port} {bind}\ncertfile {tls.certfile}\nkeyfile {tls.keyfile}\n"
        if tls.cafile is not None:
            text += f"cafile {tls.cafile}\n"
    return text


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON readable by its owner only (mode 0600), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def load_accounts(data_dir: Path) -> dict[str, Any]:
    """``DIR/accounts.json`` (raises :class:`BrokerSetupError` naming the file)."""
    path = data_dir / ACCOUNTS
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BrokerSetupError(f"{path}: no such file (start `fluxfleet broker` first)") from None
    except (OSError, ValueError) as exc:
        raise BrokerSetupError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise BrokerSetupError(f"{path}: no 'accounts' object")
    return data


def _give_to_mosquitto(path: Path) -> None:
    # Started as root, Mosquitto runs as 'mosquitto': it must write its directory.
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    for p in [path, *path.iterdir()]:
        os.chown(p, pw.pw_uid, pw.pw_gid)
    # ... and reach it: its parent (DIR) gets search permission for others, no read
    # permission (nobody can list it; accounts.json itself stays 0600).
    parent = path.parent
    os.chmod(parent, os.stat(parent).st_mode | 0o001)
    for up in parent.resolve().parents:
        if not os.stat(up).st_mode & 0o001:
            raise BrokerSetupError(
                f"the 'mosquitto' account cannot reach {path}: {up} is closed to other users "
                "(choose a --data directory outside it, e.g. /var/lib/fluxfleet)"
            )


class Broker:
    """Mosquitto for ``data_dir``: :meth:`prepare`, :meth:`start`, :meth:`ensure_accounts`."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 1883,
        bind: str = "127.0.0.1",
        tls: Tls | None = None,
        exe: str | None = None,
        plugin: Path = PLUGIN,
    ) -> None:
        self.data_dir = data_dir
        self.workdir = data_dir / "broker"
        self.port = port
        self.bind = bind
        self.tls = tls
        self.exe = exe or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.plugin = plugin
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "mosquitto.log"

    @property
    def host(self) -> str:
        """Where local clients connect (the bound address, or localhost for 0.0.0.0)."""
        return "127.0.0.1" if self.bind in ("0.0.0.0", "::", "") else self.bind

    def prepare(self) -> None:
        """Write the configuration; at first start create the admin account."""
        if not self.plugin.is_file():
            raise BrokerSetupError(f"the dynamic-security plugin {self.plugin} is not installed")
        if self.tls is not None:
            for f in (self.tls.certfile, self.tls.keyfile, self.tls.cafile):
                if f is not None and not f.is_file():
                    raise BrokerSetupError(f"TLS file {f}: no such file")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(exist_ok=True)
        acc_path = self.data_dir / ACCOUNTS
        data = load_accounts(self.data_dir) if acc_path.exists() else {"accounts": {}}
        dynsec_file = self.workdir / "dynamic-security.json"
        if ADMIN not in data["accounts"] or not dynsec_file.exists():
            if dynsec_file.exists():
                raise BrokerSetupError(
                    f"{dynsec_file} exists but {acc_path} has no admin password: restore "
                    f"{acc_path} or remove {dynsec_file} to start the accounts afresh"
                )
            password = secrets.token_urlsafe(24)
            data["accounts"][ADMIN] = {"username": ADMIN, "password": password}
            write_private(acc_path, data)  # first: a password is never lost
            ctrl = shutil.which("mosquitto_ctrl") or "/usr/bin/mosquitto_ctrl"
            done = subprocess.run(
                [ctrl, "dynsec", "init", str(dynsec_file), ADMIN, password],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                raise BrokerSetupError(
                    f"mosquitto_ctrl dynsec init failed: {done.stderr.decode(errors='replace')}"
                )
        data["broker"] = f"mqtt://{self.host}:{self.port}"
        write_private(acc_path, data)
        conf = render(CONFIG.read_text(), self.port, self.bind, self.workdir, self.plugin, self.tls)
        (self.workdir / "mosquitto.conf").write_text(conf)
        _give_to_mosquitto(self.workdir)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        self.proc = launch_mosquitto(
            str(self.exe),
            self.workdir / "mosquitto.conf",
            self.log,
            (self.host, self.port),
            timeout_s,
            BrokerSetupError,
        )

    def admin(self) -> Dynsec:
        """A control-API connection as the admin."""
        acc = load_accounts(self.data_dir)["accounts"][ADMIN]
        return Dynsec(self.host, self.port, acc["username"], acc["password"])

    def ensure_accounts(self) -> list[str]:
        """Create the ingest and operator roles and accounts that do not exist yet.

        Returns the names created. Passwords go to ``accounts.json`` before the account is
        created, so a crash between the two never leaves an account nobody can use.
        """
        created = []
        data = load_accounts(self.data_dir)
        with self.admin() as ds:
            for name, acls in (
                (roles.INGEST, roles.ingest_acls()),
                (roles.OPERATOR, roles.operator_acls()),
            ):
                if not ds.exists("Role", name):
                    ds.call("createRole", rolename=name, acls=acls)
                if name in data["accounts"] and ds.exists("Client", name):
                    continue
                password = secrets.token_urlsafe(24)
                data["accounts"][name] = {"username": name, "password": password}
                write_private(self.data_dir / ACCOUNTS, data)
                if ds.exists("Client", name):
                    ds.call("setClientPassword", username=name, password=password)
                else:
                    ds.call(
                        "createClient",
                        username=name,
                        password=password,
                        roles=[{"rolename": name, "priority": 0}],
                    )
                created.append(name)
        return created

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop it cleanly (SIGTERM: it saves its persistence and accounts)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)

    def __enter__(self) -> Broker:
        self.prepare()
        self.start()
        try:
            self.ensure_accounts()
        except (DynsecError, BrokerSetupError):
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
