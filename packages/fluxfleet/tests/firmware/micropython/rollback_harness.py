# The loader's rollout paths on the real MicroPython VM (run by run.mjs with a data dir; not
# collected by pytest). Flashes prepared by CPython's loader:
# /data/rollback: slot a = 6.0.0 confirmed, slot b = 6.1.0 installed and unconfirmed;
#   its update server (/data/www-rollback) serves 6.0.0's signed manifest again.
# /data/replay: 6.2.0 confirmed with min_version 6.2.0; its server (/data/www-replay) serves
#   the older, validly signed 6.1.0. Prints "ALL OK" at the end.
# ruff: noqa
# mypy: ignore-errors
import json

from app import http, loader

KEY = bytes.fromhex(open("/data/key.txt").read().strip())


class ServingTransport:
    def __init__(self, www):
        self.www = www
        self.reply = b""

    def write(self, data):
        path = data.split(b" ")[1].decode()[len("/fleet/") :]
        try:
            body = open(self.www + "/" + path, "rb").read()
            self.reply = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        except OSError:
            self.reply = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    def read(self, n, timeout_ms):
        out, self.reply = self.reply[:n], self.reply[n:]
        return out

    def close(self):
        pass


def boot(root, www):
    def fetch(url, timeout_ms):
        return http.get(lambda h, p: ServingTransport(www), url, timeout_ms, lambda: 0)

    ld = loader.Loader(root, KEY, "http://updates.example/fleet", fetch, lambda: 0)
    return ld, ld.boot()


ok = True


def check(name, cond):
    global ok
    print(("ok: " if cond else "FAILED: ") + name)
    ok = ok and cond


ld, d = boot("/data/rollback", "/data/www-rollback")
check(
    "the server names the previous version: back to it at once",
    d["version"] == "6.0.0" and d["slot"] == "a" and d["reverted"] and not d["pending"],
)
check("said so", "rolled back to 6.0.0" in d["reason"])
st = json.loads(open("/data/rollback/loader.json").read())
check("the pointer is switched", st["active"] == "a" and not st["pending"] and st["prev"] is None)
ld, d = boot("/data/rollback", "/data/www-rollback")
check("then up to date", d["version"] == "6.0.0" and d["reason"] == "up to date")

ld, d = boot("/data/replay", "/data/www-replay")
check("an older signed bundle is refused", d["version"] == "6.2.0" and not d["updated"])
check("naming the minimum", "older than the minimum 6.2.0" in d["reason"])

if ok:
    print("ALL OK")
