"""Virtual chambers that boot through the real loader (``fluxfleet sim --update-url``).

Each virtual device gets a flash directory of its own; at every boot the firmware's own
:class:`~fluxfleet.firmware.loader.Loader` fetches the device's signed manifest from the
update server over real HTTP (the firmware's ``http`` client on a CPython socket),
installs a new version into the other A/B slot, reverts an unconfirmed one, verifies the
slot - and the controller of *the installed slot* runs: its files are imported from the
slot (one module set per signed manifest), so a version that behaves differently really
runs differently. The controller's ``hal.confirm()`` reaches that loader's ``confirm``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxfleet.firmware import http as _http
from fluxfleet.firmware import loader as _loader
from fluxfleet.firmware.hal import host as _host

http: Any = _http
loader: Any = _loader
host: Any = _host


@dataclass(frozen=True)
class Provisioning:
    """What each chamber's ``config.json`` holds for its loader."""

    update_url: str
    """``http://HOST:PORT/firmware/d/{dev}`` (``{dev}``: the device id)."""
    fleet_key_hex: str
    """The fleet's Ed25519 public key (64 hex digits)."""
    flash_dir: str
    """Where the virtual devices' flash directories are made (one per device)."""


def _ticks_ms() -> int:
    return int(time.monotonic() * 1000)


class LoaderBoot:
    """Boots virtual devices through the loader; caches each installed version's modules."""

    def __init__(self, prov: Provisioning, log: Any = None) -> None:
        self.prov = prov
        self.key = bytes.fromhex(prov.fleet_key_hex)
        self.log = log or (lambda msg: None)
        self._modules: dict[str, Any] = {}

    def boot(self, dev: str) -> tuple[Any, dict[str, Any], Any] | None:
        """(Controller class, the loader's decision, its confirm) - None: safe mode."""
        root = Path(self.prov.flash_dir) / dev
        root.mkdir(parents=True, exist_ok=True)

        def fetch(url: str, timeout_ms: int) -> Any:
            return http.get(host.tcp_transport, url, timeout_ms, _ticks_ms)

        ld = loader.Loader(
            str(root),
            self.key,
            self.prov.update_url.replace("{dev}", dev),
            fetch,
            _ticks_ms,
            log=lambda m: self.log(f"{dev}: {m}"),
        )
        d: dict[str, Any] = ld.boot()
        if d["slot"] is None:
            return None
        return self._controller(Path(d["path"])), d, ld.confirm

    def _controller(self, slot: Path) -> Any:
        """The ``Controller`` class of the slot's own files."""
        tag = hashlib.sha256((slot / "manifest.json").read_bytes()).hexdigest()[:16]
        if tag not in self._modules:
            name = f"fluxfleet_slot_{tag}"
            app = slot / "app"
            spec = importlib.util.spec_from_file_location(
                name, app / "__init__.py", submodule_search_locations=[str(app)]
            )
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            self._modules[tag] = importlib.import_module(name + ".controller")
        return self._modules[tag].Controller
