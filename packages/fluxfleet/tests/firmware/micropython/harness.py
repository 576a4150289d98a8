# The firmware on the real MicroPython VM (run by run.mjs; not collected by pytest).
# Known answers below were computed under CPython (hashlib, cryptography) and are
# typed in, so both interpreters must agree on them. Prints "ALL OK" at the end.
# ruff: noqa
# mypy: ignore-errors
import json
import os

from app import controller, ed25519, http, loader, mqtt, protocol, ring, sntp, storage
from app.clock import ManualClock
from app.drivers import bmp280, scd30

checks = []


def check(name, cond):
    if not cond:
        raise AssertionError("FAILED: " + name)
    checks.append(name)


# --- protocol --------------------------------------------------------------------------
s = {
    "seq": 7,
    "ts": 1700000000000,
    "cyc": 2833334,
    "ph": "closed",
    "co2_ppm": 612.5,
    "rh_pct": None,
    "t_c": 24.25,
    "ta_c": 21.5,
    "p_hpa": 970.25,
    "lux": 0.0,
    "lid_deg": 0,
    "fan_pct": 100,
    "fl": 1,
}
tele = {"v": 1, "dev": "c01", "ts": 1, "boot": 2, "seq": 7, "loc": "9.2.B", "samples": [s]}
data = protocol.encode("telemetry", tele)
check("compact json", b", " not in data and b": " not in data)
check("telemetry round trip", protocol.decode("telemetry", data) == tele)
try:
    bad = dict(tele)
    bad["samples"] = [dict(s, p_hpa="x")]
    protocol.decode("telemetry", json.dumps(bad))
    check("bad field rejected", False)
except protocol.ProtocolError as e:
    check("error names the field", e.field == "samples[0].p_hpa")
check("location", protocol.check_location("9.2.B") == "9.2.B")

# --- ring buffer on both stores ------------------------------------------------------------
for store in (storage.MemoryStore(), storage.FileStore("/flash/ring")):
    r = ring.Ring(store, slots=8, commit_every=2, seg_records=4)
    for i in range(21):
        r.append(dict(s))
    check("ring head", (r.head, r.committed) == (21, 20))
    got = r.read(18)
    check("ring record", got["co2_ppm"] == 612.5 and got["rh_pct"] is None and got["seq"] == 18)
    # 3 segments of 4 kept (8 slots + the one being filled): 1-8 rotated out whole, unsent
    check("ring rotation", r.read(8) is None and r.read(9) is not None and r.lost == 8)
    check("ring segments", len(store.names("ring.0")) == 3)
    r.mark_sent(19)
    r.save(True)
    r2 = ring.Ring(store, slots=8, commit_every=2, seg_records=4)
    check("ring recovers", (r2.head, r2.committed, r2.sent) == (21, 21, 19))
    r3 = ring.Ring(store, slots=8, commit_every=2, seg_records=4)  # a cut: gap of 1 seq
    check("ring unclean boot", r3.append(dict(s)) == 23)
check("record size", ring.RECORD_SIZE == 50)

# --- drivers, MQTT, SNTP ------------------------------------------------------------------
check("crc 0x81", scd30.crc8(b"\x00\x00") == 0x81)
check("crc 0x92", scd30.crc8(b"\xbe\xef") == 0x92)
check("scd30 frame", scd30.frame(0x0010, 970) == b"\x00\x10\x03\xca\x30")


class SCD30Bus:  # answers data-ready = 1 and a measurement of (612.5, 24.25, 55.5)
    def __init__(self):
        self.last = None
        self.written = []

    def writeto(self, addr, buf):
        self.written.append(bytes(buf))
        self.last = (buf[0] << 8) | buf[1]

    def readfrom(self, addr, n):
        def word(v):
            w = bytes(((v >> 8) & 0xFF, v & 0xFF))
            return w + bytes((scd30.crc8(w),))

        if self.last == scd30.CMD_DATA_READY:
            return word(1)
        out = b""
        for hi, lo in ((0x4419, 0x2000), (0x41C2, 0x0000), (0x425E, 0x0000)):  # float32 words
            out += word(hi) + word(lo)
        return out


bus = SCD30Bus()
sensor = scd30.SCD30(bus, sleep_ms=lambda ms: None)
sensor.setup(interval_s=2, pressure_mbar=970)
check("scd30 setup frames", [w[:2] for w in bus.written] == [b"\x46\x00", b"\x53\x06", b"\x00\x10"])
check("scd30 floats", sensor.read() == (612.5, 24.25, 55.5))
cal = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
p_hpa, t_c = bmp280.compensate(cal, 519888, 415148)
check("bmp280 datasheet", abs(p_hpa * 100 - 100653.27) < 0.01 and abs(t_c - 25.08) < 0.005)
check("mqtt length", mqtt.encode_length(16384) == b"\x80\x80\x01")
check(
    "mqtt publish",
    mqtt.publish_packet("a/b", b"hi", 1, True, 1) == b"\x33\x09\x00\x03a/b\x00\x01hi",
)
pkt = bytearray(48)
pkt[0], pkt[1] = 0x24, 2
pkt[40:44] = (1700000000 + sntp.NTP_TO_UNIX_S).to_bytes(4, "big")
pkt[44:48] = (2147483648).to_bytes(4, "big")  # .5 s
check("sntp", sntp.parse(bytes(pkt), 40) == 1700000000520)

# --- Ed25519 with the pure-Python SHA-512 (this port's hashlib has no sha512) --------------
check(
    "sha512",
    ed25519.sha512(b"abc")
    == bytes.fromhex(
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    ),
)
pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
sig = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
check("rfc 8032 vector", ed25519.verify(pk, b"", sig))
check("wrong message", not ed25519.verify(pk, b"x", sig))
# small-order keys: R = identity, S = 0 would "verify" any message (issue 12 #11)
ident = b"\x01" + bytes(31)
for weak in (ident, bytes(32), bytes.fromhex("ec" + "ff" * 30 + "7f")):
    check("small-order key refused", not ed25519.verify(weak, b"any", ident + bytes(32)))
    check("small-order key named", ed25519.check_public_key(weak) is not None)
check("rfc 8032 key usable", ed25519.check_public_key(pk) is None)
# a SUBACK refusal comes out of poll() with its pid
sub = mqtt.MqttLink(lambda h, p: None, "b", 1883)


class SubT:
    def __init__(self):
        self.data = bytes((0x90, 3, 0, 1, 0x80))

    def write(self, b):
        pass

    def read_available(self):
        out, self.data = self.data, b""
        return out

    def close(self):
        pass


sub.t = SubT()
check("subscribe pid", sub.subscribe("fluxfleet/v1/c01/cmd", 1) == 1)
check("suback refusal", sub.poll() == [("suback", 1, 0x80)])

# --- the loader: signed by CPython's cryptography, verified and installed here --------------
FLEET_KEY = bytes.fromhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
ENVELOPE = b'{"alg":"ed25519","body":"{\\"files\\":[{\\"path\\":\\"main.py\\",\\"sha256\\":\\"e0cb9debdb563025b7c11817ec16198da076090d46dbee8ccc4c3d58a3734ab9\\",\\"size\\":12}],\\"v\\":1,\\"version\\":\\"1.0.0\\"}","sig":"f231054cbf3b2887d59b2f12ab8425fb743ee9a5482fdc3f05a18442092aaa3fe18ab7cf37fc26abd739f6dd49f11883d982ada44a627cd39d0ff2e7c7c6660d"}'
FILES = {"manifest.json": ENVELOPE, "bundles/1.0.0/main.py": b"VERSION = 1\n"}


class Resp:
    def __init__(self, data):
        self.status = 200 if data is not None else 404
        self.data = data or b""

    def read(self, n):
        out, self.data = self.data[:n], self.data[n:]
        return out

    def close(self):
        pass


def fetch(url, timeout_ms):
    return Resp(FILES.get(url[len("http://u/") :]))


os.mkdir("/flash/dev")
boots = []
for i in range(5):
    ld = loader.Loader("/flash/dev", FLEET_KEY, "http://u", fetch, lambda: 0)
    boots.append(ld.boot())
check("installed", boots[0]["updated"] and boots[0]["slot"] == "a")
# a first install that never confirms has nothing to revert to: it keeps running (issue 12 #1)
check("never revert to nothing", [b["slot"] for b in boots] == ["a"] * 5)
tampered = ENVELOPE.replace(b"1.0.0", b"1.0.1")
FILES["manifest.json"] = tampered
try:
    loader.open_envelope(tampered, FLEET_KEY)
    check("tampered manifest refused", False)
except loader.LoaderError as e:
    check("tampered manifest refused", e.what == "manifest.sig")


# --- HTTP on a scripted transport ---------------------------------------------------------
class T:
    def __init__(self, chunks):
        self.chunks = chunks

    def write(self, b):
        pass

    def read(self, n, timeout_ms):
        return self.chunks.pop(0) if self.chunks else b""

    def close(self):
        pass


r = http.get(
    lambda h, p: T([b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhel", b"lo!"]),
    "http://h/x",
    1000,
    lambda: 0,
)
check("http body", r.read(10) + r.read(10) + r.read(10) == b"hello")

# hostile replies: every one is an HTTPError (an OSError) on MicroPython too, and the loader
# runs the cached version over them (issue 12 #2)
for bad in (
    b"HTTP/1.1 OK\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: x\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nX: \xff\xfe\r\n\r\n",
    b"\x00garbage\r\n\r\n",
):
    try:
        http.get(lambda h, p: T([bad]), "http://h/x", 1000, lambda: 0)
        check("hostile reply refused", False)
    except OSError:
        pass
    ld = loader.Loader(
        "/flash/dev",
        FLEET_KEY,
        "http://u",
        lambda url, t: http.get(lambda h, p: T([bad]), url, t, lambda: 0),
        lambda: 0,
    )
    check("hostile reply: cached version runs", ld.boot()["slot"] == "a")
ld = loader.Loader(
    "/flash/dev",
    FLEET_KEY,
    "ftp://u",
    lambda url, t: http.get(lambda h, p: T([]), url, t, lambda: 0),
    lambda: 0,
)
d = ld.boot()
check(
    "ftp url: cached version runs", d["slot"] == "a" and "only http:// and https://" in d["reason"]
)


def no_tls_section(h, p, secure=False):  # as hal.core2.Board.tcp without a tls section
    from app import tls

    if secure:
        raise tls.TlsError("TLS asked for but config.json has no tls section (fleet CA)")
    return T([])


ld = loader.Loader(
    "/flash/dev",
    FLEET_KEY,
    "https://u",
    lambda url, t: http.get(no_tls_section, url, t, lambda: 0),
    lambda: 0,
)
d = ld.boot()
check("https url without a tls section: cached version runs", d["slot"] == "a")
check("... saying why", "update server unavailable (TLS asked for" in d["reason"])


# --- the controller's incremental least-squares line ----------------------------------------
fit = controller.LineFit()
for i in range(5):
    fit.add(1.5 + 3.0 * i, 431.0 + 0.5 * i + (0.25 if i % 2 else -0.25))
# numpy.polyfit / corrcoef under CPython: slope 1/6 ppm/s, change 2.0 ppm over 12 s, r2 25/28
check("linefit slope", abs(fit.slope() - 1 / 6) < 1e-9)
check("linefit change", abs(fit.change() - 2.0) < 1e-9)
check("linefit r2", abs(fit.r2() - 25 / 28) < 1e-9)


# --- the controller: one hour, a flat CO2 curve (every closure extended) -------------------
class Part:
    def __init__(self):
        self.log = []

    def angle(self, deg):
        self.log.append(deg)

    def duty(self, pct):
        self.log.append(pct)


class CO2:
    def __init__(self):
        self.log = []

    def read(self):
        self.log.append("read")
        return (431.0, 24.0, 55.0)

    def set_pressure(self, hpa):
        self.log.append(hpa)

    def frc(self, ppm):
        pass


class Baro:
    def read(self):
        return (970.0, 21.0)


class Light:
    def read(self):
        return 1.0


class Hal:
    def __init__(self):
        self.co2, self.baro, self.light = CO2(), Baro(), Light()
        self.servo, self.fan = Part(), Part()
        self.store = storage.MemoryStore()
        self.confirms = 0

    def net_up(self):
        return True

    def net_connect(self):
        pass

    def ntp_ms(self):
        return None

    def reboot(self):
        pass

    def confirm(self):
        self.confirms += 1


class Link:
    def __init__(self):
        self.pub = []
        self.un = []

    def connect(self, *a):
        pass

    def subscribe(self, *a):
        pass

    def publish(self, topic, payload, qos, retain):
        self.pub.append((topic, payload))
        self.un.append(len(self.pub))
        return len(self.pub)

    def poll(self):
        ev = [("puback", p) for p in self.un]
        self.un = []
        return ev

    def ping(self):
        pass

    def disconnect(self):
        pass

    def close(self):
        pass


clock = ManualClock(wall_ms=1700000100000)
hal, link = Hal(), Link()
ctl = controller.Controller(clock, hal, link, {"dev": "c01", "loc": "9.2.B", "ring_slots": 2000})
while clock.ticks < 3600000:
    w = ctl.step()
    clock.set_ticks(w if w > clock.ticks else clock.ticks)
    if w == clock.ticks:
        ctl.step()
        clock.advance(1)
cycles = [protocol.decode("cycle", p) for t, p in link.pub if t.endswith("/cycle")]
check("five closures in the hour", len(cycles) == 5)  # at 300, 900, ... 2700 s
check("all extended", all(c["ext_ms"] == 120000 and c["closed_ms"] == 300000 for c in cycles))
check("about 1200 samples", 1195 <= ctl.ring.head <= 1205)
check("confirmed", hal.confirms == 1)
check("servo exercised twice per closure", hal.servo.log.count(270) == 10)
check("pressure compensation before the first CO2 reading", hal.co2.log[:2] == [970, "read"])
check("pressure not re-sent while unchanged", hal.co2.log.count(970) == 1)


# --- the device's main loop: drivers on fake chips, MQTT client against a fake broker ------
class Broker:
    """A transport that behaves like an MQTT broker: CONNACK, SUBACK, PUBACK, PINGRESP."""

    def __init__(self):
        self.inbuf = b""
        self.out = b""
        self.published = []

    def write(self, data):
        self.inbuf += bytes(data)
        while True:
            p = mqtt.parse(self.inbuf)
            if p is None:
                return
            first, body, self.inbuf = p
            kind = first & 0xF0
            if kind == mqtt.CONNECT:
                self.out += b"\x20\x02\x00\x00"
            elif kind == 0x80:  # SUBSCRIBE
                self.out += b"\x90\x03" + body[:2] + b"\x01"
            elif kind == mqtt.PINGREQ:
                self.out += b"\xd0\x00"
            elif kind == mqtt.PUBLISH:
                tl = (body[0] << 8) | body[1]
                topic = body[2 : 2 + tl].decode()
                i = 2 + tl
                if (first >> 1) & 3:
                    self.out += b"\x40\x02" + body[i : i + 2]
                    i += 2
                self.published.append((topic, body[i:]))

    def read_available(self):
        out, self.out = self.out, b""
        return out

    def wait_readable(self, timeout_ms):
        return bool(self.out)

    def close(self):
        pass


class Regs:
    def __init__(self, regs):
        self.regs = regs
        self.ptr = 0

    def writeto(self, addr, buf):
        self.ptr = buf[0]
        for i in range(1, len(buf)):
            self.regs[self.ptr + i - 1] = buf[i]

    def readfrom(self, addr, n):
        return bytes([self.regs.get(self.ptr + i, 0) for i in range(n)])


class Bus:
    def __init__(self, chips):
        self.chips = chips

    def writeto(self, addr, buf):
        if addr not in self.chips:
            raise OSError(19)
        self.chips[addr].writeto(addr, buf)

    def readfrom(self, addr, n):
        if addr not in self.chips:
            raise OSError(19)
        return self.chips[addr].readfrom(addr, n)


qmp = {0xD1: 0x5C}
raw = (2**23 + 2000000).to_bytes(3, "big") + (2**23).to_bytes(3, "big")  # ~645 hPa
for i in range(6):
    qmp[0xF7 + i] = raw[i]


class Board:
    def __init__(self):
        self.config = {
            "device_id": "vm-1",
            "broker_host": "b",
            "location": "1.1.A",
            "data_dir": "/flash/data",
        }
        self.clock = ManualClock(wall_ms=1700000100000)
        self.i2c = Bus({0x61: SCD30Bus(), 0x70: Regs(qmp), 0x23: Regs({0x10: 1, 0x11: 44})})
        self.servo, self.fan = Part(), Part()
        self.store = None
        self.broker = Broker()
        self.feeds = 0
        self.confirms = 0

    def feed(self):
        self.feeds += 1

    def sleep_ms(self, ms):
        self.clock.advance(ms)

    def net_up(self):
        return True

    def net_connect(self):
        pass

    def ntp_ms(self):
        return self.clock.time_ms() + 500

    def tcp(self, host, port):
        return self.broker

    def reboot(self):
        pass

    def confirm(self):
        self.confirms += 1

    def reset_cause(self):
        return "power_on"

    def wants_location_entry(self):
        return False

    def ask_location(self, current, timeout_ms=None):
        return current

    def show_text(self, text):
        pass

    def log(self, msg):
        print(msg)


from app import main  # noqa: E402

os.mkdir("/flash/data")
board = Board()
ctl = main.run(
    board, {"version": "6.1.0", "slot": "a", "boots": 1, "pending": True}, max_steps=4000
)
pubs = board.broker.published
tele = [protocol.decode("telemetry", p) for t, p in pubs if t.endswith("/telemetry")]
samples = [x for m in tele for x in m["samples"]]
check("device published samples", len(samples) > 150 and samples[0]["seq"] == 1)
check("through the SCD30 driver", samples[-1]["co2_ppm"] == 612.5 and samples[-1]["rh_pct"] == 55.5)
check("through the QMP6988 driver", 600 < samples[-1]["p_hpa"] < 700)  # a mountain site
check("through the BH1750 driver", samples[-1]["lux"] == round(300 / 1.2, 1))
cyc = [protocol.decode("cycle", p) for t, p in pubs if t.endswith("/cycle")]
check("device closure", len(cyc) >= 1 and cyc[0]["closed_ms"] >= 180000)
meta = [protocol.decode("meta", p) for t, p in pubs if t.endswith("/meta")]
check("device meta", meta[-1]["skew_ms"] == 500 and meta[-1]["fw"] == "6.1.0")
check("device confirmed", board.confirms == 1)
check("meta says unconfirmed, then confirmed", not meta[0]["conf"] and meta[-1]["conf"])
check("watchdog fed", board.feeds >= 4000)

print("%d checks" % len(checks))
print("ALL OK")
