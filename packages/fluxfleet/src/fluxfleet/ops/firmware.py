"""What the update server gives each chamber: signed manifests and bundle files.

``fluxfleet bundle --out DIR`` publishes into DIR: ``manifest.json`` (the newest signed
manifest), ``manifests/<version>.json`` (every version's) and ``bundles/<version>/…``.
``fluxfleet serve --bundles DIR`` serves them (:mod:`fluxfleet.web.firmware`):

* ``/firmware/manifest.json`` and ``/firmware/bundles/<version>/<path>``: the newest
  bundle, for chambers whose ``update_url`` is ``http://HOST:PORT/firmware``;
* ``/firmware/d/<device>/manifest.json`` (and ``…/bundles/…``): the version *assigned* to
  that device (``update_url`` = ``http://HOST:PORT/firmware/d/<device>``). A rollout
  (:mod:`fluxfleet.ops.rollout`) assigns versions in the store's ``firmware_assignments``:
  the device's own row, else the fleet's row (device ``*``), else the newest bundle.

The server never signs anything: it hands out what ``fluxfleet bundle`` signed, and each
chamber's loader verifies the signature, the sizes and hashes, and its minimum version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxfleet.firmware import loader as _loader
from fluxfleet.store.base import Store

loader: Any = _loader  # MicroPython module without annotations

FLEET = "*"
"""The device name of the fleet's assignment row."""


class FirmwareError(ValueError):
    """A bundle directory or version that cannot be served; the message says which."""


def version_key(version: str) -> tuple[Any, ...]:
    """The loader's own order of versions ("6.10" > "6.9")."""
    key: tuple[Any, ...] = loader.version_key(version)
    return key


@dataclass(frozen=True)
class BundleDir:
    """A directory ``fluxfleet bundle --out`` wrote."""

    root: Path

    def check(self) -> None:
        """Raise :class:`FirmwareError` unless the directory holds at least one bundle."""
        if not self.root.is_dir():
            raise FirmwareError(f"{self.root}: no such directory (fluxfleet bundle --out DIR)")
        if not (self.root / "manifest.json").is_file():
            raise FirmwareError(f"{self.root}: no manifest.json (publish with fluxfleet bundle)")

    def newest(self) -> bytes | None:
        """The envelope of ``manifest.json`` (None when absent)."""
        try:
            return (self.root / "manifest.json").read_bytes()
        except OSError:
            return None

    def envelope(self, version: str) -> bytes | None:
        """The signed manifest of ``version`` (None when it was never published)."""
        try:
            loader._check_version(version, "version")
        except loader.LoaderError:
            return None
        try:
            return (self.root / "manifests" / f"{version}.json").read_bytes()
        except OSError:
            pass
        raw = self.newest()  # a directory from before manifests/: its newest version only
        if raw is not None and manifest_body(raw).get("version") == version:
            return raw
        return None

    def versions(self) -> list[str]:
        """Every published version whose signed manifest is kept, oldest first."""
        out = {p.stem for p in (self.root / "manifests").glob("*.json")}
        raw = self.newest()
        if raw is not None:
            v = manifest_body(raw).get("version")
            if isinstance(v, str):
                out.add(v)
        return sorted(out, key=version_key)

    def file(self, version: str, path: str) -> Path | None:
        """The file ``path`` of bundle ``version`` (None unless it is a bundle's file)."""
        try:
            loader._check_version(version, "version")
            loader.check_path(path, "path")
        except loader.LoaderError:
            return None
        p = self.root / "bundles" / version / path
        return p if p.is_file() else None


def manifest_body(envelope: bytes) -> dict[str, Any]:
    """The (unverified) manifest inside a signed envelope; {} when it cannot be read."""
    try:
        body = json.loads(json.loads(envelope)["body"])
    except (ValueError, KeyError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


# --- assignments ---------------------------------------------------------------------------


def assignments(store: Store) -> dict[str, str]:
    """Each assigned device's version (``*``: the fleet's)."""
    rows = store.execute([("SELECT device, version FROM firmware_assignments", [])])
    return {str(d): str(v) for d, v in rows}


def assigned_version(store: Store, device: str) -> str | None:
    """The version ``device`` is served: its own, else the fleet's; None: the newest."""
    rows = store.execute(
        [("SELECT device, version FROM firmware_assignments WHERE device IN (?, ?)",
          [device, FLEET])]
    )  # fmt: skip
    got = {str(d): str(v) for d, v in rows}
    return got.get(device, got.get(FLEET))


def assign_statements(
    devices: list[str], version: str | None, now_ms: int, rollout_id: str | None
) -> list[tuple[str, list[object]]]:
    """SQL that assigns ``version`` to ``devices`` (``None``: drop their own rows)."""
    out: list[tuple[str, list[object]]] = []
    for dev in devices:
        out.append(("DELETE FROM firmware_assignments WHERE device = ?", [dev]))
        if version is not None:
            out.append(
                (
                    "INSERT INTO firmware_assignments (device, version, since_ms, rollout_id) "
                    "VALUES (?, ?, ?, ?)",
                    [dev, version, now_ms, rollout_id],
                )
            )
    return out


def manifest_for(store: Store, bundles: BundleDir, device: str) -> bytes | None:
    """The signed manifest served to ``device`` (None: nothing to serve, HTTP 404)."""
    version = assigned_version(store, device)
    if version is None:
        return bundles.newest()
    return bundles.envelope(version)
