# boot.py on the real MicroPython VM (run by run.mjs with a data dir; not collected by
# pytest): /data/root is a chamber's flash prepared by CPython (golden /firmware, boot.py,
# slot a = 6.0.0 confirmed, slot b = 6.1.0 confirmed whose own loader raises at boot),
# /data/www the update server. Prints "ALL OK" at the end.
# ruff: noqa
# mypy: ignore-errors
import json
import sys

sys.path.insert(0, "/data/root")  # the device's flash root: /boot.py, /firmware
KEY = open("/data/key.txt").read().strip()


class Reset(Exception):
    pass


class ServingTransport:
    def __init__(self):
        self.reply = b""

    def write(self, data):
        path = data.split(b" ")[1].decode()[len("/fleet/") :]
        try:
            body = open("/data/www/" + path, "rb").read()
            self.reply = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        except OSError:
            self.reply = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    def read(self, n, timeout_ms):
        out, self.reply = self.reply[:n], self.reply[n:]
        return out

    def close(self):
        pass


class Clock:
    def ticks_ms(self):
        return 0


class Board:
    def __init__(self):
        self.config = {
            "fleet_key": KEY,
            "update_url": "http://updates.example/fleet",
            "flash_root": "/data/root",
        }
        self.clock = Clock()
        self.wdt = None
        self.logs = []
        self.ran = None

    def show_text(self, text):
        pass

    def wait_net(self, timeout_ms):
        return True

    def tcp(self, host, port):
        return ServingTransport()

    def feed(self):
        pass

    def sleep_ms(self, ms):
        pass

    def log(self, msg):
        print("log:", msg)
        self.logs.append(msg)

    def reboot(self):
        raise Reset()


BOARD = Board()


class core2:  # the fake hal.core2 (the real one imports machine)
    Board = None


core2.Board = lambda: BOARD
import firmware.hal

firmware.hal.core2 = core2
sys.modules["firmware.hal.core2"] = core2

exec(open("/data/root/boot.py").read(), {"__name__": "boot"})

st = json.loads(open("/data/root/loader.json").read())
ok = True
for name, cond in (
    (
        "the new loader failed and was rejected",
        any("the loader of version 6.1.0 failed" in m for m in BOARD.logs),
    ),
    (
        "the verified previous version runs",
        BOARD.ran is not None and BOARD.ran["version"] == "6.0.0",
    ),
    ("6.1.0 is bad", "6.1.0" in st["bad"] and st["active"] == "a"),
    (
        "no unfinished-attempt marker left",
        "loader.try" not in __import__("os").listdir("/data/root"),
    ),
):
    print(("ok: " if cond else "FAILED: ") + name)
    ok = ok and cond
if ok:
    print("ALL OK")
