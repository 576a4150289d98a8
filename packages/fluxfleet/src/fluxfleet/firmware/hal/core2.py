# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""M5Stack Core2 board support (device only): the one module importing machine/network/M5.

Pin map (see docs/fleet/hardware.md):

=================  ======================  ===========================================
Core2 port         GPIO                    use
=================  ======================  ===========================================
Port A (red)       SDA G32, SCL G33        I2C bus: SCD30 0x61, QMP6988 0x70 (or
                                           BMP280 0x76), BH1750 0x23 via a 1-to-3 hub
Port B (black)     G26 (out), G36 (in)     lid servo signal on G26 (Grove-to-servo)
Port C (blue)      G14 (TX), G13 (RX)      fan: G14 drives a logic-level MOSFET
internal           touch screen, AXP192    location entry, status display, power
=================  ======================  ===========================================

The SCD30 stretches the clock up to 150 ms, so the bus is a software I2C at 50 kHz
with a 200 ms stretch timeout (the ESP32 hardware I2C times out far earlier).

This file is compiled with mpy-cross; the host tests (``test_core2.py``) import it with
fake ``machine``/``network``/``M5`` modules for what can be checked without hardware
(servo start-up pulse, socket write deadline, keypad time-out).
"""

import json
import select
import socket
import time

import machine
import network

try:
    import M5  # UIFlow 2: display, touch, power

    HAVE_M5 = True
except ImportError:  # plain MicroPython: no screen
    HAVE_M5 = False

from .. import sntp
from .. import tls as tlsmod

I2C_SDA = 32
I2C_SCL = 33
I2C_FREQ = 50000
I2C_STRETCH_US = 200000
SERVO_PIN = 26
SERVO_MIN_US = 500  # 0 deg
SERVO_MAX_US = 2500  # 270 deg
SERVO_RANGE_DEG = 270
FAN_PIN = 14
FAN_PWM_HZ = 1000
WDT_MS = 30000
IO_TIMEOUT_MS = 10000  # a socket write must finish within this [ms]
CONNECT_TIMEOUT_S = 2  # TCP handshake [s]: ms on the LAN; a lost SYN waits for the next try
TLS_TIMEOUT_S = 5  # longest wait for one TLS handshake message [s] (the server's answer)
SLICE_MS = 1000  # longest wait between watchdog feeds [ms]
LOCATION_TIMEOUT_MS = 5 * 60 * 1000  # keypad idle this long [ms]: run unlabelled
EAGAIN = 11
ETIMEDOUT = 110

_RESET = {
    getattr(machine, "PWRON_RESET", 1): "power_on",
    getattr(machine, "HARD_RESET", 2): "hard_reset",
    getattr(machine, "WDT_RESET", 3): "watchdog",
    getattr(machine, "DEEPSLEEP_RESET", 4): "deepsleep",
    getattr(machine, "SOFT_RESET", 5): "soft_reset",
}


class DeviceClock:
    """ticks_ms without wrap-around, and a wall clock set by NTP (ms since 1970)."""

    def __init__(self):
        self._last = time.ticks_ms()
        self._ticks = 0
        epoch = 946684800 if time.gmtime(0)[0] == 2000 else 0  # ports with a 2000 epoch
        self._offset = (time.time() + epoch) * 1000

    def ticks_ms(self):
        t = time.ticks_ms()
        self._ticks += time.ticks_diff(t, self._last)
        self._last = t
        return self._ticks

    def time_ms(self):
        return self._offset + self.ticks_ms()

    def set_time_ms(self, ms):
        self._offset = ms - self.ticks_ms()


def servo_us(deg):
    """Pulse width [µs] for the lid angle ``deg`` [°] (0…270)."""
    deg = max(0, min(SERVO_RANGE_DEG, deg))
    return SERVO_MIN_US + (SERVO_MAX_US - SERVO_MIN_US) * deg // SERVO_RANGE_DEG


class Servo:
    def __init__(self, pin=SERVO_PIN, open_deg=90):
        # created at the open position's pulse: PWM(pin, freq=50) alone starts at 50 %
        # duty on the ESP32 port (10-ms pulses, far outside the servo's range) until the
        # controller's first angle()
        self.pwm = machine.PWM(machine.Pin(pin), freq=50, duty_ns=servo_us(open_deg) * 1000)

    def angle(self, deg):
        self.pwm.duty_ns(servo_us(deg) * 1000)


class Fan:
    def __init__(self, pin=FAN_PIN):
        self.pwm = machine.PWM(machine.Pin(pin), freq=FAN_PWM_HZ, duty_u16=0)

    def duty(self, pct):
        self.pwm.duty_u16(max(0, min(100, pct)) * 65535 // 100)


_ADDRS = {}  # type: dict  # (host, port) -> socket address, for this boot


def resolve(host, port):
    """The address of ``host``: DNS once per boot (the 6-hourly reboot refreshes it), so
    a reconnect never waits for a DNS server (lwIP's lookup can block for seconds)."""
    a = _ADDRS.get((host, port))
    if a is None:
        a = socket.getaddrinfo(host, port)[0][-1]
        _ADDRS[(host, port)] = a
    return a


class TcpTransport:
    """mqtt/http transport on a MicroPython socket: non-blocking, every wait bounded.

    ``connect`` waits at most 5 s; a ``write`` must finish within ``io_timeout_ms``
    (10 s) - a stalled link (lwIP's send buffer full, a 9-kB telemetry batch) is an
    ``OSError(ETIMEDOUT)`` the controller handles by dropping the link, never a block
    that starves the 30-s watchdog; ``feed`` (the watchdog) is called between the waits
    of at most :data:`SLICE_MS`.
    """

    def __init__(self, host, port, feed=None, io_timeout_ms=IO_TIMEOUT_MS, tls=None):
        addr = resolve(host, port)
        s = socket.socket()
        try:
            s.settimeout(CONNECT_TIMEOUT_S)  # a reconnect blocks the loop this long at most
            s.connect(addr)
            if tls is not None:  # the fleet CA pinned, verification required (tls.py)
                import ssl

                s.settimeout(TLS_TIMEOUT_S)
                if feed is not None:
                    feed()
                s = tlsmod.wrap(ssl, s, tls, host, port)
        except OSError:
            s.close()
            raise
        self._setup(s, feed, io_timeout_ms)

    def _setup(self, s, feed, io_timeout_ms):
        self.s = s
        s.setblocking(False)
        self.p = select.poll()
        self.p.register(s, select.POLLIN)
        self.wp = select.poll()
        self.wp.register(s, select.POLLOUT)
        self.feed = feed
        self.io_timeout_ms = io_timeout_ms

    def write(self, data):
        mv = memoryview(data)
        t0 = time.ticks_ms()
        while mv:
            try:
                n = self.s.write(mv)
            except OSError as e:
                if e.args and e.args[0] != EAGAIN:
                    raise
                n = 0
            if n:
                mv = mv[n:]
                continue
            if time.ticks_diff(time.ticks_ms(), t0) >= self.io_timeout_ms:
                raise OSError(ETIMEDOUT, "ETIMEDOUT: link stalled while writing")
            if self.feed is not None:
                self.feed()
            self.wp.poll(SLICE_MS)  # until the send buffer has room (or a slice passed)

    def wait_readable(self, timeout_ms):
        return bool(self.p.poll(timeout_ms))

    def read_available(self):
        out = b""
        while self.p.poll(0):
            b = self.s.read(1024)
            if b is None:  # non-blocking read with nothing there after all
                break
            if not b:  # b"": the peer closed the connection
                if out:
                    return out
                raise OSError("connection closed by peer")
            out += b
        return out

    def read(self, n, timeout_ms):
        if not self.p.poll(timeout_ms):
            raise OSError(110, "ETIMEDOUT")
        b = self.s.read(n)
        if b is None:
            raise OSError(110, "ETIMEDOUT")  # http retries within its deadline
        return b

    def close(self):
        self.s.close()


class Board:
    """The HAL object the controller gets (plus what boot.py and main.py need)."""

    def __init__(self, config_path="/config.json"):
        self.wdt = machine.WDT(timeout=WDT_MS)  # first: armed for the whole boot
        if HAVE_M5:
            M5.begin()  # powers the Grove 5 V rail through the AXP192
        with open(config_path) as f:
            self.config = json.loads(f.read())
        self.clock = DeviceClock()
        self.i2c = machine.SoftI2C(
            scl=machine.Pin(I2C_SCL),
            sda=machine.Pin(I2C_SDA),
            freq=I2C_FREQ,
            timeout=I2C_STRETCH_US,
        )
        self.servo = Servo(SERVO_PIN, self.config.get("open_deg", 90))
        self.fan = Fan()
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        # TLS (config "tls"): checked once here; a section that cannot be used refuses
        # every TLS connection with its reason (never plaintext), it does not stop the boot
        self.tls = self.tls_error = None
        try:
            self.tls = tlsmod.parse_config(self.config)
        except tlsmod.TlsError as e:
            self.tls_error = str(e)
            print(self.tls_error)
        self.store = None  # set by main.py (FileStore("/data"))
        self.co2 = self.baro = self.light = None  # drivers, set by main.py
        self.confirm_cb = None

    # --- controller HAL -------------------------------------------------------------------

    def feed(self):
        self.wdt.feed()

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def net_up(self):
        return self.wlan.isconnected()

    def net_connect(self):
        if not self.wlan.isconnected():
            try:
                self.wlan.connect(self.config["wifi_ssid"], self.config["wifi_password"])
            except OSError:
                pass

    def wait_net(self, timeout_ms):
        self.net_connect()
        t0 = time.ticks_ms()
        while not self.wlan.isconnected():
            if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
                return False
            self.feed()
            time.sleep_ms(200)
        return True

    def ntp_ms(self):
        host = self.config.get("ntp_host", "pool.ntp.org")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(1)
            addr = socket.getaddrinfo(host, 123)[0][-1]
            t0 = time.ticks_ms()
            s.sendto(sntp.request(), addr)
            resp = s.recv(48)
            rtt = time.ticks_diff(time.ticks_ms(), t0)
            return sntp.parse(resp, rtt)
        except (OSError, ValueError):
            return None
        finally:
            s.close()

    def tcp(self, host, port, tls=False):
        """A transport to ``host:port``; ``tls=True``: over TLS with the fleet CA pinned."""
        if not tls:
            return TcpTransport(host, port, self.feed)
        if self.tls is None:
            raise tlsmod.TlsError(
                self.tls_error or "TLS asked for but config.json has no tls section (fleet CA)"
            )
        return TcpTransport(host, port, self.feed, tls=self.tls)

    def reboot(self):
        machine.reset()

    def confirm(self):
        if self.confirm_cb is not None:
            self.confirm_cb()

    def reset_cause(self):
        return _RESET.get(machine.reset_cause(), "unknown")

    def log(self, msg):
        print(msg)

    # --- screen -------------------------------------------------------------------------

    def show(self, status):
        if not HAVE_M5:
            return
        d = M5.Lcd
        d.fillScreen(0x000000)
        d.setTextSize(2)
        d.drawString("%s  %s" % (status.get("dev"), status.get("loc") or "NO LOCATION"), 8, 8)
        d.drawString("phase: %s" % status.get("phase"), 8, 40)
        d.drawString("online" if status.get("online") else "OFFLINE", 8, 72)
        if not status.get("online") and status.get("link_error"):  # e.g. a refused certificate
            d.drawString(status["link_error"][:26], 8, 136)
        d.drawString("backlog: %s" % status.get("pending"), 8, 104)
        d.drawString("fw %s" % status.get("fw"), 8, 200)

    def show_text(self, text):
        if HAVE_M5:
            M5.Lcd.fillScreen(0x000000)
            M5.Lcd.setTextSize(2)
            M5.Lcd.drawString(text, 8, 8)
        print(text)

    def ask_location(self, current=None, timeout_ms=LOCATION_TIMEOUT_MS):
        """Touch keypad for 'table.variant.replica'; the code, or ``current`` (maybe None)
        when nobody touched the keypad for ``timeout_ms`` - the chamber then runs
        unlabelled and the location comes by ``set_location`` (feeds the WDT)."""
        if not HAVE_M5:
            return current
        keys = [
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
            "9",
            "0",
            ".",
            "A",
            "B",
            "C",
            "D",
            "<",
            "OK",
        ]
        text = current or ""
        while True:
            d = M5.Lcd
            d.fillScreen(0x000000)
            d.setTextSize(2)
            d.drawString("Location (table.variant.replica):", 4, 4)
            d.drawString(text + "_", 4, 30)
            for i in range(len(keys)):
                x, y = 4 + (i % 6) * 52, 70 + (i // 6) * 52
                d.drawRect(x, y, 48, 48, 0xFFFFFF)
                d.drawString(keys[i], x + 12, y + 14)
            key = None
            t0 = time.ticks_ms()
            while key is None:
                if time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                    self.show_text("no location entered: running without")
                    return current
                self.feed()
                M5.update()
                if M5.Touch.getCount():
                    tx, ty = M5.Touch.getX(), M5.Touch.getY()
                    col, row = (tx - 4) // 52, (ty - 70) // 52
                    i = row * 6 + col
                    if 0 <= col < 6 and 0 <= row and i < len(keys):
                        key = keys[i]
                time.sleep_ms(50)
            while M5.Touch.getCount():  # wait for release
                self.feed()
                M5.update()
                time.sleep_ms(20)
            if key == "<":
                text = text[:-1]
            elif key == "OK":
                return text
            else:
                text += key

    def wants_location_entry(self):
        """Button A (left touch button) held at boot: re-enter the location code."""
        if not HAVE_M5:
            return False
        M5.update()
        return M5.BtnA.isPressed()
