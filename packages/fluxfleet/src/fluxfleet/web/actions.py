"""The API's state-changing routes (each needs a bearer token: :mod:`fluxfleet.web.auth`).

* ``POST /api/commands`` - send a fleet command through :mod:`fluxfleet.ops.commands`
  (recorded with the token's name as operator, then published; follow it with
  ``fluxfleet cmd status``);
* ``POST /api/devices`` - register a device (broker credentials, shown once);
* ``POST /api/alarms/{id}/ack`` - acknowledge an alarm, on a store that has alarms.

``POST /api/rollouts`` is in :mod:`fluxfleet.web.firmware`.
"""

# No "from __future__ import annotations": FastAPI resolves the annotations at run time.

import datetime as dt
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from fluxfleet.ops import commands as ops
from fluxfleet.store import Store, StoreError
from fluxfleet.web.auth import AUTH
from fluxfleet.web.store_access import open_console_store

CMD_NAMES = {"frc", "reboot", "servo_test", "set_location", "set_schedule"}


class CommandRequest(BaseModel):
    """A command as ``fluxfleet cmd`` sends it (``args`` as in the protocol)."""

    cmd: str
    args: dict[str, Any] = Field(default_factory=dict)
    devices: list[str] | None = None
    all: bool = False
    expires: str = "30m"
    at: str | None = None


class DeviceRequest(BaseModel):
    device: str
    location: str | None = None


def _open(url: str) -> Store:
    try:
        return open_console_store(url)
    except StoreError as exc:
        raise HTTPException(503, str(exc)) from None


def register(app: FastAPI, settings: Any) -> None:
    """Add the state-changing routes (all behind the bearer token)."""
    url = settings.store_url

    @app.post("/api/commands", status_code=202, dependencies=AUTH)
    def api_command(body: CommandRequest, request: Request) -> Response:
        if body.cmd not in CMD_NAMES:
            raise HTTPException(422, f"cmd: one of {', '.join(sorted(CMD_NAMES))}")
        if body.all == bool(body.devices):
            raise HTTPException(422, "devices: name devices or set all, not both or neither")
        operator = f"token:{request.state.token_name}"
        now = ops.now_ms()
        try:
            expires_ms = ops.parse_expires_ms(body.expires, now)
            exec_at_ms = ops.parse_time_ms(body.at, "at") if body.at else None
            ops.build(body.cmd, body.args, None if body.all else body.devices, operator, now,
                      expires_ms, exec_at_ms, ["x"])  # fmt: skip
        except ops.CommandError as exc:
            raise HTTPException(422, str(exc)) from None
        st = _open(url)
        try:
            known = ops.known_devices(st) if body.all else []
            command = ops.build(body.cmd, body.args, None if body.all else body.devices,
                                operator, now, expires_ms, exec_at_ms, known)  # fmt: skip
            host, port = settings.broker_address
            follower = ops.Follower(
                host, port, command, settings.mqtt_username, settings.mqtt_password
            )
            try:
                follower.start()
            except OSError as exc:
                raise HTTPException(503, f"cannot reach the broker: {exc}") from None
            try:
                ops.record(st, command)
                follower.publish()
            except OSError as exc:
                raise HTTPException(503, f"{command.cmd_id} recorded but not sent: {exc}") from None
            finally:
                follower.stop()
        finally:
            st.close()
        return JSONResponse(
            {"cmd_id": command.cmd_id, "devices": list(command.devices),
             "operator": operator},
            status_code=202,
        )  # fmt: skip

    @app.post("/api/devices", status_code=201, dependencies=AUTH)
    def api_add_device(body: DeviceRequest) -> Response:
        from fluxfleet.ops.broker import BrokerSetupError, load_accounts
        from fluxfleet.ops.devices import RegistryError, add_device
        from fluxfleet.ops.dynsec import Dynsec, DynsecError
        from fluxfleet.settings import parse_broker

        try:
            acc = load_accounts(settings.data_dir)
            broker_url = str(acc["broker"])
            admin = acc["accounts"]["admin"]
            ds = Dynsec(*parse_broker(broker_url), admin["username"], admin["password"])
        except (BrokerSetupError, DynsecError, KeyError, TypeError, ValueError) as exc:
            raise HTTPException(
                503, f"no broker administration here (fluxfleet broker --data DIR): {exc}"
            ) from None
        st = _open(url)
        try:
            creds = add_device(ds, st, body.device, body.location, broker_url)
        except RegistryError as exc:
            raise HTTPException(409, str(exc)) from None
        except DynsecError as exc:
            raise HTTPException(503, str(exc)) from None
        finally:
            ds.close()
            st.close()
        return JSONResponse(creds, status_code=201)

    @app.post("/api/alarms/{alarm_id}/ack", dependencies=AUTH)
    def api_ack_alarm(alarm_id: int, request: Request) -> Response:
        st = _open(url)
        try:
            by = f"token:{request.state.token_name}"
            result = st.ack_alarm(alarm_id, dt.datetime.now(dt.UTC), by)
        finally:
            st.close()
        if result == "unknown":
            raise HTTPException(404, f"no alarm {alarm_id}")
        return JSONResponse({"alarm_id": alarm_id, "result": result})
