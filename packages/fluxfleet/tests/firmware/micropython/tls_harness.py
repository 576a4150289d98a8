# The firmware's TLS on MicroPython's unix port (ssl = mbedTLS, as on the ESP32), run by
# test_tls_micropython.py and benchmarks/firmware_tls.py; not collected by pytest.
# argv[1]: a JSON file {"lib", "host", "plain_port", "tls_port", "user", "password", "dev",
# "ca", "rogue_ca", "name", "https_port", "impostor_port", "fleet_key", "flash", "repeat"}.
# The device's own transport (hal/core2.TcpTransport; machine/network are empty stand-ins,
# nothing of them is used by it), mqtt, http, loader and tls modules run here unchanged.
# Prints "RESULT <json>" (measurements) and "ALL OK" at the end.
# ruff: noqa
# mypy: ignore-errors
import gc
import json
import os
import sys
import time

A = json.loads(open(sys.argv[1]).read())
sys.path.insert(0, A["lib"])

checks = []


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError("FAILED: " + name + " " + str(detail))
    checks.append(name)


def malloc_mark():
    """(bytes malloc'd now, peak since the last mark) when the counting shim is preloaded
    (benchmarks/firmware_tls.py): mbedTLS allocates with malloc, outside the GC heap."""
    v = os.getenv("FLUXFLEET_MALLOC_MARK")
    if v is None:
        return None
    c, p = v.split()
    return int(c), int(p)


def gc_alloc():
    gc.collect()
    return gc.mem_alloc()


R = {"port": "unix " + sys.version, "mbedtls": None}
g0 = gc_alloc()
from firmware import http, loader, mqtt, protocol, tls

R["gc_import_tls_B"] = None  # tls is imported with the rest; measured on its own below
g1 = gc_alloc()
from firmware.hal import core2

import ssl

R["mbedtls"] = ssl.MBEDTLS_VERSION
R["gc_import_firmware_net_B"] = g1 - g0

# --- the config section ----------------------------------------------------------------------
g0 = gc_alloc()
cfg = tls.parse_config({"tls": {"ca": A["ca"], "server_hostname": A["name"]}})
R["gc_parsed_tls_config_B"] = gc_alloc() - g0
check("config parsed", len(cfg["ca_der"]) > 100 and cfg["server_hostname"] == A["name"])
rogue = tls.parse_config({"tls": {"ca": A["rogue_ca"], "server_hostname": A["name"]}})
try:
    tls.parse_config(
        {"tls": {"ca": "-----BEGIN CERTIFICATE-----\nAAAAA\n-----END CERTIFICATE-----"}}
    )
    check("bad base64 refused", False)
except OSError as e:
    check(
        "bad base64 is a TlsError naming tls.ca", isinstance(e, tls.TlsError) and "tls.ca" in str(e)
    )

host = A["host"]
core2.resolve(host, A["plain_port"])  # DNS once per boot, as on the device
core2.resolve(host, A["tls_port"])

# --- connect: TCP alone, then TCP + TLS handshake (the device's own transport) ----------------
tcp_us = []
tls_us = []
held = []
for i in range(A["repeat"]):
    t0 = time.ticks_us()
    tr = core2.TcpTransport(host, A["plain_port"])
    tcp_us.append(time.ticks_diff(time.ticks_us(), t0))
    tr.close()
    tr = None
    g0 = gc_alloc()
    m0 = malloc_mark()
    t0 = time.ticks_us()
    tr = core2.TcpTransport(host, A["tls_port"], tls=cfg)
    tls_us.append(time.ticks_diff(time.ticks_us(), t0))
    m1 = malloc_mark()
    g1 = gc_alloc()
    tr.close()
    tr = None
    gc.collect()  # the SSLContext's finaliser frees mbedTLS's parsed CA
    m2 = malloc_mark()
    held.append(
        (
            g1 - g0,
            None if m0 is None else m1[0] - m0[0],
            None if m0 is None else m1[1] - m0[0],
            None if m0 is None else m2[0] - m0[0],
        )
    )
R["tcp_connect_us"] = tcp_us
R["tls_connect_us"] = tls_us
R["gc_per_tls_connection_B"] = [h[0] for h in held]
R["malloc_held_per_tls_connection_B"] = [h[1] for h in held]
R["malloc_peak_tls_handshake_B"] = [h[2] for h in held]
R["malloc_left_after_close_B"] = [h[3] for h in held]


# --- MQTT over TLS with the device's account: telemetry arrives, PUBACKed -----------------------
def tls_connect(h, p):
    return core2.TcpTransport(h, p, tls=cfg)


link = mqtt.MqttLink(tls_connect, host, A["tls_port"], A["user"], A["password"])
t0 = time.ticks_us()
link.connect(A["dev"], protocol.topic(A["dev"], "status"), b'{"state":"offline"}', 30)
R["mqtt_tls_connack_us"] = time.ticks_diff(time.ticks_us(), t0)
sample = {
    "seq": 1,
    "ts": 1700000000000,
    "cyc": 2833333,
    "ph": "open",
    "co2_ppm": 431.5,
    "rh_pct": 55.0,
    "t_c": 24.25,
    "ta_c": 21.5,
    "p_hpa": 970.25,
    "lux": 2.0,
    "lid_deg": 90,
    "fan_pct": 40,
    "fl": 0,
}
tele = {
    "v": 1,
    "dev": A["dev"],
    "ts": 1700000000000,
    "boot": 1,
    "seq": 1,
    "loc": "5.3.A",
    "samples": [sample],
}
pid = link.publish(
    protocol.topic(A["dev"], "telemetry"), protocol.encode("telemetry", tele), 1, False
)
acked = False
for i in range(250):
    for ev in link.poll():
        if ev[0] == "puback" and ev[1] == pid:
            acked = True
    if acked:
        break
    link.t.wait_readable(20)
check("telemetry over TLS PUBACKed by the broker", acked)
link.disconnect()

# --- the wrong certificate: refused, an OSError saying why, never plaintext --------------------
for what, c, reason in (
    ("another CA pinned", rogue, "not correctly signed"),
    (
        "a name the certificate does not carry",
        dict(cfg, server_hostname="other.fleet.test"),
        "does not match",
    ),
):
    try:
        core2.TcpTransport(host, A["tls_port"], tls=c)
        check("refused: " + what, False)
    except OSError as e:  # mbedTLS raises ValueError; tls.wrap makes it a TlsError (OSError)
        msg = str(e)
        check("refused: " + what, isinstance(e, tls.TlsError) and reason in msg, msg)
        check("says no plaintext: " + what, "not connecting in plaintext" in msg, msg)
        R["refusal_" + what.replace(" ", "_")] = msg
bad = mqtt.MqttLink(lambda h, p: core2.TcpTransport(h, p, tls=rogue), host, A["tls_port"])
try:
    bad.start(A["dev"], "x", b"", 30)
    check("the MQTT link raises an OSError for a refused certificate", False)
except OSError as e:
    check("the MQTT link raises an OSError for a refused certificate", "TLS handshake" in str(e))


# --- HTTPS update with the pin: the loader installs the bundle signed under CPython ------------
def fetch_with(c):
    def connect(h, p, secure=False):
        check("https asks for TLS", secure is True)
        return core2.TcpTransport(h, p, tls=c)

    def fetch(url, timeout_ms):
        return http.get(connect, url, timeout_ms, time.ticks_ms)

    return fetch


key = bytes.fromhex(A["fleet_key"])
base = "https://%s:%d" % (host, A["https_port"])
t0 = time.ticks_ms()
d = loader.Loader(A["flash"], key, base, fetch_with(cfg), time.ticks_ms).boot()
R["https_install_ms"] = time.ticks_diff(time.ticks_ms(), t0)
check("installed over https", d["updated"] and d["version"] == "7.0.0", d)
os.mkdir(A["flash"] + "_http")  # the same install over plain http, for comparison
t0 = time.ticks_ms()
d = loader.Loader(
    A["flash"] + "_http",
    key,
    "http://%s:%d" % (host, A["http_port"]),
    lambda u, t: http.get(lambda h, p: core2.TcpTransport(h, p), u, t, time.ticks_ms),
    time.ticks_ms,
).boot()
R["http_install_ms"] = time.ticks_diff(time.ticks_ms(), t0)
check("installed over http", d["updated"] and d["version"] == "7.0.0", d)
d = loader.Loader(A["flash"], key, base, fetch_with(rogue), time.ticks_ms).boot()
check("another CA pinned: cached version", d["version"] == "7.0.0" and not d["updated"], d)
check("the reason names the TLS refusal", "TLS handshake" in d["reason"], d["reason"])


# a boot with the installed version up to date: manifest fetch + verify, then the slot's
# re-verify - over https (one TLS handshake) and over plain http, for the boot-time cost
def plain_fetch(url, timeout_ms):
    return http.get(lambda h, p: core2.TcpTransport(h, p), url, timeout_ms, time.ticks_ms)


up = {"https": [], "http": []}
for i in range(A["repeat"]):
    for scheme, b, f in (
        ("https", base, fetch_with(cfg)),
        ("http", "http://%s:%d" % (host, A["http_port"]), plain_fetch),
    ):
        t0 = time.ticks_us()
        d = loader.Loader(A["flash"], key, b, f, time.ticks_ms).boot()
        up[scheme].append(time.ticks_diff(time.ticks_us(), t0))
        check("up to date over " + scheme, d["reason"] == "up to date", d)
R["boot_up_to_date_https_us"] = up["https"]
R["boot_up_to_date_http_us"] = up["http"]
imp = "https://%s:%d" % (host, A["impostor_port"])
d = loader.Loader(A["flash"], key, imp, fetch_with(cfg), time.ticks_ms).boot()
check("an impostor server: cached version", d["version"] == "7.0.0" and not d["updated"], d)
check("the impostor's certificate is refused", "not correctly signed" in d["reason"], d["reason"])

print("RESULT " + json.dumps(R))
print("%d checks" % len(checks))
print("ALL OK")
