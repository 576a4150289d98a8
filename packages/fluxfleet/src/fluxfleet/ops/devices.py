"""The device registry: a device's broker credentials and its row in the store.

Registering creates the dynamic-security client ``DEV`` (password random, returned once:
the broker keeps only its hash) with its own role ``device-DEV``, then the store row.
Retiring deletes both the client and the role, which also disconnects a connected device;
the store row stays, marked retired (its data stay attributable).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

from fluxfleet.firmware.protocol import ProtocolError, check_device_id
from fluxfleet.ops import roles
from fluxfleet.ops.dynsec import Dynsec
from fluxfleet.store.base import Store


class RegistryError(ValueError):
    """A registration that cannot be done; the message names the device and why."""


def check_location(location: str | None) -> str | None:
    """``location`` if it is ``T.V.R`` (three dot-separated non-empty parts) or None."""
    if location is None:
        return None
    parts = location.split(".")
    if len(parts) != 3 or not all(p.isalnum() for p in parts) or len(location) > 32:
        raise RegistryError(f"location must be T.V.R (e.g. T1.V2.R3), got {location!r}")
    return location


def add_device(
    ds: Dynsec, store: Store, dev: str, location: str | None, broker_url: str
) -> dict[str, Any]:
    """Register ``dev``; return its credentials (shown once, for provisioning)."""
    try:
        check_device_id(dev, "DEV")
    except ProtocolError as exc:
        raise RegistryError(str(exc)) from None
    location = check_location(location)
    if ds.exists("Client", dev):
        raise RegistryError(f"device {dev!r} is registered already (retire it first)")
    if dev in (roles.INGEST, roles.OPERATOR, "admin"):
        raise RegistryError(f"{dev!r} is the name of a server account")
    password = secrets.token_urlsafe(24)
    role = roles.device_role(dev)
    if ds.exists("Role", role):  # left over by an interrupted registration
        ds.call("deleteRole", rolename=role)
    ds.call("createRole", rolename=role, acls=roles.device_acls(dev))
    ds.call(
        "createClient", username=dev, password=password, roles=[{"rolename": role, "priority": 0}]
    )
    store.register_device(dev, location, dt.datetime.now(dt.UTC))
    out: dict[str, Any] = {"device": dev, "username": dev, "password": password}
    out["broker"] = broker_url
    if location is not None:
        out["location"] = location
    return out


def retire_device(ds: Dynsec, store: Store, dev: str) -> bool:
    """Revoke ``dev``'s credentials and mark it retired; False if it had none."""
    had_client = ds.exists("Client", dev)
    if had_client:
        ds.call("deleteClient", username=dev)
    if ds.exists("Role", roles.device_role(dev)):
        ds.call("deleteRole", rolename=roles.device_role(dev))
    retired = store.retire_device(dev, dt.datetime.now(dt.UTC))
    return had_client or retired


def read_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """Per-device credentials from ``path``: a JSON list of ``devices add --json`` objects
    (or one such object, or an object of them by device id) -> {device: (user, password)}.

    Raises :class:`RegistryError` naming the file and the entry.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: cannot read: {exc}") from None
    if isinstance(data, dict) and "username" in data:
        data = [data]
    items = list(data.values()) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise RegistryError(f"{path}: expected a JSON list of credentials")
    out = {}
    for k, item in enumerate(items):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(f), str) for f in ("device", "username", "password")
        ):
            raise RegistryError(f"{path}: entry {k}: needs device, username and password strings")
        out[item["device"]] = (item["username"], item["password"])
    return out
