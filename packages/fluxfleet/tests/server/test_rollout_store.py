"""Rollouts in the store (migration 0005 on both backends): the plan's checks, the start's
refusals (a version below a minimum the devices keep, a rollout already running), the
assignments it makes and what ``rollout status`` reads back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fluxfleet import keys
from fluxfleet.ops import firmware, rollout
from fluxfleet.store import Store


@pytest.fixture
def bundles(tmp_path: Path) -> firmware.BundleDir:
    key = keys.generate_key()
    www = tmp_path / "www"
    keys.write_bundle(www, "6.1.0", key)
    keys.write_bundle(www, "6.2.0", key, min_version="6.2.0")
    keys.write_bundle(www, "6.10.0", key)
    return firmware.BundleDir(www)


def _meta(fw: str, boot: int, conf: bool | None = True) -> dict[str, object]:
    d: dict[str, object] = {"fw": fw, "boot": boot, "seq": 1}
    if conf is not None:
        d["conf"] = conf
    return d


def test_plan_checks_every_argument(bundles: firmware.BundleDir) -> None:
    p = rollout.plan("6.2.0", ["ch001,ch002", "ch001"], "10m", "1h", "alice", bundles)
    assert (p.canaries, p.window_ms, p.then_all_after_ms) == (("ch001", "ch002"), 600_000,
                                                              3_600_000)  # fmt: skip
    assert bundles.versions() == ["6.1.0", "6.2.0", "6.10.0"]  # the loader's order
    for args, option in [
        (("6.9.9", ["ch001"], "10m", None), "VERSION"),
        (("6.2.0", ["Ch 1"], "10m", None), "--canary"),
        (("6.2.0", [""], "10m", None), "--canary"),
        (("6.2.0", ["ch001"], "soon", None), "--window"),
        (("6.2.0", ["ch001"], "10m", "-1h"), "--then-all-after"),
    ]:
        with pytest.raises(rollout.RolloutError) as e:
            rollout.plan(*args, "alice", bundles)  # type: ignore[arg-type]
        assert e.value.option == option


def test_start_assigns_the_canaries_and_refuses_what_devices_would_refuse(
    store: Store, bundles: firmware.BundleDir
) -> None:
    now = dt.datetime.now(dt.UTC)
    store.register_device("ch003", None, now)
    store.register_device("ch009", None, now)
    store.retire_device("ch009", now)  # its retained meta is still there: not in the fleet
    metas = {"ch001": _meta("6.2.0", 4), "ch002": _meta("6.2.0", 2), "ch009": _meta("6.2.0", 1)}
    # 6.1.0 is below the minimum 6.2.0 that devices running 6.2.0 keep
    old = rollout.plan("6.1.0", ["ch001"], "10m", None, "alice", bundles)
    with pytest.raises(rollout.RolloutError, match=r"minimum version 6\.2\.0"):
        rollout.start(store, old, 1000, metas, bundles)
    assert rollout.listing(store) == []
    p = rollout.plan("6.10.0", ["ch001"], "10m", "30m", "alice", bundles)
    rollout.start(store, p, 1000, metas, bundles)
    assert firmware.assignments(store) == {"ch001": "6.10.0"}
    assert firmware.assigned_version(store, "ch002") is None
    view = rollout.status(store)
    assert view is not None
    assert (view["state"], view["version"], view["operator"]) == ("canary", "6.10.0", "alice")
    devs = {d["device"]: d for d in view["devices"]}
    assert sorted(devs) == ["ch001", "ch002", "ch003"]  # metas and the registry
    assert (devs["ch001"]["stage"], devs["ch001"]["state"], devs["ch001"]["previous"],
            devs["ch001"]["boot_before"]) == ("canary", "assigned", "6.2.0", 4)  # fmt: skip
    assert (devs["ch003"]["stage"], devs["ch003"]["state"]) == ("fleet", "waiting")
    assert rollout.active(store) == [p.rollout_id]
    again = rollout.plan("6.10.0", ["ch002"], "10m", None, "bob", bundles)
    with pytest.raises(rollout.RolloutError, match="still running"):
        rollout.start(store, again, 2000, metas, bundles)
    assert rollout.status(store, "nope") is None
    # a driver that died (a stopped server) leaves it unfinished: abort it by hand
    assert rollout.abort(store, p.rollout_id, 3000, "test")
    assert not rollout.abort(store, p.rollout_id, 3001, "test")  # finished already
    assert rollout.active(store) == []
    assert rollout.status(store, p.rollout_id)["state"] == "aborted"  # type: ignore[index]
    assert firmware.assignments(store) == {"ch001": "6.10.0"}  # assignments stay


def test_a_device_confirms_a_version_after_a_new_boot_and_its_own_confirmation() -> None:
    assert rollout.confirmed(_meta("6.2.0", 5), "6.2.0", 4)
    assert not rollout.confirmed(_meta("6.2.0", 4), "6.2.0", 4)  # no reboot yet
    assert not rollout.confirmed(_meta("6.2.0", 5, conf=False), "6.2.0", 4)  # unconfirmed
    assert rollout.confirmed(_meta("6.2.0", 5, conf=None), "6.2.0", 4)  # meta before 6.2
    assert not rollout.confirmed(_meta("6.1.0", 5), "6.2.0", 4)
    assert not rollout.confirmed(None, "6.2.0", 4)
    assert rollout.confirmed(_meta("6.2.0", 1), "6.2.0", None)  # never heard before
