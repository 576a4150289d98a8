"""Command bodies of ``amrr regenerator-test`` (and the cycle commands), registered on the
main ``amrr`` app by :func:`register`."""

from __future__ import annotations

import json
import math
import sys
import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import typer

from amrr.cycle.magnetic import (
    MixtureTable,
    OperatingPoint,
    RegeneratorSpec,
    single_phase_floor_K,
)
from amrr.cycle.march import CycleSchedule
from amrr.cycle.passive import (
    NTU_RANGE,
    UTILISATION_RANGE,
    passive_effectiveness,
    small_utilisation_limit,
)
from amrr.cycle.steady import METHODS
from amrr.properties.paramagnet import MATERIALS


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def regenerator_test(
    ntu: float = typer.Option(..., "--ntu", help="NTU = hA/(ṁ c_f) of one blow [-]."),
    utilisation: float = typer.Option(
        ..., "--utilisation", help="U = ṁ c_f P/(M c_m) for a blow of length P [-]."
    ),
    cells: int | None = typer.Option(None, "--cells", help="Cells along the bed [-]."),
    steps: int | None = typer.Option(None, "--steps", help="Time steps per blow [-]."),
    method: str = typer.Option(
        "anderson", "--method", help="Cyclic steady state: march, anderson or newton-krylov."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Effectiveness of the balanced symmetric passive regenerator (magnetocaloric effect
    off, constant properties, no axial conduction, no fluid storage) at cyclic steady
    state, from the cycle solver — to check against any reference."""
    for option, value, (lo, hi) in (
        ("--ntu", ntu, NTU_RANGE),
        ("--utilisation", utilisation, UTILISATION_RANGE),
    ):
        if not (math.isfinite(value) and lo <= value <= hi):
            _fail(f"{option} {value!r}: must lie within {lo:g}–{hi:g}")
    if method not in METHODS:
        _fail(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    for name, count in (("--cells", cells), ("--steps", steps)):
        if count is not None and count < 2:
            _fail(f"{name} {count}: must be >= 2")
    result = passive_effectiveness(
        ntu,
        utilisation,
        cells=cells,
        steps_per_blow=steps,
        method=method,  # type: ignore[arg-type]
    )
    record: dict[str, Any] = {
        "ntu": ntu,
        "utilisation": utilisation,
        "effectiveness": result.effectiveness,
        "effectiveness_cold_blow": result.effectiveness_cold_blow,
        "small_utilisation_limit": small_utilisation_limit(ntu),
        "energy_residual_fraction": result.energy_residual_fraction,
        "cycles": result.cycles,
        "cycle_residual_K": result.residual_K,
        "method": method,
    }
    if as_json:
        typer.echo(json.dumps(record, indent=2, allow_nan=False))
    else:
        for key, value in record.items():
            shown = f"{value:.6g}" if isinstance(value, float) else str(value)
            typer.echo(f"{key:<26} {shown}")


_SECTIONS = {
    "regenerator": RegeneratorSpec,
    "operating": OperatingPoint,
    "schedule": CycleSchedule,
}


def load_cycle_spec(path: Path) -> dict[str, Any]:
    """Read a cycle TOML file: tables [regenerator], [operating], [schedule] whose keys
    are the fields of :class:`RegeneratorSpec`, :class:`OperatingPoint` and
    :class:`CycleSchedule`. Raises ``ValueError`` naming the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    built: dict[str, Any] = {}
    for key in data:
        if key not in _SECTIONS:
            raise ValueError(f"{path}: unknown table [{key}] (known: {', '.join(_SECTIONS)})")
    for key, cls in _SECTIONS.items():
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [{key}] must be a table")
        names = {f.name for f in fields(cls)}
        for name in table:
            if name not in names:
                raise ValueError(f"{path}: [{key}] unknown field {name!r}")
        values = dict(table)
        if "field_T" in values:
            values["field_T"] = tuple(values["field_T"])
        try:
            built[key] = cls(**values)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: [{key}] {exc}") from exc
    return built


def _cooling_points(t_cold_K: float | None, curve: str | None) -> list[float]:
    if t_cold_K is not None and curve is not None:
        _fail("--t-cold-K and --cooling-curve exclude each other")
    if curve is None:
        return [0.9 if t_cold_K is None else t_cold_K]
    parts = curve.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        if n < 1 or not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError
    except ValueError:
        _fail(f"--cooling-curve {curve!r}: give START:STOP:N, e.g. 0.7:1.2:10")
        return []
    return [float(v) for v in np.linspace(lo, hi, n)]


SPEC_ARGUMENT = typer.Argument(
    None, metavar="SPEC", help="Cycle TOML ([regenerator], [operating], [schedule])."
)
DESIGN_OPTION = typer.Option(
    None,
    "--design",
    help="An `amrr design` TOML: geometry, field, pump flow and parasitics from the design tool.",
)
REPORT_OPTION = typer.Option(
    None, "--report", help="Write cycle.html (T–t maps, cooling curve) into this directory."
)


def _clean(value: Any) -> Any:
    """JSON-ready: non-finite floats become null, in nested dicts and lists too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _print_table(records: list[dict[str, Any]]) -> None:
    net = all("net_cooling_W" in r for r in records)
    typer.echo(
        f"{'T_C [K]':>8} {'Q_C [mW]':>9} "
        + (f"{'net [mW]':>9} " if net else "")
        + f"{'Q_H [mW]':>9} {'W [mW]':>8} {'COP':>6} "
        f"{'Carnot':>7} {'eta_II':>7} {'T_out [K]':>9} {'1st-law res':>11} {'cycles':>6}"
    )
    for r in records:
        typer.echo(
            f"{r['cold_K']:8.3f} {r['cooling_power_W'] * 1e3:9.4f} "
            + (f"{r['net_cooling_W'] * 1e3:9.4f} " if net else "")
            + f"{r['heat_rejected_W'] * 1e3:9.4f} {r['magnetic_work_W'] * 1e3:8.4f} "
            f"{r['cop']:6.3f} {r['carnot_cop']:7.3f} {r['second_law_efficiency']:7.3f} "
            f"{r['cold_outlet_mean_K']:9.4f} "
            f"{r['energy_residual_fraction']:11.2e} {r['cycles']:6d}"
            + ("" if r.get("converged", True) else "  (not converged)")
        )


def _print_paper_comparison(dc: Any, records: list[dict[str, Any]]) -> None:
    """The predicted net cooling at each T_C beside the paper's estimate, the dominant
    loss at the load temperature, and the magnet voltage the field schedule needs."""
    from amrr.cycle.from_design import PAPER_COOLING_W

    lo, hi = PAPER_COOLING_W
    c = dc.design["cycle"]
    shown = ", ".join(
        f"{r['net_cooling_W'] * 1e6:.0f} µW at {r['cold_K'] * 1e3:.0f} mK" for r in records
    )
    typer.echo(
        f"predicted net cooling: {shown} (hold swing fraction {dc.hold_swing_fraction:.4g});"
        f" the paper expects {lo * 1e6:.0f} µW–{hi * 1e3:.0f} mW at 900 mK"
    )
    r0 = min(records, key=lambda r: abs(r["cold_K"] - c["load_temperature_K"]))
    losses = {
        "regenerator outlet shortfall (mixture leaves the bed at "
        f"{r0['cold_outlet_mean_K']:.3f} K, not {c['cold_outlet_temperature_K']:g} K)": r0[
            "outlet_shortfall_W"
        ],
        "suspension conduction": r0["suspension_heat_W"],
        "radiation": r0["radiation_heat_W"],
        "other parasitics (lumped)": r0["other_parasitics_W"],
    }
    name = max(losses, key=lambda k: losses[k])
    typer.echo(
        f"dominant loss at {r0['cold_K']:g} K against the design tool's gross"
        f" {r0['design_tool_gross_cooling_W'] * 1e6:.0f} µW: {name}, {losses[name] * 1e6:.0f} µW"
    )
    from amrr.cycle.axial import zehner_schlunder_conductivity_W_mK

    s = dc.spec
    k_e0 = float(
        zehner_schlunder_conductivity_W_mK(
            s.porosity, s.fluid_conductivity_W_mK, s.solid_conductivity_W_mK
        )
    )
    leak = k_e0 * s.area_m2 * (dc.point.hot_K - r0["cold_K"]) / s.length_m
    typer.echo(
        f"axial conduction {'on' if s.axial_conduction else 'off (--axial-conduction)'}:"
        f" the bed's stagnant conductivity {k_e0:.3g} W/(m K) (placeholders: mixture"
        f" {s.fluid_conductivity_W_mK:g}, {s.refrigerant} {s.solid_conductivity_W_mK:g} W/(m K))"
        " carries"
        f" k A (T_H - T_C)/L = {leak * 1e6:.0f} µW down a linear profile"
    )
    diode = dc.design["magnet"]["diode_forward_voltage_V"]
    volts = dc.hold_ramp_voltage_V
    if volts > diode:
        typer.echo(
            f"warning: the field schedule's fastest ramp needs {volts:.2f} V on the magnet,"
            f" above the protection diodes' {diode:g} V (magnet.diode_forward_voltage_V)",
            err=True,
        )


def cycle(
    spec_file: Path | None = SPEC_ARGUMENT,
    default: bool = typer.Option(False, "--default", help="Use the built-in default design."),
    design_file: Path | None = DESIGN_OPTION,
    t_cold_K: float | None = typer.Option(None, "--t-cold-K", help="Cold end T_C [K]."),
    cooling_curve: str | None = typer.Option(
        None, "--cooling-curve", help="T_C range START:STOP:N [K]."
    ),
    cells: int | None = typer.Option(None, "--cells", help="Cells along each bed [-]."),
    steps: int | None = typer.Option(None, "--steps", help="Time steps per blow [-]."),
    band: bool = typer.Option(
        False,
        "--band",
        help="With --design: also run each spin model of the refrigerant (the model band).",
    ),
    hold_swing_fraction: float | None = typer.Option(
        None,
        "--hold-swing-fraction",
        help="With --design: share of the field swing made in each no-flow process, 0–1 "
        "(default: the design file's cycle.hold_swing_fraction; the paper's design: 1/9, "
        "one constant ramp rate).",
    ),
    axial_conduction: bool = typer.Option(
        False,
        "--axial-conduction/--no-axial-conduction",
        help="Axial conduction along the beds (stagnant Zehner–Schlünder + Wakao–Kaguei "
        "dispersion; placeholder conductivities of the mixture and the refrigerant). Default off.",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Processes for the operating points (default: one per core, at most one per T_C).",
    ),
    report_dir: Path | None = REPORT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Cyclic steady state of the magnetic regenerator pair: cooling power at the cold heat
    exchanger, COP and second-law efficiency against Carnot, one line per T_C. With
    --design, the net cooling after the design's parasitic loads beside the design tool's
    estimate."""
    from amrr.cycle.report import CYCLE_REPORT_NAME, TemperatureMap
    from amrr.design_cli import _check_output_dir

    if sum((spec_file is not None, default, design_file is not None)) != 1:
        _fail("give exactly one of SPEC.toml, --default or --design FILE")
    if band and design_file is None:
        _fail("--band needs --design")
    if hold_swing_fraction is not None:
        if design_file is None:
            _fail("--hold-swing-fraction needs --design")
        if not 0.0 <= hold_swing_fraction <= 1.0:
            _fail(f"--hold-swing-fraction {hold_swing_fraction!r}: must lie within 0–1")
    for name, count in (("--cells", cells), ("--steps", steps)):
        if count is not None and not 4 <= count <= 2000:
            _fail(f"{name} {count}: must lie within 4–2000")
    if workers is not None and not 1 <= workers <= 256:
        _fail(f"--workers {workers}: must lie within 1–256")
    if report_dir is not None:
        _check_output_dir("--report", report_dir)
    spec, point, schedule = RegeneratorSpec(), OperatingPoint(), CycleSchedule(80.0, 10.0, 80, 10)
    dc = None
    source = "built-in default"
    if spec_file is not None:
        source = str(spec_file)
        try:
            built = load_cycle_spec(spec_file)
        except ValueError as exc:
            _fail(str(exc), code=1)
        spec, point, schedule = built["regenerator"], built["operating"], built["schedule"]
    if design_file is not None:
        from amrr.cycle.from_design import cycle_from_design
        from amrr.design import DesignFileError, evaluate, load_design

        source = str(design_file)
        try:
            design = load_design(design_file)
            result = evaluate(design, sensitivities=report_dir is not None)
            dc = cycle_from_design(design, result=result, hold_swing_fraction=hold_swing_fraction)
        except DesignFileError as exc:
            _fail(str(exc), code=1)
        except ValueError as exc:
            _fail(f"{design_file}: the design cannot be evaluated: {exc}", code=1)
        assert dc is not None
        spec, point, schedule = dc.spec, dc.point, dc.schedule
    if cells is not None:
        spec = replace(spec, cells=cells)
    if axial_conduction:
        spec = replace(spec, axial_conduction=True)
    if steps is not None:
        hold = max(1, round(steps * schedule.hold_s / schedule.blow_s))
        schedule = replace(schedule, steps_per_blow=steps, steps_per_hold=hold)
    if dc is not None:
        dc = replace(dc, spec=spec, schedule=schedule)
    temps = _cooling_points(t_cold_K, cooling_curve)
    if dc is not None and t_cold_K is None and cooling_curve is None:
        # the design's regenerator outlet and load temperatures: 750 and 900 mK in the paper
        c = dc.design["cycle"]
        temps = sorted({c["cold_outlet_temperature_K"], c["load_temperature_K"]})
    # the refrigerant's spin models and the single-phase mixture set the coldest T_C
    material = MATERIALS[spec.refrigerant]
    separates_K = single_phase_floor_K(spec.x3)
    floor = max(material.temperature_range.low, separates_K)
    for t in temps:
        if not floor <= t < point.hot_K:
            _fail(
                f"T_C {t:g} K: must lie within {floor:g} K ({material.name}'s spin models hold "
                f"down to {material.temperature_range.low:g} K; x3 = {spec.x3:g} phase-separates "
                f"below {separates_K:g} K) and T_H = {point.hot_K:g} K"
            )
    from tqdm import tqdm

    from amrr.cycle.curve import CurveJob, default_workers
    from amrr.cycle.curve import cooling_curve as run_curve

    job = CurveJob(dc, spec, point, schedule, band=band)
    with tqdm(
        total=len(temps), desc="amrr cycle", unit="T_C", disable=None, file=sys.stderr
    ) as bar:

        def tick(_: Any) -> None:
            bar.update()

        try:
            points = run_curve(
                job,
                temps,
                workers=workers if workers is not None else default_workers(len(temps)),
                progress=tick,
            )
        except ValueError as exc:
            _fail(str(exc), code=1)
    records = [p.record for p in points]
    states = [p.state_K for p in points]
    bands = {p.cold_K: p.band for p in points if p.band is not None}
    table = MixtureTable.build(spec.x3)
    report_path = None
    if report_dir is not None:
        from amrr.cycle.magnetic import MagneticRegenerator
        from amrr.cycle.report import render_cycle_html, write_text_atomic

        chosen = sorted({0, len(temps) - 1})
        maps = []
        for k in chosen:
            model = MagneticRegenerator(
                spec,
                replace(point, cold_K=temps[k]),
                schedule,
                table,
                flow_of_blow_time=None if dc is None else dc.flow_of_blow_time,
            )
            times, tf, ts = model.temperature_map(states[k])
            position = np.linspace(0.0, spec.length_m, spec.cells + 1)
            maps.append(TemperatureMap(temps[k], times, position, tf, ts))
        design_link = None
        try:
            if dc is not None and design_file is not None:
                from amrr.report import write_report

                design_link = write_report(
                    dc.result, report_dir, source, design_file.read_text("utf-8")
                ).name
            text = render_cycle_html(
                [_clean(r) for r in records], maps, source, band=bands, design_report=design_link
            )
            report_path = write_text_atomic(report_dir / CYCLE_REPORT_NAME, text)
        except OSError as exc:
            _fail(f"--report {report_dir}: cannot write the report: {exc}", code=2)
    if as_json:
        clean = [_clean(r) for r in records]
        out: Any = clean if len(clean) > 1 else clean[0]
        if report_path is not None:
            out = {"results": out, "report": str(report_path)}
        typer.echo(json.dumps(out, indent=2, allow_nan=False))
        return
    _print_table(records)
    if dc is not None:
        c = dc.design["cycle"]
        # the design tool quotes its cooling at the load temperature: compare there
        r0 = min(records, key=lambda r: abs(r["cold_K"] - c["load_temperature_K"]))
        loads = r0["suspension_heat_W"] + r0["radiation_heat_W"] + r0["other_parasitics_W"]
        typer.echo(
            f"design tool (eqs. 1-3, T_out = {c['cold_outlet_temperature_K']:g} K):"
            f" gross {r0['design_tool_gross_cooling_W'] * 1e3:.4f} mW,"
            f" net {r0['design_tool_net_cooling_W'] * 1e3:.4f} mW at"
            f" {c['load_temperature_K']:g} K"
        )
        typer.echo(
            f"parasitics at T_C = {r0['cold_K']:g} K: {loads * 1e3:.4f} mW; outlet shortfall"
            f" 2 n [h(T_out) - h(T_c,design)]/tau = {r0['outlet_shortfall_W'] * 1e3:.4f} mW"
        )
        profile = dc.design["pump"]["flow_profile"]
        shape = (
            "the same ṅ all blow long"
            if dc.pump_flow is None
            else f"peak/mean {dc.pump_flow.peak_to_mean:.2f}, linear pump ramps"
        )
        typer.echo(
            f"pump flow over a blow: {profile} ({shape}; pump.flow_profile),"
            f" {r0['pump_moles_per_blow_mol']:.4f} mol displaced per blow"
        )
        _print_paper_comparison(dc, records)
        for r in records:
            if "net_cooling_band_W" in r:
                lo, hi = r["net_cooling_band_W"]
                typer.echo(
                    f"spin-model band at {r['cold_K']:.3f} K:"
                    f" net {lo * 1e3:.4f} … {hi * 1e3:.4f} mW"
                    f" over {', '.join(r['band_models']) or 'no converged model'}"
                )
    if report_path is not None:
        typer.echo(f"report: {report_path}")


def register(app: typer.Typer) -> None:
    """Add the cycle-model commands to the ``amrr`` app."""
    app.command("regenerator-test")(regenerator_test)
    app.command("cycle")(cycle)
