# The firmware's TLS code path on MicroPython's WebAssembly port (run by run.mjs with a data
# dir holding ca.pem; not collected by pytest). That port has no ssl and no socket: what is
# checked and measured here is the firmware's own part - the tls module and its config.
# gc.mem_alloc deltas here are bytes *allocated*: inside runPython this VM's gc.collect()
# frees nothing (10 lists of 10 kB dropped: 103 kB still counted), so they include garbage.
# Prints "RESULT <json>" and "ALL OK".
# ruff: noqa
# mypy: ignore-errors
import gc
import json


def alloc():
    gc.collect()
    return gc.mem_alloc()


R = {}
for name in ("ssl", "socket"):
    try:
        __import__(name)
        R[name] = True
    except ImportError:
        R[name] = False
a0 = alloc()
from app import tls

R["gc_import_tls_B"] = alloc() - a0
pem = open("/data/ca.pem").read()
a0 = alloc()
cfg = tls.parse_config({"tls": {"ca": pem, "server_hostname": "broker.fleet.test"}})
R["gc_parsed_tls_config_B"] = alloc() - a0
cfg = None
a0 = alloc()  # again, once the modules binascii uses are loaded
cfg = tls.parse_config({"tls": {"ca": pem, "server_hostname": "broker.fleet.test"}})
R["gc_parsed_tls_config_again_B"] = alloc() - a0
R["ca_der_B"] = len(cfg["ca_der"])
assert cfg["ca_der"][0] == 0x30
for bad, field in (("x", "tls.ca"), ({"ca": pem, "pin": 1}, "tls.pin"), (3, "tls:")):
    try:
        tls.parse_config({"tls": bad if not isinstance(bad, str) else {"ca": bad}})
        raise AssertionError("accepted %r" % (bad,))
    except OSError as e:  # TlsError is an OSError: the uplink and the loader catch it
        assert isinstance(e, tls.TlsError) and field in str(e), str(e)
try:
    tls.refuse_plaintext("http://u/manifest.json", True)
    raise AssertionError("plain update URL accepted")
except tls.TlsError:
    pass
print("RESULT " + json.dumps(R))
print("ALL OK")
