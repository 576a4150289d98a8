"""Who may do what on the broker: the dynamic-security roles of the fleet.

Dynamic security denies publishing and subscribing unless an ACL allows it (its defaults),
so each role lists only what it may do:

- ``device-<DEV>`` (one role per device): publish its own telemetry|cycle|status|meta|ack,
  subscribe to its own cmd and to all/cmd. A role per device rather than ``%u`` patterns:
  Mosquitto 2.0's dynamic-security ACLs do not substitute ``%c``/``%u``.
- ``ingest``: subscribe to every device topic; publishes nothing.
- ``operator``: publish commands (one device's cmd or all/cmd); subscribe to everything
  under the fleet prefix.
"""

from __future__ import annotations

from typing import Any

from fluxfleet.firmware.protocol import BROADCAST, DEVICE_KINDS, KINDS, PREFIX, topic

INGEST = "ingest"
OPERATOR = "operator"


def _acl(acltype: str, topic_filter: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic_filter, "allow": True, "priority": 0}


def device_role(dev: str) -> str:
    """The role name of device ``dev``."""
    return f"device-{dev}"


def device_acls(dev: str) -> list[dict[str, Any]]:
    """What device ``dev`` may do (``dev`` must be a valid device id)."""
    acls = [_acl("publishClientSend", topic(dev, kind)) for kind in DEVICE_KINDS]
    acls.append(_acl("subscribeLiteral", topic(dev, "cmd")))
    acls.append(_acl("subscribeLiteral", topic(BROADCAST, "cmd")))
    return acls


def ingest_acls() -> list[dict[str, Any]]:
    """The ingestor: subscribe to each message kind of every device, alone or in any
    shared-subscription group (Mosquitto 2.0 checks the filter with its ``$share/GROUP/``)."""
    filters = [f"{PREFIX}+/{kind}" for kind in KINDS]
    return [_acl("subscribePattern", f) for f in filters + [f"$share/+/{f}" for f in filters]]


def operator_acls() -> list[dict[str, Any]]:
    """The operator: send commands, read everything of the fleet."""
    return [
        _acl("publishClientSend", f"{PREFIX}+/cmd"),
        _acl("subscribePattern", f"{PREFIX}#"),
    ]
