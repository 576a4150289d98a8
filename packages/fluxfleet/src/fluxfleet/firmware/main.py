# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Device main loop: drivers + storage + MQTT + controller, the watchdog fed every turn.

``boot.py`` (stage 0) calls :func:`run` with the board (``hal.core2.Board``, whose
watchdog is already armed) and the loader's decision. This module never imports
``machine``: everything physical comes in through ``board``.
"""

from . import protocol, tls
from .controller import Controller
from .drivers.bh1750 import BH1750
from .drivers.bmp280 import BMP280
from .drivers.qmp6988 import QMP6988
from .drivers.scd30 import SCD30
from .mqtt import MqttLink
from .storage import FileStore

MAX_SLEEP_MS = 200
MAX_ERRORS = 10  # consecutive controller exceptions before a reset
LOCATION_TIMEOUT_MS = 5 * 60 * 1000  # keypad idle this long: run unlabelled


class Missing:
    """Stands in for a sensor that did not answer at boot: every read is a bus error."""

    def __init__(self, what):
        self.what = what

    def read(self):
        raise OSError("no " + self.what)

    def set_pressure(self, hpa):
        raise OSError("no " + self.what)

    def frc(self, ppm):
        raise OSError("no " + self.what)


def setup_sensors(board):
    i2c = board.i2c
    try:
        co2 = SCD30(i2c, sleep_ms=board.sleep_ms)
        co2.setup(interval_s=2, pressure_mbar=0)
    except OSError:
        co2 = Missing("SCD30")
    baro = Missing("pressure sensor")
    for cls in (QMP6988, BMP280):
        try:
            b = cls(i2c)
            b.setup()
            baro = b
            break
        except OSError:
            pass
    try:
        light = BH1750(i2c)
        light.setup()
    except OSError:
        light = Missing("BH1750")
    return co2, baro, light


def tls_factory(board):
    """``board.tcp`` with TLS on: every MQTT (re)connect verifies the broker."""

    def connect(host, port):
        return board.tcp(host, port, True)

    return connect


def run(board, info, max_steps=None):
    """Run the chamber forever (``max_steps`` bounds the loop for host tests)."""
    cfg = board.config
    store = FileStore(cfg.get("data_dir", "/data"))
    board.store = store
    if store.get("location") is None or board.wants_location_entry():
        while True:
            # times out (None): nobody at the keypad - run unlabelled, never wait forever
            loc = board.ask_location(cfg.get("location"), LOCATION_TIMEOUT_MS)
            try:
                protocol.check_location(loc)
                store.put("location", loc.encode())
                break
            except protocol.ProtocolError as e:
                if loc is None:
                    break  # no screen: the location comes later by set_location
                board.show_text(str(e))
    board.co2, board.baro, board.light = setup_sensors(board)
    if "tls" in cfg:  # MQTT over TLS, the fleet CA pinned (tls.py); never plaintext then
        factory = tls_factory(board)
        port = cfg.get("broker_port", tls.DEFAULT_PORT)
    else:
        factory = board.tcp
        port = cfg.get("broker_port", 1883)
    link = MqttLink(
        factory,
        cfg["broker_host"],
        port,
        cfg.get("mqtt_user"),
        cfg.get("mqtt_password"),
    )
    ctl = Controller(
        board.clock,
        board,
        link,
        {
            "dev": cfg["device_id"],
            "fw": info["version"],
            "slot": info["slot"],
            "boots": info["boots"],
            "pending": bool(info.get("pending", False)),
            "reset": board.reset_cause(),
        },
    )
    steps = 0
    errors = 0
    while max_steps is None or steps < max_steps:
        steps += 1
        try:
            wake = ctl.step()
            errors = 0
        except Exception as e:  # a bug must not stop the chamber: log, retry, then reset
            errors += 1
            board.log("controller error %d: %r" % (errors, e))
            if errors >= MAX_ERRORS:
                try:
                    ctl.save(True)  # the samples in RAM to flash: no loss, no seq gap
                except Exception:
                    pass
                board.reboot()
                return ctl
            wake = board.clock.ticks_ms() + 1000
        board.feed()
        if wake is None:  # the controller rebooted (hal.reboot() normally never returns)
            board.reboot()
            return ctl
        now = board.clock.ticks_ms()
        wait = wake - now
        if wait > 0:
            board.sleep_ms(wait if wait < MAX_SLEEP_MS else MAX_SLEEP_MS)
    return ctl
