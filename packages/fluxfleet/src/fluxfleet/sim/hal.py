"""The simulated HAL: what the firmware controller is injected with inside the simulator.

Implements the interfaces documented in ``fluxfleet/firmware/hal/__init__.py`` and
``fluxfleet/firmware/controller.py`` on top of :mod:`fluxfleet.sim` physics:

* :class:`SimClock` — ``ticks_ms()``, ``time_ms()``, ``set_time_ms()`` on the fleet's
  accelerated clock, with a per-device wall-clock offset (clock-skew faults, NTP).
* :class:`SimHAL` — ``co2``, ``baro``, ``light`` (readings of the device's sensors from
  :class:`~fluxfleet.sim.sensors.SensorBank`), ``servo``, ``fan``, ``store`` (the
  firmware's own :class:`~fluxfleet.firmware.storage.MemoryStore`, kept across
  reboots), ``net_up``, ``net_connect``, ``ntp_ms``, ``reboot``, ``confirm``.
  Faults act here: an I2C error raises ``OSError`` from every bus read, a dropout
  makes the SCD30 report no data, a WiFi outage takes the network down.
* :class:`PahoLink` — the controller's MQTT link (``connect``, ``subscribe``,
  ``publish``, ``poll``, ``ping``, ``disconnect``, ``close``) on a real paho-mqtt
  client speaking to a real broker, driven without threads by the fleet's loop.
* :class:`MemoryLink` — the same interface with no broker (pure unit tests and the
  demo's in-process fallback); it acknowledges every publish and keeps the messages.

The fleet (:mod:`fluxfleet.sim.fleet`) owns the shared state these objects read:
``fleet.now_ms`` (true time, ms since the epoch), the current sensor readings and the
fault arrays.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

if TYPE_CHECKING:
    from fluxfleet.sim.fleet import Fleet

Event = tuple[Any, ...]

SCD30_DEFAULT_PRESSURE_HPA = 1013.25
"""Pressure the SCD30 assumes until given an ambient-pressure compensation [hPa]."""


class SimClock:
    """One device's clock on the fleet's accelerated time.

    ``ticks_ms`` counts from the device's boot; ``time_ms`` is true time plus the
    device's wall-clock offset (a fresh boot starts a few seconds off until NTP).
    """

    def __init__(self, fleet: Fleet, device: int, boot_ms: int, offset_ms: int) -> None:
        self.fleet = fleet
        self.device = device
        self.boot_ms = boot_ms
        self.offset_ms = offset_ms

    def ticks_ms(self) -> int:
        return self.fleet.now_ms - self.boot_ms

    def time_ms(self) -> int:
        return self.fleet.now_ms + self.offset_ms

    def set_time_ms(self, ms: int) -> None:
        self.offset_ms = int(ms) - self.fleet.now_ms


class _Sensor:
    def __init__(self, hal: SimHAL) -> None:
        self.hal = hal
        self.fleet = hal.fleet
        self.i = hal.device

    def _bus(self) -> None:
        if self.fleet.faults.active["i2c_error"][self.i]:
            raise OSError(5, "EIO: I2C bus error (injected)")


class SimSCD30(_Sensor):
    """``read() -> (co2_ppm, t_c, rh_pct) | None``, ``set_pressure(hpa)``, ``frc(ppm)``."""

    def __init__(self, hal: SimHAL) -> None:
        super().__init__(hal)
        self.pressure_comp_hpa = SCD30_DEFAULT_PRESSURE_HPA

    def read(self) -> tuple[float, float, float] | None:
        self._bus()
        if self.fleet.faults.active["sensor_dropout"][self.i]:
            return None
        r = self.fleet.readings_now()
        # the NDIR measures number density: without the right ambient-pressure
        # compensation the reading scales with P_true / P_assumed (Sensirion SCD30
        # interface description, "ambient pressure compensation")
        p_true = self.fleet.true_pressure_hpa
        co2 = r.co2_ppm[self.i] * p_true / self.pressure_comp_hpa
        return (co2, r.scd_t_c[self.i], r.rh_pct[self.i])

    def set_pressure(self, hpa: int) -> None:
        self._bus()
        if not 700 <= hpa <= 1400:  # datasheet range of the compensation argument
            raise OSError(22, "EINVAL: pressure compensation outside 700-1400 mbar")
        self.pressure_comp_hpa = float(hpa)

    def frc(self, ppm: int) -> None:
        self._bus()
        self.fleet.forced_recalibration(self.i, float(ppm))


class SimBaro(_Sensor):
    """QMP6988: ``read() -> (p_hpa, t_c) | None``."""

    def read(self) -> tuple[float, float] | None:
        self._bus()
        r = self.fleet.readings_now()
        return (r.pressure_hpa[self.i], r.air_t_c[self.i])


class SimLight(_Sensor):
    """BH1750: ``read() -> lux | None``."""

    def read(self) -> float | None:
        self._bus()
        lux: float = self.fleet.readings_now().lux[self.i]
        return lux


class SimServo:
    """The lid servo: remembers the commanded angle and when it was commanded."""

    def __init__(self, hal: SimHAL) -> None:
        self.hal = hal
        self.deg = 90
        self.since_ms = 0

    def angle(self, deg: int) -> None:
        if not 0 <= deg <= 270:
            raise OSError(22, "EINVAL: servo angle outside 0-270")
        self.deg = int(deg)
        self.since_ms = self.hal.fleet.now_ms
        self.hal.fleet.servo_changed(self.hal.device, self.deg)


class SimFan:
    def __init__(self, hal: SimHAL) -> None:
        self.hal = hal
        self.pct = 0

    def duty(self, pct: int) -> None:
        self.pct = int(pct)
        self.hal.fleet.fan_changed(self.hal.device, self.pct)


class SimHAL:
    """The HAL of one virtual device (see the module docstring)."""

    def __init__(self, fleet: Fleet, device: int, store: Any) -> None:
        self.fleet = fleet
        self.device = device
        self.store = store
        self.co2 = SimSCD30(self)
        self.baro = SimBaro(self)
        self.light = SimLight(self)
        self.servo = SimServo(self)
        self.fan = SimFan(self)
        self.confirmed = False
        self.rebooted = False
        self.on_confirm: Callable[[], None] | None = None
        """The loader's ``confirm`` when the device booted through it (sim.loader_boot)."""

    def net_up(self) -> bool:
        return not self.fleet.faults.active["wifi_outage"][self.device]

    def net_connect(self) -> None:
        """Start joining WiFi (the link comes back by itself when the outage ends)."""

    def ntp_ms(self) -> int | None:
        f = self.fleet.faults
        if f.active["wifi_outage"][self.device] or f.active["clock_skew"][self.device]:
            return None  # NTP unreachable (the skew persists while NTP fails)
        return self.fleet.now_ms

    def reboot(self) -> None:
        self.rebooted = True

    def confirm(self) -> None:
        self.confirmed = True
        if self.on_confirm is not None:
            self.on_confirm()


# --------------------------------------------------------------------------- MQTT links


class MemoryLink:
    """The controller's link interface without a broker: acknowledges every publish.

    ``sink(topic, payload)`` receives every published message in order.
    """

    def __init__(self, sink: Callable[[str, bytes], None]) -> None:
        self.sink = sink
        self._events: list[Event] = []
        self._mid = 0
        self.connected = False

    def connect(
        self, client_id: str, will_topic: str, will_payload: bytes, keepalive_s: int
    ) -> None:
        self.connected = True
        self.will = (will_topic, will_payload)

    def subscribe(self, topic: str, qos: int) -> None:
        if not self.connected:
            raise OSError(107, "ENOTCONN")

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        if not self.connected:
            raise OSError(107, "ENOTCONN")
        self._mid = self._mid % 65535 + 1
        self.sink(topic, payload)
        if qos:
            self._events.append(("puback", self._mid))
        return self._mid

    def poll(self) -> list[Event]:
        if not self.connected:
            raise OSError(107, "ENOTCONN: link lost")
        ev, self._events = self._events, []
        return ev

    def ping(self) -> None:
        if not self.connected:
            raise OSError(107, "ENOTCONN: link lost")
        self._events.append(("pingresp",))

    def deliver(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """A message from the 'broker' (e.g. a command)."""
        self._events.append(("msg", topic, payload, retained))

    def disconnect(self) -> None:
        self.connected = False

    def close(self) -> None:
        if self.connected:
            self.sink(*self.will)
        self.connected = False


class PahoLink:
    """The controller's link on a real paho-mqtt client (MQTT 3.1.1, no threads).

    The fleet's loop calls :meth:`service` (socket reads/writes and paho's own keep-alive
    on the wall clock); the controller's ``ping()`` is answered from the connection's
    health, since its accelerated keep-alive has no meaning to a broker on wall time.
    ``close()`` drops the TCP connection without DISCONNECT, so the broker publishes the
    last will, as after a real power cut or WiFi loss.
    """

    CONNECT_TIMEOUT_S = 10.0

    def __init__(
        self, host: str, port: int, username: str | None = None, password: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.client: mqtt.Client | None = None
        self._events: list[Event] = []
        self.connected = False

    # paho callbacks ----------------------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        self.connected = not rc.is_failure

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        self.connected = False

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any
    ) -> None:
        self._events.append(("puback", mid))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # the retained flag lets the firmware refuse a retained command
        self._events.append(("msg", msg.topic, bytes(msg.payload), bool(msg.retain)))

    # the link interface -----------------------------------------------------------------
    def connect(
        self, client_id: str, will_topic: str, will_payload: bytes, keepalive_s: int
    ) -> None:
        self.close()
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        c.max_inflight_messages_set(64)
        c.max_queued_messages_set(0)
        c.will_set(will_topic, will_payload, qos=1, retain=True)
        if self.username is not None:  # the device's own account (fluxfleet devices add)
            c.username_pw_set(self.username, self.password)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        try:
            c.connect(self.host, self.port, keepalive=max(int(keepalive_s), 30))
        except (OSError, ValueError) as exc:
            raise OSError(111, f"MQTT connect to {self.host}:{self.port} failed: {exc}") from exc
        self.client = c
        deadline = time.monotonic() + self.CONNECT_TIMEOUT_S
        while not self.connected and time.monotonic() < deadline:
            rc = c.loop(timeout=0.05)
            if rc not in (mqtt.MQTT_ERR_SUCCESS,):
                break
        if not self.connected:
            self.close()
            raise OSError(110, "ETIMEDOUT: no CONNACK from the broker")

    def subscribe(self, topic: str, qos: int) -> None:
        c = self._client()
        rc, _ = c.subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(107, f"subscribe failed: {rc}")

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        c = self._client()
        info = c.publish(topic, payload, qos, retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(107, f"publish failed: {mqtt.error_string(info.rc)}")
        return int(info.mid)

    def poll(self) -> list[Event]:
        if self.client is None or not self.connected:
            raise OSError(107, "ENOTCONN: MQTT connection lost")
        ev, self._events = self._events, []
        return ev

    def unacked(self) -> int:
        """QoS-1 publishes not yet acknowledged by the broker."""
        return 0 if self.client is None else len(getattr(self.client, "_out_messages", {}))

    def ping(self) -> None:
        self._client()
        self._events.append(("pingresp",))

    def disconnect(self) -> None:
        if self.client is not None:
            try:
                self.client.disconnect()
                self.client.loop_write()
            except (OSError, ValueError):
                pass
        self._drop()

    def close(self) -> None:
        """Drop the connection without DISCONNECT (the broker will send the last will)."""
        if self.client is not None:
            sock: Any = self.client.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._drop()

    def _drop(self) -> None:
        c = self.client
        self.client = None
        self.connected = False
        if c is not None:
            sock = c.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    def _client(self) -> mqtt.Client:
        if self.client is None or not self.connected:
            raise OSError(107, "ENOTCONN: not connected")
        return self.client

    # driven by the fleet's loop -----------------------------------------------------------
    def socket(self) -> Any:
        return None if self.client is None else self.client.socket()

    def service(self, readable: bool) -> None:
        """Read what arrived (if ``readable``), flush pending writes, run keep-alive."""
        c = self.client
        if c is None:
            return
        if readable:
            rc = c.loop_read()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self.connected = False
                return
        if c.want_write():
            rc = c.loop_write()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self.connected = False
                return

    def misc(self) -> None:
        """paho's keep-alive bookkeeping (call about once per wall-clock second)."""
        c = self.client
        if c is not None and c.loop_misc() != mqtt.MQTT_ERR_SUCCESS:
            self.connected = False
