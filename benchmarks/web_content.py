"""What the console's other pages need beside a season's samples, closures and fluxes
(``benchmarks/web.py``): commands with their acks (an frc for the Calibration page), alarms
(open, acknowledged, cleared), a firmware bundle directory with a rollout, an API token,
and an analysis file with the control mapping, a LI-8100 ``.81x`` reference file and a soil
pCO₂ table (Carbdown layout) made from the store's own fluxes.

Everything goes through the store's public API (``Store.write``, ``raise_alarm``,
``ops.commands.record``, ``ops.rollout.start``, ``ops.tokens.create``); the files go to
``<store>.console/``. :func:`add_content` leaves a store that already has commands as it is
(only the files are written again, deterministic from the store, and a new token).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

FRC_DAY = 150
"""Day of the season (0-based) whose 02:00 has the fleet-wide forced recalibration."""
REFERENCE_LOCATION = "5.1.A"
REFERENCE_OBS = 120
"""LI-8100 observations in the reference file, spread over the season."""


@dataclass(frozen=True)
class Content:
    """The files the console is started with and what the benchmark requests."""

    analysis: Path
    bundles: Path
    token: str
    cmd_id: str
    alarm_id: int
    rollout_id: str


def record_81x(obs: int, start: dt.datetime, flux: float) -> str:
    """One LI-8100 record (the instrument's layout; its clock in UTC) at ``start``
    reporting ``flux`` [µmol m⁻² s⁻¹] from its linear fit."""
    head = [
        "LI-8100:\t     239\t      7d", "File Name:\tref", f"Obs#:\t{obs}", "Port#:\t1",
        "Label:\tpot", "Observation Length:\t01:30", "TSource:\tTcham", "Vcham:\t4073.5",
        "Offset:\t2.0", "Area:\t317.8", "Vtotal:\t4900.0", "Labels_01:\t9",
        "Type\tEtime\tDate\tTcham\tPressure\tH2O\tCO2\tCdry\tRH",
    ]  # fmt: skip
    body = []
    for k in range(30):
        co2 = 420.0 + 0.2 * k
        stamp = start + dt.timedelta(seconds=k)
        fields = [1, k - 2, f"{stamp:%Y-%m-%d %H:%M:%S}", 20.0, 97.0, 10.0, co2, co2 / 0.99, 50]
        body.append("\t".join(map(str, fields)))
    foot = [
        "CrvFitStatus:\tLin", f"Exp_Flux:\t{flux + 1:.4f}", "Exp_dCdry/dt:\t0.2500",
        "Exp_R2:\t0.9900", f"Lin_Flux:\t{flux:.4f}", "Lin_dCdry/dt:\t0.2000",
        "Lin_R2:\t0.9800", "Crv_#Smp:\t28", "Dead Band:\t00:10",
    ]  # fmt: skip
    return "\n".join(head + body + foot) + "\n"


def _files(st: object, out: Path, chambers: int) -> tuple[Path, Path]:
    """Write the analysis file, its reference and pCO₂ files and the bundle directory."""
    from fluxfleet import keys
    from fluxfleet.sim.truth import location_code

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    # Reference: a LI-8100 on REFERENCE_LOCATION's pot 4 min after unflagged closures,
    # reporting 1.1 × the chamber's flux ± 5 %.
    f = st.select(  # type: ignore[attr-defined]
        "SELECT start, flux_umol_m2_s FROM fluxes WHERE location = ? AND flags = '' ORDER BY start",
        [REFERENCE_LOCATION],
    ).to_pandas()
    pick = f.iloc[np.linspace(0, len(f) - 1, min(REFERENCE_OBS, len(f))).astype(int)]
    ref = [
        record_81x(i + 1, t.to_pydatetime() + dt.timedelta(minutes=4), round(x * 1.1 * k, 4))
        for i, (t, x, k) in enumerate(
            zip(pick["start"], pick["flux_umol_m2_s"], rng.normal(1, 0.05, len(pick)), strict=True)
        )
    ]
    (out / "reference.81x").write_text("".join(ref))
    # Soil pCO₂: one reading a day per pot at 13:00, linear in the day's mean flux (Fick).
    d = st.select(  # type: ignore[attr-defined]
        "SELECT location, CAST(date_trunc('day', start) AS DATE) AS day, "
        "avg(flux_umol_m2_s) AS flux FROM fluxes WHERE flags = '' "
        "GROUP BY location, day ORDER BY location, day"
    ).to_pandas()
    pco2 = 800 + 350 * d["flux"].to_numpy() + rng.normal(0, 60, len(d))
    lines = ["Timestamp,Column Name,Value,Month,Expid,Replica"]
    for loc, day, v in zip(d["location"], d["day"], pco2, strict=True):
        t, var, _ = loc.split(".")
        lines.append(
            f"{day:%Y-%m-%d} 13:00:00,{loc}.Basalt.40,{v:.1f},{day.month},{t}.{var}.,{loc}."
        )
    (out / "pco2.csv").write_text("\n".join(lines) + "\n")
    variants = sorted({location_code(i).rsplit(".", 1)[0] for i in range(chambers)})
    controls = [f'"{v}" = "{v.split(".")[0]}.1"' for v in variants if not v.endswith(".1")]
    analysis = out / "analysis.toml"
    analysis.write_text(
        "# made by benchmarks/web_content.py for the web benchmark's season store\n"
        "[controls]\n" + "\n".join(controls) + "\n\n"
        "[reference]\nmax_gap_min = 30\n[[reference.files]]\n"
        f'path = "reference.81x"\nlocation = "{REFERENCE_LOCATION}"\ntz = "UTC"\n\n'
        '[pco2]\npath = "pco2.csv"\ntz = "UTC"\n'
    )
    bundles = out / "www"
    if not (bundles / "manifest.json").exists():
        key = keys.generate_key()
        keys.write_bundle(bundles, "1.4.2", key)
        keys.write_bundle(bundles, "1.5.0", key)
    return analysis, bundles


def add_content(path: Path, chambers: int, days: int, season_start: dt.datetime) -> Content:
    """Write the console content into the DuckDB store at ``path`` (once) and its files."""
    from fluxfleet.ops import commands, firmware, rollout, tokens
    from fluxfleet.sim.truth import device_id
    from fluxfleet.store import Batch, open_store, schema

    out = Path(f"{path}.console")
    with open_store(f"duckdb:///{path}") as st:
        devices = [device_id(i) for i in range(chambers)]
        fresh = st.counts()["commands"] == 0
        if fresh:
            print("adding commands, acks, alarms, a rollout and a token", flush=True)
            acks = []
            frc_day = min(FRC_DAY, days - 1)
            # A reboot every 5 days and one fleet-wide frc, each acked by its targets.
            for day in [*sorted({*range(0, days, 5)} - {frc_day}), frc_day]:
                t0 = season_start + dt.timedelta(days=day, hours=2)
                ms = int(t0.timestamp() * 1000)
                frc = day == frc_day
                cmd, args, targets = (
                    ("frc", {"ppm": 420}, None)
                    if frc
                    else ("reboot", {}, [devices[day % chambers]])
                )
                c = commands.build(
                    cmd, args, targets, "bench", ms - 60_000, ms + 600_000,
                    ms if frc else None, devices,
                )  # fmt: skip
                commands.record(st, c)
                for d in c.devices:
                    for k, state in enumerate(("accepted", "done")):
                        t = pa.scalar(ms + 1000 + 5000 * k, pa.int64()).cast(schema.TIME)
                        acks.append({"device": d, "cmd_id": c.cmd_id, "state": state,
                                     "time": t.as_py(), "boot": 1, "detail": "",
                                     "received": t.as_py()})  # fmt: skip
            st.write(Batch(command_acks=pa.Table.from_pylist(acks, schema=schema.COMMAND_ACKS)))
            kinds = ("stuck_chamber", "clock_skew", "incomplete_data", "device_offline")
            for i in range(40):  # 40 alarms over the season: 1 in 4 acked, 1 in 2 cleared
                t = season_start + dt.timedelta(days=(4 * i + 1) % days, hours=i % 24)
                kind = kinds[i % len(kinds)]
                dev = devices[(7 * i) % chambers]
                aid, _ = st.raise_alarm(dev, kind, "major", t, float(i), f"bench alarm {i}")
                if i % 4 == 0:
                    st.ack_alarm(aid, t + dt.timedelta(minutes=30), "bench")
                if i % 2 == 1 and i < 36:
                    st.clear_alarm(dev, kind, t + dt.timedelta(hours=3))
        analysis, bundles = _files(st, out, chambers)
        if fresh:
            p = rollout.plan("1.5.0", [devices[0]], "30m", "2h", "bench",
                             firmware.BundleDir(bundles))  # fmt: skip
            rollout.start(st, p, rollout.now_ms(), {}, firmware.BundleDir(bundles))
        now = rollout.now_ms()
        name = f"bench-{now}"
        token = tokens.create(st, name, now)
        cmd_id = (
            st.select("SELECT cmd_id FROM commands WHERE cmd = 'frc' ORDER BY sent DESC LIMIT 1")
            .column(0)[0]
            .as_py()
        )
        alarm_id = (
            st.select("SELECT id FROM alarms WHERE cleared IS NULL ORDER BY id LIMIT 1")
            .column(0)[0]
            .as_py()
        )
        rollout_id = rollout.listing(st)[0].rollout_id
    return Content(analysis, bundles, token, cmd_id, int(alarm_id), rollout_id)
