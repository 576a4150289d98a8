"""A fleet of virtual chambers running the real firmware controller.

Each virtual device is one :class:`fluxfleet.firmware.controller.Controller` — the very
code that runs on the M5Stack — injected with a :class:`~fluxfleet.sim.hal.SimHAL`, a
:class:`~fluxfleet.sim.hal.SimClock` on the fleet's accelerated time and an MQTT link
(:class:`~fluxfleet.sim.hal.PahoLink` to a real broker, or
:class:`~fluxfleet.sim.hal.MemoryLink` in-process).

The loop advances true time in steps of ``physics_dt_s`` (3 s): faults due now are
applied, the greenhouse physics and the sensors' responses advance for all chambers at
once (vectorised), then every controller whose requested wake-up tick has come is
stepped (a controller asking for a wake-up between two steps is woken at the next one:
its 500-ms fan pulses and 200-ms polls are coarsened to the step, which changes nothing
the physics resolves — the chamber is well mixed either way), then the MQTT sockets are
serviced.
``speed`` is the ratio of simulated to wall time (``None`` = as fast as possible).

Ground truth (true flux per closure, the faults) is kept by
:class:`~fluxfleet.sim.truth.TruthRecorder`.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fluxfleet.firmware import controller as _fw_controller
from fluxfleet.firmware import storage as _fw_storage
from fluxfleet.sim.faults import Fault, FaultState
from fluxfleet.sim.hal import MemoryLink, PahoLink, SimClock, SimHAL
from fluxfleet.sim.loader_boot import LoaderBoot, Provisioning
from fluxfleet.sim.physics import ChamberGeometry, Greenhouse, Site
from fluxfleet.sim.sensors import Readings, SensorBank, SensorSpec
from fluxfleet.sim.truth import TruthRecorder, device_id, location_code

# The firmware is MicroPython without annotations: reach it through Any.
fw: Any = _fw_controller
MemoryStore: Any = _fw_storage.MemoryStore

FLUSH_FAN_PCT = 90
"""Fan duty at or above which the open chamber is flushed [%]."""
BOOT_MS = 8000
SAFE_MODE_MS = 60000
"""A device with no runnable firmware shows why for a minute, then resets [ms]."""
"""Time from reset to the controller's first step (boot, loader, WiFi) [ms] (assumed)."""


@dataclass(frozen=True)
class FleetConfig:
    """What to simulate (units in the names)."""

    chambers: int = 50
    start_s: float = 1_694_736_000.0
    """2023-09-15 00:00 UTC: a month with the Carbdown median flux ≈ 1.8."""
    duration_s: float = 24 * 3600.0
    seed: int = 0
    physics_dt_s: float = 3.0
    """Physics step and controller wake-up granularity [s]: the sample interval."""
    tele_batch: int = 20
    """Samples per telemetry message (the controller's ``tele_batch``): 1 min of data."""
    max_batch: int = 100
    site: Site = field(default_factory=Site)
    geometry: ChamberGeometry = field(default_factory=ChamberGeometry)
    sensors: SensorSpec = field(default_factory=SensorSpec)
    firmware: Provisioning | None = None
    """Boot every device through the real loader from this update server (None: run the
    package's controller directly, as version ``FW_VERSION`` in slot ``a``)."""


class Device:
    """One virtual chamber: its persistent store and the running controller."""

    def __init__(self, fleet: Fleet, index: int, link: Any) -> None:
        self.fleet = fleet
        self.index = index
        self.dev = device_id(index)
        self.loc = location_code(index)
        self.store = MemoryStore()
        # a provisioned device: an empty ring with its pointers (skips the boot scan)
        self.store.put("ring.meta", b'{"head":0,"sent":0,"lost":0,"clean":true}')
        self.link = link
        self.boots = 0
        self.controller: Any = None
        self.hal: SimHAL | None = None
        self.clock: SimClock | None = None
        self.wake_ms = 0
        self.next_reset = "power_on"

    def boot(self, now_ms: int, reset: str) -> None:
        """Start the controller (a fresh boot: new HAL objects, the same flash)."""
        f = self.fleet
        self.boots += 1
        # the RTC keeps running through a reset but starts a few seconds off before NTP
        offset = int(f.rng.normal(0.0, 2000.0)) + int(f.faults.skew_ms[self.index])
        self.clock = SimClock(f, self.index, now_ms, offset)
        self.hal = SimHAL(f, self.index, self.store)
        cfg = {
            "dev": self.dev,
            "loc": self.loc,
            "boots": self.boots,
            "reset": reset,
            "slot": "a",
            "tele_batch": f.config.tele_batch,
            "max_batch": f.config.max_batch,
        }
        controller = fw.Controller
        if f.loader_boot is not None:
            got = f.loader_boot.boot(self.dev)
            if got is None:  # safe mode: nothing runnable; the device resets in a minute
                self.controller = None
                f.boot_at[self.index] = now_ms + SAFE_MODE_MS
                self.wake_ms = now_ms + SAFE_MODE_MS
                return
            controller, info, confirm = got
            cfg.update(fw=info["version"], slot=info["slot"], pending=info["pending"])
            self.hal.on_confirm = confirm
        self.controller = controller(self.clock, self.hal, self.link, cfg)
        self.wake_ms = now_ms

    def crash(self) -> None:
        """Unplanned reset: the controller stops dead (no DISCONNECT: the will fires)."""
        self.controller = None
        with contextlib.suppress(OSError):
            self.link.close()


class Fleet:
    """N virtual devices, the greenhouse they sit in, and the loop that runs them.

    Parameters
    ----------
    config : FleetConfig
        What to simulate.
    faults : list of Fault
        Injected faults (times from the start).
    broker : tuple (host, port), optional
        A real MQTT broker; ``None`` runs in-process with :class:`MemoryLink` and hands
        every message to ``sink``.
    sink : callable(topic, payload), optional
        Receives messages in the in-process mode.
    credentials : mapping of device id to (username, password), optional
        Each device's broker account (``fluxfleet sim --credentials``); devices not in it
        connect without one.
    devices : sequence of int, optional
        Run only these devices (the greenhouse and sensors are still drawn for the
        whole fleet, so a fleet split over worker processes is the same fleet).
    """

    def __init__(
        self,
        config: FleetConfig,
        faults: list[Fault] | None = None,
        broker: tuple[str, int] | None = None,
        sink: Callable[[str, bytes], None] | None = None,
        devices: Sequence[int] | None = None,
        credentials: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.config = c = config
        n = c.chambers
        self.rng = np.random.default_rng(c.seed + 1)
        self.greenhouse = Greenhouse(n, c.start_s, c.duration_s, c.seed, c.site, c.geometry)
        self.sensors = SensorBank(n, np.random.default_rng(c.seed + 2), c.sensors)
        self.fault_list = list(faults or [])
        self.faults = FaultState(self.fault_list, n)
        self.start_ms = round(c.start_s * 1000)
        self.now_ms = self.start_ms
        self.end_ms = self.start_ms + round(c.duration_s * 1000)
        self.dt_ms = round(c.physics_dt_s * 1000)
        self.servo_deg = np.full(n, 90, dtype=np.int64)
        self.fan_pct = np.zeros(n, dtype=np.int64)
        self.closed_deg = fw.DEFAULT_CONFIG["closed_deg"]
        self.sealed_now = np.zeros(n, dtype=bool)
        """Where the lid sealed the pot during the last physics step."""
        self.broker = broker
        self.sink = sink
        self.truth = TruthRecorder(self)
        self._readings: Readings | None = None
        self._readings_lists: Readings | None = None
        self.true_pressure_hpa = self.greenhouse.now["pressure_hpa"]
        self.devices: list[Device] = []
        for i in range(n) if devices is None else devices:
            link: Any
            if broker is not None:
                user, password = (credentials or {}).get(device_id(i), (None, None))
                link = PahoLink(*broker, user, password)
            else:
                link = MemoryLink(sink or (lambda t, p: None))
            self.devices.append(Device(self, i, link))
        self.by_index = {d.index: d for d in self.devices}
        self.loader_boot = LoaderBoot(c.firmware) if c.firmware is not None else None
        self.boot_at = np.full(n, -1, dtype=np.int64)
        self.samples = 0
        self._last_misc = time.monotonic()
        self.sensors.advance(0.0 + 1.0, self.greenhouse.co2_wet_ppm())

    # --- called by the HAL -----------------------------------------------------------------
    def readings_now(self) -> Readings:
        """The sensors' readings at the current step (drawn once per step, as lists)."""
        if self._readings_lists is None:
            g = self.greenhouse
            r = self.sensors.read(
                g.state.h2o_mol_mol, g.now["air_t_c"], g.now["pressure_hpa"], g.now["lux"]
            )
            self._readings = r
            self._readings_lists = Readings(
                co2_ppm=r.co2_ppm.tolist(),
                rh_pct=r.rh_pct.tolist(),
                scd_t_c=r.scd_t_c.tolist(),
                pressure_hpa=r.pressure_hpa.tolist(),
                air_t_c=r.air_t_c.tolist(),
                lux=r.lux.tolist(),
            )
        return self._readings_lists

    def servo_changed(self, device: int, deg: int) -> None:
        self.servo_deg[device] = deg

    def fan_changed(self, device: int, pct: int) -> None:
        self.fan_pct[device] = pct

    def forced_recalibration(self, device: int, ppm: float) -> None:
        self.sensors.forced_recalibration(device, ppm)
        self.truth.note_event(device, "frc", self.now_ms)

    # --- the loop ----------------------------------------------------------------------------
    def lid_sealed(self) -> NDArray[np.bool_]:
        """Where the lid seals the pot now (servo at the closed angle, unless stuck)."""
        f = self.faults.active
        closed = self.servo_deg == self.closed_deg
        return np.asarray((closed & ~f["servo_stuck_open"]) | f["servo_stuck_closed"])

    def start(self) -> None:
        """Boot every device (staggered over the first 3 s, as after a power-up)."""
        for d in self.devices:
            d.boot(self.now_ms + int(self.rng.integers(0, 3000)), "power_on")
        self._apply_faults()

    def _apply_faults(self) -> None:
        t_rel = (self.now_ms - self.start_ms) / 1000.0
        before_clog = self.faults.active["clogged"].copy()
        before_wifi = self.faults.active["wifi_outage"].copy()
        before_skew = self.faults.skew_ms.copy()
        if not self.faults.advance(t_rel):
            return
        if (self.faults.active["clogged"] != before_clog).any():
            self.greenhouse.clogged = self.faults.active["clogged"].copy()
            self.greenhouse.refresh()
        for i in np.flatnonzero(self.faults.active["wifi_outage"] & ~before_wifi).tolist():
            if i in self.by_index:
                with contextlib.suppress(OSError):
                    self.by_index[i].link.close()  # the access point vanishes
        for i in np.flatnonzero(self.faults.skew_ms != before_skew).tolist():
            clk = self.by_index[i].clock if i in self.by_index else None
            if clk is not None:  # the wall clock jumps by the skew
                clk.offset_ms += int(self.faults.skew_ms[i] - before_skew[i])
        while self.faults.due_reboots:
            i = int(self.faults.due_reboots.pop(0))
            d = self.by_index.get(i)
            if d is not None and d.controller is not None:
                d.crash()
                d.next_reset = "power_on"
                self.truth.device_stopped(i, self.now_ms)
                self.boot_at[i] = self.now_ms + BOOT_MS
                d.wake_ms = self.boot_at[i]

    def _service_network(self) -> None:
        """Read acknowledgements and commands from the broker; paho's keep-alive."""
        if self.broker is None:
            return
        socks = {}
        for d in self.devices:
            s = d.link.socket()
            if s is not None:
                socks[s] = d.link
        if socks:
            readable, _, _ = select.select(list(socks), [], [], 0)
            for s in readable:
                socks[s].service(True)
            for lk in socks.values():
                if lk.client is not None and lk.client.want_write():
                    lk.service(False)
        now = time.monotonic()
        if now - self._last_misc > 1.0:
            self._last_misc = now
            for lk in socks.values():
                lk.misc()

    def step(self) -> None:
        """Advance the whole fleet by one physics step."""
        g = self.greenhouse
        dt_s = self.dt_ms / 1000.0
        sealed = self.lid_sealed()
        self.sealed_now = sealed
        flush = ~sealed & (self.fan_pct >= FLUSH_FAN_PCT)
        g.step(dt_s, sealed, flush)
        self.sensors.advance(dt_s, g.co2_wet_ppm())
        self._readings_lists = None
        self.true_pressure_hpa = g.now["pressure_hpa"]
        self.now_ms += self.dt_ms
        self._apply_faults()
        now = self.now_ms
        for d in self.devices:
            if d.wake_ms > now:
                continue
            if d.controller is None:
                if self.boot_at[d.index] >= 0 and now >= self.boot_at[d.index]:
                    self.boot_at[d.index] = -1
                    d.boot(now, d.next_reset)
                else:
                    continue
            ctrl = d.controller
            assert d.clock is not None
            self.truth.before_step(d)
            w = ctrl.step()
            self.truth.after_step(d)
            if w is None:  # rebooted by the firmware (6-h reboot or command)
                d.controller = None
                d.next_reset = "hard"
                self.truth.device_stopped(d.index, now)
                self.boot_at[d.index] = now + BOOT_MS
                d.wake_ms = self.boot_at[d.index]
            else:
                d.wake_ms = d.clock.boot_ms + w
        self._service_network()

    def run(
        self,
        speed: float | None = None,
        progress: Callable[[float], None] | None = None,
        progress_every_s: float = 600.0,
    ) -> None:
        """Run until the configured end.

        Parameters
        ----------
        speed : float, optional
            Simulated seconds per wall second; ``None`` = as fast as possible.
        progress : callable(simulated_seconds_done), optional
            Called every ``progress_every_s`` simulated seconds.
        progress_every_s : float
            [s].
        """
        if not any(d.controller for d in self.devices):
            self.start()
        t0_wall = time.monotonic()
        t0_sim = self.now_ms
        next_progress = self.now_ms + int(progress_every_s * 1000)
        while self.now_ms < self.end_ms:
            self.step()
            if speed is not None:
                due = t0_wall + (self.now_ms - t0_sim) / 1000.0 / speed
                lag = due - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
            if progress is not None and self.now_ms >= next_progress:
                progress((self.now_ms - t0_sim) / 1000.0)
                next_progress += int(progress_every_s * 1000)
        self.finish()

    def finish(self) -> None:
        """Send what the devices still hold, close the truth record and disconnect.

        At the end of the run each controller is told to send partial telemetry batches
        (``tele_batch`` = 1) and stepped once more, so every sample taken is published.
        """
        self.truth.finish(self.now_ms)
        for d in self.devices:
            if d.controller is not None:
                d.controller.cfg["tele_batch"] = 1
                for _ in range(3):
                    d.controller.step()
                    self._service_network()
        if self.broker is None:
            return
        deadline = time.monotonic() + 10.0
        # let the controllers send their last batches (as if a few more polls happened)
        while time.monotonic() < deadline:
            busy = False
            for lk in (d.link for d in self.devices):
                c = lk.client
                if c is not None and (c.want_write() or (lk.connected and lk.unacked())):
                    busy = True
            self._service_network()
            if not busy:
                break
            time.sleep(0.01)
        for d in self.devices:
            with contextlib.suppress(OSError):
                d.link.disconnect()
