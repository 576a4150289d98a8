"""The payload codec: round trips, and malformed payloads rejected naming the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fluxfleet.firmware import protocol
from fluxfleet.firmware.controller import DEFAULT_SCHEDULE
from hypothesis import given, settings
from hypothesis import strategies as st

dev_ids = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=32
).filter(lambda s: s != "all")
locs = st.builds(
    lambda t, v, r: f"{t}.{v}.{r}",
    st.integers(0, 9999),
    st.integers(0, 9999),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        min_size=1,
        max_size=4,
    ),
)
ts = st.integers(0, 2**53)
reading = lambda lo, hi: st.none() | st.floats(lo, hi, allow_nan=False)  # noqa: E731


@st.composite
def samples(draw: Any, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": draw(ts),
        "cyc": draw(st.integers(0, 2**40)),
        "ph": draw(st.sampled_from(protocol.PHASES)),
        "co2_ppm": draw(reading(0, 100000)),
        "rh_pct": draw(reading(0, 100)),
        "t_c": draw(reading(-50, 100)),
        "ta_c": draw(reading(-50, 100)),
        "p_hpa": draw(reading(300, 1200)),
        "lux": draw(reading(0, 200000)),
        "lid_deg": draw(st.integers(0, 270)),
        "fan_pct": draw(st.integers(0, 100)),
        "fl": draw(st.integers(0, 255)),
    }


@st.composite
def telemetry(draw: Any) -> dict[str, Any]:
    first = draw(st.integers(1, 2**40))
    n = draw(st.integers(1, 5))
    gaps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    seqs = [first + sum(gaps[:i]) for i in range(n)]
    return {
        "v": 1,
        "dev": draw(dev_ids),
        "ts": draw(ts),
        "boot": draw(st.integers(0, 10**6)),
        "seq": seqs[0],
        "loc": draw(locs),
        "samples": [draw(samples(s)) for s in seqs],
    }


@st.composite
def commands(draw: Any) -> dict[str, Any]:
    cmd = draw(st.sampled_from(protocol.COMMANDS))
    args: dict[str, Any] = {}
    if cmd == "frc" and draw(st.booleans()):
        args = {"ppm": draw(st.integers(400, 2000))}
    elif cmd == "set_location":
        args = {"loc": draw(locs)}
    elif cmd == "servo_test" and draw(st.booleans()):
        args = {"sweeps": draw(st.integers(1, 10))}
    elif cmd == "set_schedule":
        args = {"sample_ms": draw(st.integers(1000, 60000))}
    exec_at = draw(st.none() | ts)
    return protocol.make_cmd(
        draw(st.text(min_size=1, max_size=64)), cmd, draw(ts), args or None, exec_at, draw(ts)
    )


def meta() -> dict[str, Any]:
    return {
        "v": 1,
        "dev": "c01",
        "ts": 5,
        "boot": 3,
        "seq": 1,
        "fw": "6.1.0",
        "slot": "a",
        "loc": None,
        "reset": "watchdog",
        "uptime_ms": 1000,
        "skew_ms": None,
        "ntp": False,
        "lost": 0,
        "sched": dict(DEFAULT_SCHEDULE),
    }


@settings(max_examples=200)
@given(telemetry())
def test_telemetry_round_trip(d):
    data = protocol.encode("telemetry", d)
    assert b" " not in data.replace(b"\\u0020", b"")  # compact
    assert protocol.decode("telemetry", data) == d


@settings(max_examples=200)
@given(commands())
def test_command_round_trip(d):
    assert protocol.decode("cmd", protocol.encode("cmd", d)) == d


def test_meta_status_ack_cycle_round_trip():
    head = {"v": 1, "dev": "c01", "ts": 5, "boot": 3, "seq": 2}
    for kind, extra in [
        ("status", {"state": "offline"}),
        ("ack", {"cmd_id": "x", "state": "done", "detail": "ok"}),
        (
            "cycle",
            {
                "loc": "9.2.B",
                "cyc": 1,
                "t_close": 1,
                "t_open": 2,
                "closed_ms": 180000,
                "ext_ms": 0,
                "n": 60,
                "co2_start": 420.0,
                "co2_end": None,
                "slope_ppm_s": None,
                "r2": None,
                "fl": 0,
            },
        ),
    ]:
        d = {**head, **extra}
        assert protocol.decode(kind, protocol.encode(kind, d)) == d
    assert protocol.decode("meta", protocol.encode("meta", meta())) == meta()


# --- malformed payloads ------------------------------------------------------------------

BASE = {
    "v": 1,
    "dev": "c01",
    "ts": 1,
    "boot": 0,
    "seq": 4,
    "loc": "9.2.B",
    "samples": [
        {
            "seq": 4,
            "ts": 1,
            "cyc": 0,
            "ph": "open",
            "co2_ppm": 420.0,
            "rh_pct": 50.0,
            "t_c": 20.0,
            "ta_c": 20.0,
            "p_hpa": 970.0,
            "lux": 0.0,
            "lid_deg": 90,
            "fan_pct": 40,
            "fl": 0,
        }
    ],
}

# (path into the payload, a bad value, the field the error must name)
BAD = [
    (("v",), 2, "v"),
    (("v",), "1", "v"),
    (("dev",), "All", "dev"),
    (("dev",), "all", "dev"),
    (("dev",), "x" * 33, "dev"),
    (("ts",), -1, "ts"),
    (("ts",), 1.5, "ts"),
    (("boot",), True, "boot"),
    (("seq",), 5, "seq"),
    (("loc",), "9.2", "loc"),
    (("loc",), "a.b.c", "loc"),
    (("samples",), [], "samples"),
    (("samples",), {}, "samples"),
    (("samples", 0, "co2_ppm"), "420", "samples[0].co2_ppm"),
    (("samples", 0, "co2_ppm"), -3.0, "samples[0].co2_ppm"),
    (("samples", 0, "rh_pct"), 101, "samples[0].rh_pct"),
    (("samples", 0, "p_hpa"), 9700, "samples[0].p_hpa"),
    (("samples", 0, "ph"), "shut", "samples[0].ph"),
    (("samples", 0, "lid_deg"), 271, "samples[0].lid_deg"),
    (("samples", 0, "fan_pct"), 50.5, "samples[0].fan_pct"),
    (("samples", 0, "fl"), 256, "samples[0].fl"),
    (("samples", 0), "x", "samples[0]"),
]


def _set(d: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(d)
    target: Any = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


@pytest.mark.parametrize(("path", "value", "field"), BAD)
def test_a_bad_field_is_named(path, value, field):
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.decode("telemetry", json.dumps(_set(BASE, path, value)))
    assert err.value.field == field
    assert str(err.value).startswith(field + ": ")


@pytest.mark.parametrize("key", ["v", "dev", "ts", "boot", "seq", "loc", "samples"])
def test_a_missing_field_is_named(key):
    d = copy.deepcopy(BASE)
    del d[key]
    with pytest.raises(protocol.ProtocolError, match=f"^{key}: ") as err:
        protocol.decode("telemetry", json.dumps(d))
    assert err.value.field == key


def test_missing_sample_field_and_nan_are_named():
    d = copy.deepcopy(BASE)
    del d["samples"][0]["lux"]
    with pytest.raises(protocol.ProtocolError, match=r"^samples\[0\]\.lux: missing"):
        protocol.validate("telemetry", d)
    d = _set(BASE, ("samples", 0, "t_c"), float("nan"))
    with pytest.raises(protocol.ProtocolError, match=r"^samples\[0\]\.t_c: "):
        protocol.validate("telemetry", d)


def test_non_json_and_non_object_payloads():
    with pytest.raises(protocol.ProtocolError, match=r"^payload: not JSON"):
        protocol.decode("telemetry", b"{")
    with pytest.raises(protocol.ProtocolError, match=r"^payload: not UTF-8"):
        protocol.decode("telemetry", b"\xff\xfe")
    with pytest.raises(protocol.ProtocolError, match=r"^payload: expected a JSON object"):
        protocol.decode("cmd", b"[1,2]")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cmd": "explode"}, "cmd"),
        ({"cmd_id": ""}, "cmd_id"),
        ({"expires": "soon"}, "expires"),
        ({"exec_at": -5}, "exec_at"),
        ({"args": {"ppm": 300}}, "args.ppm"),
        ({"args": {"ppm": 420, "x": 1}}, "args.x"),
        ({"args": []}, "args"),
    ],
)
def test_bad_commands_name_the_field(change, field):
    d = {"v": 1, "ts": 0, "cmd_id": "a", "cmd": "frc", "expires": 10, **change}
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.decode("cmd", json.dumps(d))
    assert err.value.field == field


def test_schedule_that_does_not_fit_its_period_is_refused():
    with pytest.raises(protocol.ProtocolError, match=r"^args\.period_ms: "):
        protocol.check_schedule({**DEFAULT_SCHEDULE, "period_ms": 200000}, "args.", False)
    with pytest.raises(protocol.ProtocolError, match=r"^args\.closed: unknown"):
        protocol.check_schedule({"closed": 1}, "args.", True)


def _error(fn: Any, *args: Any) -> protocol.ProtocolError | None:
    try:
        fn(*args)
    except protocol.ProtocolError as e:
        return e
    return None


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_decoder(data):
    for kind in protocol.KINDS:
        err = _error(protocol.decode, kind, data)
        assert err is None or err.field  # any failure is a ProtocolError naming a field


@settings(max_examples=300)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=12,
    )
)
def test_arbitrary_json_values_are_rejected_with_a_field_or_accepted(value):
    for kind in protocol.KINDS:
        err = _error(protocol.validate, kind, value)
        assert err is None or err.field


def test_topics():
    assert protocol.topic("c01", "telemetry") == "fluxfleet/v1/c01/telemetry"
    assert protocol.parse_topic(b"fluxfleet/v1/all/cmd") == ("all", "cmd")
    for bad in ["fluxfleet/v2/c01/cmd", "fluxfleet/v1/c01/cmd/x", "fluxfleet/v1/all/meta"]:
        with pytest.raises(protocol.ProtocolError, match=r"^topic: "):
            protocol.parse_topic(bad)
    with pytest.raises(protocol.ProtocolError, match=r"^dev: "):
        protocol.topic("all", "telemetry")
