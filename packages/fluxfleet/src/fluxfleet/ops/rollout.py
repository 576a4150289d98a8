"""Firmware rollouts: canaries first, then the fleet; stop and roll back by itself.

A rollout of ``version`` (published with ``fluxfleet bundle``):

1. **canary** - the canaries are assigned the version (``firmware_assignments``, served by
   ``fluxfleet serve --bundles``) and told to ``reboot`` (:mod:`fluxfleet.ops.commands`):
   at boot the loader fetches the device's manifest and installs the version. A canary
   *confirms* when its retained ``meta`` reports the version, a boot count above the one
   it had when assigned, and ``conf`` true (the controller confirmed itself to the loader
   after its first healthy chamber cycle). All canaries must confirm within ``window``.
2. **canary_ok** - then ``then_all_after`` of observation (a canary that falls back to
   another version meanwhile fails the rollout); without ``then_all_after`` the rollout
   ends here (**canaries_done**).
3. **fleet** - every other known device (registry and those heard from) is assigned the
   version and rebooted; when all confirmed (within ``window``) the fleet's own assignment
   (device ``*``) becomes the version: **done**. Devices that did not: **incomplete**.

A canary that does not confirm in its window stops the rollout: **rolling_back** - the
canaries are assigned back their previous version and rebooted (the loader goes back to
its previous slot when the server names that version while the new one is unconfirmed)
until their ``meta`` reports it: **rolled_back** (or **rollback_failed**). The fleet beyond
the canaries never sees the version. Everything is persisted in the store (``rollouts``,
``rollout_devices``), so ``fluxfleet rollout status`` and the API read it at any time.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluxfleet.firmware import protocol as _protocol
from fluxfleet.ops import commands, firmware
from fluxfleet.store import Store, StoreError, open_store

protocol: Any = _protocol

ACTIVE = ("canary", "canary_ok", "fleet", "rolling_back")
FINAL_OK = ("done", "canaries_done")
FINAL_BAD = ("rolled_back", "rollback_failed", "incomplete", "aborted")


class RolloutError(ValueError):
    """A rollout that cannot start; ``option`` names the argument."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


def now_ms() -> int:
    """The server's wall clock [ms since the epoch]."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Plan:
    """A checked rollout (durations in ms)."""

    rollout_id: str
    version: str
    canaries: tuple[str, ...]
    window_ms: int
    then_all_after_ms: int | None
    operator: str


def plan(
    version: str,
    canaries: list[str],
    window: str,
    then_all_after: str | None,
    operator: str,
    bundles: firmware.BundleDir,
) -> Plan:
    """Check a rollout's arguments against the bundle directory (nothing is written)."""
    try:
        bundles.check()
    except firmware.FirmwareError as exc:
        raise RolloutError("--bundles", str(exc)) from None
    if bundles.envelope(version) is None:
        known = ", ".join(bundles.versions()) or "none"
        raise RolloutError(
            "VERSION", f"{version!r} is not published in {bundles.root} (published: {known})"
        )
    devs = list(dict.fromkeys(d for c in canaries for d in c.split(",") if d))
    if not devs:
        raise RolloutError("--canary", "name at least one canary device")
    for d in devs:
        try:
            protocol.check_device_id(d, "--canary")
        except protocol.ProtocolError as exc:
            raise RolloutError("--canary", exc.message) from None
    try:
        window_ms = commands.parse_duration_ms(window, "--window")
        after = (
            commands.parse_duration_ms(then_all_after, "--then-all-after")
            if then_all_after is not None
            else None
        )
    except commands.CommandError as exc:
        raise RolloutError(exc.option, exc.message) from None
    if not operator or len(operator) > 64:
        raise RolloutError("--operator", "who starts the rollout must be 1-64 characters")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    rid = f"rollout-{version}-{stamp}-{secrets.token_hex(3)}"
    return Plan(rid, version, tuple(devs), window_ms, after, operator)


# --- store ----------------------------------------------------------------------------------

_COLS = (
    "rollout_id, version, previous, state, operator, started_ms, updated_ms, window_ms, "
    "then_all_after_ms, detail"
)


def active(store: Store) -> list[str]:
    """Ids of the rollouts not finished."""
    marks = ", ".join("?" * len(ACTIVE))
    rows = store.execute(
        [(f"SELECT rollout_id FROM rollouts WHERE state IN ({marks})", list(ACTIVE))]
    )
    return [str(r[0]) for r in rows]


def abort(store: Store, rollout_id: str, now: int, why: str) -> bool:
    """Mark a rollout that is not finished ``aborted`` (its driver died: a stopped server);
    False if there is no such unfinished rollout. Assignments stay as they are."""
    marks = ", ".join("?" * len(ACTIVE))
    rows = store.execute(
        [(f"UPDATE rollouts SET state = 'aborted', detail = ?, updated_ms = ? "
          f"WHERE rollout_id = ? AND state IN ({marks}) RETURNING rollout_id",
          [why, now, rollout_id, *ACTIVE])]
    )  # fmt: skip
    return bool(rows)


def start(
    store: Store,
    p: Plan,
    now: int,
    metas: dict[str, dict[str, Any]],
    bundles: firmware.BundleDir,
) -> None:
    """Record rollout ``p`` and assign its version to the canaries.

    ``metas`` are the devices' latest ``meta`` payloads (their running version and boot);
    the rest of the fleet is the registry's active devices and those heard from (retained
    ``meta`` or the store's ``devices``), less the retired ones.
    """
    if active(store):
        raise RolloutError("VERSION", f"rollout {active(store)[0]} is still running")
    registry = store.registry()
    fleet = {r.device for r in registry if r.retired is None} | set(metas)
    fleet |= set(store.read("devices")["device"].to_pylist())
    fleet -= {r.device for r in registry if r.retired is not None}  # their meta stays retained
    rest = sorted(fleet - set(p.canaries))
    floors = []
    for dev in [*p.canaries, *rest]:
        prev = _running(store, metas, dev)
        raw = bundles.envelope(prev) if prev is not None else None
        mv = firmware.manifest_body(raw).get("min_version") if raw is not None else None
        if isinstance(mv, str):
            floors.append((firmware.version_key(mv), mv, dev, prev))
    if floors:
        key, mv, dev, prev = max(floors)
        if firmware.version_key(p.version) < key:
            raise RolloutError(
                "VERSION",
                f"{p.version} is below the minimum version {mv} of {prev} that {dev} runs: "
                "the devices would refuse it",
            )
    fleet_prev = firmware.assignments(store).get(firmware.FLEET)
    statements: list[tuple[str, list[object]]] = [
        (
            f"INSERT INTO rollouts ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [p.rollout_id, p.version, fleet_prev, "canary", p.operator, now, now, p.window_ms,
             p.then_all_after_ms, "canaries assigned; waiting for them to confirm"],
        )
    ]  # fmt: skip
    for stage, devs in (("canary", list(p.canaries)), ("fleet", rest)):
        for dev in devs:
            meta = metas.get(dev, {})
            statements.append(
                (
                    "INSERT INTO rollout_devices (rollout_id, device, stage, previous, "
                    "boot_before, assigned_ms, confirmed_ms, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                    [p.rollout_id, dev, stage, _running(store, metas, dev), meta.get("boot"),
                     now if stage == "canary" else None,
                     "assigned" if stage == "canary" else "waiting"],
                )
            )  # fmt: skip
    statements += firmware.assign_statements(list(p.canaries), p.version, now, p.rollout_id)
    store.execute(statements)


def _running(store: Store, metas: dict[str, dict[str, Any]], dev: str) -> str | None:
    """The version ``dev`` runs (its meta), else the one it is served."""
    fw = metas.get(dev, {}).get("fw")
    return str(fw) if fw else firmware.assigned_version(store, dev)


@dataclass
class RolloutView:
    """A rollout row (times in ms since the epoch)."""

    rollout_id: str
    version: str
    previous: str | None
    state: str
    operator: str
    started_ms: int
    updated_ms: int
    window_ms: int
    then_all_after_ms: int | None
    detail: str | None
    devices: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


_DEV_COLS = "device, stage, previous, boot_before, assigned_ms, confirmed_ms, state"


def listing(store: Store) -> list[RolloutView]:
    """Every rollout, newest first (without the devices)."""
    rows = store.execute([(f"SELECT {_COLS} FROM rollouts ORDER BY started_ms DESC", [])])
    return [RolloutView(*r) for r in rows]


def status(store: Store, rollout_id: str | None = None) -> dict[str, Any] | None:
    """Rollout ``rollout_id`` (default: the newest) with each device's state; None if none."""
    if rollout_id is None:
        views = listing(store)
        if not views:
            return None
        rollout_id = views[0].rollout_id
    rows = store.execute([(f"SELECT {_COLS} FROM rollouts WHERE rollout_id = ?", [rollout_id])])
    if not rows:
        return None
    view = RolloutView(*rows[0])
    devs = store.execute(
        [(f"SELECT {_DEV_COLS} FROM rollout_devices WHERE rollout_id = ? ORDER BY stage, device",
          [rollout_id])]
    )  # fmt: skip
    names = _DEV_COLS.split(", ")
    view.devices = [dict(zip(names, r, strict=True)) for r in devs]
    return view.to_json()


# --- watching the devices ---------------------------------------------------------------------


class MetaWatch:
    """The devices' latest ``meta`` (retained, so known at once on subscribing)."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None) -> None:
        self.metas: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._refused: str | None = None
        c = commands._client(f"fluxfleet-rollout-{secrets.token_hex(4)}", username, password)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *a: self._ready.set()
        c.on_message = self._on_message
        self._client = c
        self.host, self.port = host, port

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._refused = str(rc)
            self._ready.set()
            return
        c.subscribe([(protocol.PREFIX + "+/meta", 1)])

    def _on_message(self, c: Any, u: Any, msg: Any) -> None:
        try:
            dev, kind = protocol.parse_topic(msg.topic)
            d = protocol.decode(kind, msg.payload)
        except protocol.ProtocolError:
            return
        with self._lock:
            old = self.metas.get(dev)
            if old is None or (d["boot"], d["seq"]) >= (old["boot"], old["seq"]):
                self.metas[dev] = d

    def start(self, settle_s: float = 1.0, timeout_s: float = 10.0) -> None:
        """Connect, subscribe, and give the retained metas ``settle_s`` to arrive."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise OSError(f"no subscription at the broker {self.host}:{self.port}")
        if self._refused is not None:
            self.stop()
            raise OSError(f"the broker refused the connection ({self._refused})")
        time.sleep(settle_s)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self.metas.items()}

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def confirmed(meta: dict[str, Any] | None, version: str | None, boot_before: int | None) -> bool:
    """Whether ``meta`` shows ``version`` running after a new boot, confirmed to the loader.

    ``conf`` is absent in the meta of firmware older than 6.2: then the new boot suffices.
    """
    if meta is None or version is None or meta.get("fw") != version:
        return False
    if boot_before is not None and int(meta["boot"]) <= int(boot_before):
        return False
    return meta.get("conf", True) is True


# --- the driver -------------------------------------------------------------------------------


class Driver:
    """Runs one rollout to its end: assignments, reboots, confirmations, rollback."""

    def __init__(
        self,
        store_url: str,
        settings: Any,
        p: Plan,
        bundles: firmware.BundleDir,
        log: Callable[[str], None] = lambda m: None,
        poll_s: float = 1.0,
    ) -> None:
        self.url = store_url
        self.settings = settings
        self.plan = p
        self.bundles = bundles
        self.log = log
        self.poll_s = poll_s
        self.followers: list[commands.Follower] = []
        self.watch: MetaWatch | None = None
        self.phase_started = 0
        self.rollback_boots: dict[str, int | None] = {}

    # store helpers: the store is opened per step (a DuckDB file is not held for the run)
    def _exec(self, statements: list[tuple[str, list[object]]]) -> list[tuple[Any, ...]]:
        return self._with_store(lambda st: st.execute(statements))

    def _with_store(self, work: Callable[[Store], Any], tries: int = 50) -> Any:
        """``work(store)`` on a freshly opened store; a store that is busy for a moment
        (a DuckDB file another handle of this process has open) is tried again."""
        for k in range(tries):
            try:
                with open_store(self.url) as st:
                    return work(st)
            except StoreError:
                if k == tries - 1:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _set_state(self, state: str, detail: str, now: int) -> None:
        self._exec(
            [("UPDATE rollouts SET state = ?, detail = ?, updated_ms = ? WHERE rollout_id = ?",
              [state, detail, now, self.plan.rollout_id])]
        )  # fmt: skip
        self.log(f"{self.plan.rollout_id}: {state}: {detail}")

    def _devices(self) -> list[dict[str, Any]]:
        rows = self._exec(
            [(f"SELECT {_DEV_COLS} FROM rollout_devices WHERE rollout_id = ? ORDER BY device",
              [self.plan.rollout_id])]
        )  # fmt: skip
        names = _DEV_COLS.split(", ")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def _reboot(self, devices: list[str], now: int) -> None:
        if not devices:
            return
        s = self.settings
        host, port = s.broker_address
        c = commands.build(
            "reboot", None, devices, f"rollout:{self.plan.operator}", now,
            now + self.plan.window_ms,
        )  # fmt: skip
        f = commands.Follower(host, port, c, s.mqtt_username, s.mqtt_password)
        f.start()
        self._with_store(lambda st: commands.record(st, c))
        f.publish()
        self.followers.append(f)  # keeps re-delivering to devices that come back online
        self.log(f"{self.plan.rollout_id}: reboot {c.cmd_id} sent to {', '.join(devices)}")

    def _stop_followers(self) -> None:
        for f in self.followers:
            f.stop()
        self.followers = []

    def _confirm(self, devs: list[dict[str, Any]], version: str, now: int) -> list[str]:
        """Mark the devices of ``devs`` that confirmed ``version``; those still waiting."""
        assert self.watch is not None
        metas = self.watch.snapshot()
        waiting = []
        updates: list[tuple[str, list[object]]] = []
        for d in devs:
            if d["state"] == "confirmed":
                continue
            if confirmed(metas.get(d["device"]), version, d["boot_before"]):
                updates.append(
                    ("UPDATE rollout_devices SET state = 'confirmed', confirmed_ms = ? "
                     "WHERE rollout_id = ? AND device = ?",
                     [now, self.plan.rollout_id, d["device"]])
                )  # fmt: skip
                self.log(f"{self.plan.rollout_id}: {d['device']} confirmed {version}")
            else:
                waiting.append(d["device"])
        if updates:
            self._exec(updates)
        return waiting

    def run(self, sleep: Callable[[float], None] = time.sleep) -> str:
        """Drive the rollout to a final state and return it."""
        s = self.settings
        host, port = s.broker_address
        self.watch = MetaWatch(host, port, s.mqtt_username, s.mqtt_password)
        self.watch.start()
        try:
            now = now_ms()
            metas = self.watch.snapshot()
            self._with_store(lambda st: start(st, self.plan, now, metas, self.bundles))
            self.log(
                f"{self.plan.rollout_id}: {self.plan.version} assigned to the canaries "
                f"{', '.join(self.plan.canaries)}"
            )
            self.phase_started = now
            self._reboot(list(self.plan.canaries), now)
            state = "canary"
            while state in ACTIVE:
                sleep(self.poll_s)
                state = self.step(state, now_ms())
            return state
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self._set_state("aborted", f"the driver stopped: {exc!r}", now_ms())
            raise
        finally:
            self._stop_followers()
            self.watch.stop()

    def step(self, state: str, now: int) -> str:
        """One look at the devices; returns the new state."""
        p = self.plan
        devs = self._devices()
        canaries = [d for d in devs if d["stage"] == "canary"]
        fleet = [d for d in devs if d["stage"] == "fleet"]
        deadline = self.phase_started + p.window_ms
        if state == "canary":
            waiting = self._confirm(canaries, p.version, now)
            if not waiting:
                if p.then_all_after_ms is None:
                    self._stop_followers()
                    self._set_state("canaries_done", "every canary confirmed", now)
                    return "canaries_done"
                self.phase_started = now
                self._set_state("canary_ok", "every canary confirmed; observing", now)
                return "canary_ok"
            if now >= deadline:
                return self._roll_back(canaries, f"{', '.join(waiting)} did not confirm", now)
            return state
        if state == "canary_ok":
            assert self.watch is not None
            assert p.then_all_after_ms is not None
            metas = self.watch.snapshot()
            fell = [d["device"] for d in canaries
                    if metas.get(d["device"], {}).get("fw") != p.version]  # fmt: skip
            if fell:
                return self._roll_back(canaries, f"{', '.join(fell)} left {p.version}", now)
            if now >= self.phase_started + p.then_all_after_ms:
                self._stop_followers()
                names = [d["device"] for d in fleet]
                metas = self.watch.snapshot()
                st: list[tuple[str, list[object]]] = firmware.assign_statements(
                    names, p.version, now, p.rollout_id
                )
                for n in names:
                    st.append(
                        ("UPDATE rollout_devices SET state = 'assigned', assigned_ms = ?, "
                         "boot_before = ? WHERE rollout_id = ? AND device = ?",
                         [now, metas.get(n, {}).get("boot"), p.rollout_id, n])
                    )  # fmt: skip
                self._exec(st)
                self.phase_started = now
                self._set_state("fleet", f"{len(names)} device(s) assigned", now)
                self._reboot(names, now)
                return "fleet"
            return state
        if state == "fleet":
            waiting = self._confirm(fleet, p.version, now)
            if not waiting:
                everyone = [d["device"] for d in devs]
                st2 = firmware.assign_statements(everyone, None, now, p.rollout_id)
                st2 += firmware.assign_statements([firmware.FLEET], p.version, now, p.rollout_id)
                self._exec(st2)
                self._stop_followers()
                self._set_state("done", f"every device ({len(devs)}) confirmed {p.version}", now)
                return "done"
            if now >= deadline:
                self._stop_followers()
                self._set_state("incomplete", f"{', '.join(waiting)} did not confirm", now)
                return "incomplete"
            return state
        if state == "rolling_back":
            assert self.watch is not None
            metas = self.watch.snapshot()
            back = []
            for d in canaries:
                if d["state"] == "rolled_back":
                    continue
                if confirmed(metas.get(d["device"]), d["previous"],
                             self.rollback_boots.get(d["device"])):  # fmt: skip
                    self._exec(
                        [("UPDATE rollout_devices SET state = 'rolled_back' "
                          "WHERE rollout_id = ? AND device = ?", [p.rollout_id, d["device"]])]
                    )  # fmt: skip
                else:
                    back.append(d["device"])
            if not back:
                self._stop_followers()
                self._set_state(
                    "rolled_back", "every canary runs its previous version again; "
                    f"{p.version} was not rolled out further", now
                )  # fmt: skip
                return "rolled_back"
            if now >= deadline:
                self._stop_followers()
                self._set_state("rollback_failed", f"{', '.join(back)} did not come back", now)
                return "rollback_failed"
            return state
        return state

    def _roll_back(self, canaries: list[dict[str, Any]], why: str, now: int) -> str:
        assert self.watch is not None
        self._stop_followers()
        metas = self.watch.snapshot()
        st: list[tuple[str, list[object]]] = []
        names = []
        for d in canaries:
            prev = d["previous"]
            names.append(d["device"])
            self.rollback_boots[d["device"]] = metas.get(d["device"], {}).get("boot")
            if prev is not None and self.bundles.envelope(prev) is not None:
                st += firmware.assign_statements([d["device"]], prev, now, self.plan.rollout_id)
            else:  # nothing to go back to on the server: serve the fleet's version
                st += firmware.assign_statements([d["device"]], None, now, self.plan.rollout_id)
            if d["state"] != "confirmed":
                st.append(
                    ("UPDATE rollout_devices SET state = 'failed' WHERE rollout_id = ? "
                     "AND device = ?", [self.plan.rollout_id, d["device"]])
                )  # fmt: skip
        self._exec(st)
        self.phase_started = now
        self._set_state("rolling_back", f"{why} within {self.plan.window_ms / 1000:g} s", now)
        self._reboot(names, now)
        return "rolling_back"


def describe(view: dict[str, Any]) -> str:
    """A short text report of :func:`status`'s result."""
    lines = [
        f"{view['rollout_id']}: {view['version']} - {view['state']} ({view['detail']})",
        f"  started by {view['operator']}; window {view['window_ms'] / 1000:g} s",
    ]
    for d in view["devices"]:
        lines.append(
            f"  {d['device']:<12} {d['stage']:<7} {d['state']:<12} previous {d['previous']}"
        )
    return "\n".join(lines)


def dumps(view: dict[str, Any]) -> str:
    return json.dumps(view, indent=2)
