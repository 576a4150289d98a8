"""The ``amrr`` command line: property look-ups (``props``), the design tool and a demo."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import typer

from amrr import __version__
from amrr._cli_errors import check_plot_path, finite, float_list, option_named_in
from amrr.cycle.cli import register as register_cycle_commands
from amrr.design_cli import register as register_design_commands
from amrr.properties import helium4, mixture
from amrr.properties.concentrated import concentrated_properties
from amrr.properties.mixture import mixture_properties
from amrr.properties.paramagnet import MODELS, Model, paramagnet_properties
from amrr.properties.phase_diagram import phase_label, x_concentrated, x_dilute

# No Rich markup: it would swallow the units in brackets ([s], [cm³], [ppm]) in --help.
app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
props_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Thermophysical properties (JSON with SI keys; --table for humans).",
    rich_markup_mode=None,
)
app.add_typer(props_app, name="props")
register_cycle_commands(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"amrr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Design and simulation of sub-Kelvin active magnetic regenerative refrigerators."""


# ----------------------------------------------------------------------------- output

_UNITS = {
    "_J_molK2": "J/(mol K²)",
    "_J_molKT": "J/(mol K T)",
    "_J_kgKT": "J/(kg K T)",
    "_J_molK": "J/(mol K)",
    "_J_kgK": "J/(kg K)",
    "_J_mol": "J/mol",
    "_Am2_mol": "A m²/mol",
    "_kg_mol": "kg/mol",
    "_kg_m3": "kg/m³",
    "_m3_mol": "m³/mol",
    "_Pa_K": "Pa/K",
    "_m_s": "m/s",
    "_Pa": "Pa",
    "_K": "K",
    "_T": "T",
}


def _unit(key: str) -> str:
    for suffix, unit in _UNITS.items():
        if key.endswith(suffix):
            return unit
    return "-"


def _emit(record: dict[str, Any], table: bool) -> None:
    if not table:
        typer.echo(json.dumps(record, indent=2, allow_nan=False))
        return
    width = max(len(k) for k in record)
    for key, value in record.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        unit = _unit(key) if isinstance(value, float) else ""
        typer.echo(f"{key:<{width}}  {shown:>14}  {unit}")


def _fail(exc: Exception) -> None:
    # A ValueError of a property function names its argument: name the option too.
    option = option_named_in(str(exc))
    typer.echo(f"amrr: error: {option + ': ' if option else ''}{exc}", err=True)
    raise typer.Exit(code=2)


def _f(a: Any) -> float:
    return float(np.asarray(a))


def _finite_or_none(a: Any) -> float | None:
    """A float, or None (JSON null) where it is ±∞ (e.g. μ4 of pure 3He)."""
    v = _f(a)
    return v if np.isfinite(v) else None


TABLE = typer.Option(False, "--table", help="Human-readable table instead of JSON.")
JSON = typer.Option(False, "--json", help="JSON output (the default; for scripts to be explicit).")
EXTRAPOLATE = typer.Option(
    False,
    "--extrapolate",
    help="Evaluate outside the validity range instead of failing (never past the limits "
    "where a model cannot compute at all: T <= 0, negative field, He I).",
)
PLOT = typer.Option(None, "--plot", help="Also write a T–S chart to this PNG file.")
TEMPERATURES_HELP = "Temperature [K]: one value, a list 0.8,1.0 or a range START:STOP:N."


def _values(spec: str, option: str) -> list[float]:
    """Parse VALUE, V1,V2,… or START:STOP:N (N points, both ends included)."""
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1:
                raise ValueError
            return [float(v) for v in np.linspace(start, stop, n)]
        return [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        _fail(
            ValueError(
                f"{option} {spec!r}: give a number, a comma-separated list or START:STOP:N "
                "(e.g. 0.8:1.6:9)"
            )
        )
        return []


def _output(records: list[dict[str, Any]], table: bool, as_json: bool) -> None:
    if table and as_json:
        _fail(ValueError("--json and --table exclude each other"))
    if len(records) == 1:
        _emit(records[0], table)
    elif table:
        for i, record in enumerate(records):
            if i:
                typer.echo("")
            _emit(record, True)
    else:
        typer.echo(json.dumps(records, indent=2, allow_nan=False))


# ----------------------------------------------------------------------------- props


def _paramagnet_record(
    material: str,
    temperature_K: float,
    field_T: float,
    chosen: Model | None,
    curie_weiss_K: float | None,
    internal_field_T: float | None,
    lattice: bool,
    extrapolate: bool,
) -> dict[str, Any]:
    p = paramagnet_properties(
        temperature_K,
        field_T,
        material,
        model=chosen,
        curie_weiss_K=curie_weiss_K,
        internal_field_T=internal_field_T,
        lattice=lattice,
        extrapolate=extrapolate,
    )
    return {
        "material": material,
        "model": p.model,
        "temperature_K": _f(p.temperature_K),
        "field_T": _f(p.field_T),
        "entropy_J_molK": _f(p.entropy_J_molK),
        "entropy_J_kgK": _f(p.entropy_J_kgK),
        "heat_capacity_J_molK": _f(p.heat_capacity_J_molK),
        "heat_capacity_J_kgK": _f(p.heat_capacity_J_kgK),
        "magnetisation_Am2_mol": _f(p.magnetisation_Am2_mol),
        "dS_dT_J_molK2": _f(p.dS_dT_J_molK2),
        "dS_dB_J_molKT": _f(p.dS_dB_J_molKT),
        "dS_dB_J_kgKT": _f(p.dS_dB_J_kgKT),
        "molar_mass_kg_mol": p.molar_mass_kg_mol,
    }


def _paramagnet(
    material: str,
    temperature_K: str,
    field_T: float,
    model: str | None,
    curie_weiss_K: float | None,
    internal_field_T: float | None,
    lattice: bool,
    extrapolate: bool,
    table: bool,
    as_json: bool,
    plot: Path | None,
    plot_fields_T: str,
) -> None:
    if model is not None and model not in MODELS:
        _fail(ValueError(f"--model must be one of {', '.join(MODELS)}"))
    chosen: Model | None = model  # type: ignore[assignment]
    temperatures = _values(temperature_K, "--temperature-K")
    fields: list[float] = []
    if plot is not None:  # checked before any work
        check_plot_path(plot)
        fields = float_list(plot_fields_T, "--plot-fields-T")
    try:
        records = [
            _paramagnet_record(
                material,
                T,
                field_T,
                chosen,
                curie_weiss_K,
                internal_field_T,
                lattice,
                extrapolate,
            )
            for T in temperatures
        ]
    except ValueError as exc:
        _fail(exc)
        return
    if plot is not None:
        from amrr.plots import paramagnet_ts_chart

        models: tuple[Model, ...] = (records[0]["model"],)
        out = paramagnet_ts_chart(
            plot,
            material,
            fields,
            models=models,
            curie_weiss_K=curie_weiss_K,
            internal_field_T=internal_field_T,
        )
        records[0]["plot"] = str(out)
    _output(records, table, as_json)


def _paramagnet_command(material: str) -> None:
    def command(
        temperature_K: str = typer.Option(..., "--temperature-K", help=TEMPERATURES_HELP),
        field_T: float = typer.Option(0.0, "--field-T", help="Applied field |B| [T], >= 0."),
        model: str | None = typer.Option(
            None, "--model", help="ideal | mean_field | internal_field (default per material)."
        ),
        curie_weiss_K: float | None = typer.Option(
            None, "--curie-weiss-K", callback=finite, help="Curie–Weiss θ [K] for mean_field."
        ),
        internal_field_T: float | None = typer.Option(
            None,
            "--internal-field-T",
            callback=finite,
            help="Internal field b [T] for internal_field.",
        ),
        lattice: bool = typer.Option(True, "--lattice/--no-lattice", help="Debye T³ term."),
        extrapolate: bool = EXTRAPOLATE,
        table: bool = TABLE,
        as_json: bool = JSON,
        plot: Path | None = PLOT,
        plot_fields_T: str = typer.Option(
            "0,0.5,1,1.5", "--plot-fields-T", help="Comma-separated fields [T] for --plot."
        ),
    ) -> None:
        _paramagnet(
            material,
            temperature_K,
            field_T,
            model,
            curie_weiss_K,
            internal_field_T,
            lattice,
            extrapolate,
            table,
            as_json,
            plot,
            plot_fields_T,
        )

    command.__doc__ = (
        f"{material}: entropy, heat capacity, magnetisation and dS/dB at (T, B), per mole "
        "of formula unit and per kg."
    )
    props_app.command(material.lower())(command)


_paramagnet_command("GGG")
_paramagnet_command("GLF")


def _he4_record(T: float, extrapolate: bool) -> dict[str, Any]:
    p = helium4.helium4_svp(T, extrapolate=extrapolate)
    return {
        "temperature_K": _f(p.temperature_K),
        "entropy_J_kgK": _f(p.entropy_J_kgK),
        "entropy_J_molK": _f(p.entropy_J_molK),
        "enthalpy_J_mol": _f(p.enthalpy_J_mol),
        "heat_capacity_J_kgK": _f(p.heat_capacity_J_kgK),
        "density_kg_m3": _f(p.density_kg_m3),
        "normal_fluid_density_kg_m3": _f(p.normal_fluid_density_kg_m3),
        "superfluid_density_kg_m3": _f(p.superfluid_density_kg_m3),
        "superfluid_fraction": _f(p.superfluid_fraction),
        "fountain_coefficient_Pa_K": _f(p.fountain_coefficient_Pa_K),
        "second_sound_m_s": _f(p.second_sound_m_s),
    }


@props_app.command("he4")
def props_he4(
    temperature_K: str | None = typer.Option(None, "--temperature-K", help=TEMPERATURES_HELP),
    entropy_J_kgK: str | None = typer.Option(
        None, "--entropy-J-kgK", help="Inverse lookup: the state with this entropy [J/(kg K)]."
    ),
    enthalpy_J_mol: str | None = typer.Option(
        None, "--enthalpy-J-mol", help="Inverse lookup: the state with this enthalpy [J/mol]."
    ),
    extrapolate: bool = EXTRAPOLATE,
    table: bool = TABLE,
    as_json: bool = JSON,
    plot: Path | None = PLOT,
) -> None:
    """Superfluid 4He at SVP (Donnelly & Barenghi 1998), 0.5–2.17 K; by T, s or h."""
    given = [v is not None for v in (temperature_K, entropy_J_kgK, enthalpy_J_mol)]
    if sum(given) != 1:
        _fail(ValueError("give exactly one of --temperature-K, --entropy-J-kgK, --enthalpy-J-mol"))
    if plot is not None:
        check_plot_path(plot)
    try:
        if entropy_J_kgK is not None:
            values = _values(entropy_J_kgK, "--entropy-J-kgK")
            temps = helium4.temperature_from_entropy_K(values, extrapolate=extrapolate)
        elif enthalpy_J_mol is not None:
            values = _values(enthalpy_J_mol, "--enthalpy-J-mol")
            temps = helium4.temperature_from_enthalpy_K(values, extrapolate=extrapolate)
        else:
            temps = np.asarray(_values(str(temperature_K), "--temperature-K"))
        records = [_he4_record(float(T), extrapolate) for T in temps]
    except ValueError as exc:
        _fail(exc)
        return
    if plot is not None:
        from amrr.plots import helium4_ts_chart

        records[0]["plot"] = str(helium4_ts_chart(plot))
    _output(records, table, as_json)


def _mixture_record(temperature_K: float, x3: float, extrapolate: bool) -> dict[str, Any]:
    for name, value in (("temperature_K", temperature_K), ("x3", x3)):
        if not np.isfinite(value):
            raise ValueError(f"{name}={value} is not a finite number")
    phase = str(phase_label(temperature_K, x3))
    if phase == "two-phase" and not extrapolate:
        xd, xc = _f(x_dilute(temperature_K)), _f(x_concentrated(temperature_K))
        raise ValueError(
            f"x3={x3:g} at temperature_K={temperature_K:g} is inside the two-phase region "
            f"(x_dil={xd:.4f} < x3 < x_con={xc:.4f}): no single-phase liquid exists; "
            "pass --extrapolate to evaluate the dilute model there anyway"
        )
    if phase == "concentrated":
        c = concentrated_properties(temperature_K, x3, extrapolate=extrapolate)
        return {
            "phase": phase,
            "model": "pure-3He Fermi liquid (Greywall 1983) + dissolved 4He",
            "temperature_K": _f(c.temperature_K),
            "x3": _f(c.x3),
            "gibbs_J_mol": _f(c.gibbs_J_mol),
            "entropy_J_molK": _f(c.entropy_J_molK),
            "enthalpy_J_mol": _f(c.enthalpy_J_mol),
            "heat_capacity_J_molK": _f(c.heat_capacity_J_molK),
            "mu3_J_mol": _f(c.mu3_J_mol),
            "mu4_J_mol": _finite_or_none(c.mu4_J_mol),
            "osmotic_pressure_Pa": _f(c.osmotic_pressure_Pa),
            "x_h_osmotic_J_mol": _f(c.x_h_osmotic_J_mol),
            "molar_volume_m3_mol": _f(c.molar_volume_m3_mol),
        }
    m = mixture_properties(temperature_K, x3, extrapolate=extrapolate)
    return {
        "phase": phase,
        "model": "He II quasiparticle model" + ("" if phase == "dilute" else " (extrapolated)"),
        "temperature_K": _f(m.temperature_K),
        "x3": _f(m.x3),
        "gibbs_J_mol": _f(m.gibbs_J_mol),
        "entropy_J_molK": _f(m.entropy_J_molK),
        "enthalpy_J_mol": _f(m.enthalpy_J_mol),
        "heat_capacity_J_molK": _f(m.heat_capacity_J_molK),
        "mu3_J_mol": _f(m.mu3_J_mol),
        "mu4_J_mol": _f(m.mu4_J_mol),
        "osmotic_pressure_Pa": _f(m.osmotic_pressure_Pa),
        "x_h_osmotic_J_mol": _f(m.x_h_osmotic_J_mol),
        "fermi_temperature_K": _f(m.fermi_temperature_K),
        "molar_volume_m3_mol": _f(m.molar_volume_m3_mol),
        "effective_mass_ratio": _f(m.effective_mass_ratio),
    }


@props_app.command("mixture")
def props_mixture(
    temperature_K: str | None = typer.Option(None, "--temperature-K", help=TEMPERATURES_HELP),
    x3: float = typer.Option(..., "--x3", help="3He mole fraction [-]."),
    entropy_J_molK: str | None = typer.Option(
        None, "--entropy-J-molK", help="Inverse lookup (He II phase): the T with this s."
    ),
    enthalpy_J_mol: str | None = typer.Option(
        None, "--enthalpy-J-mol", help="Inverse lookup (He II phase): the T with this h."
    ),
    extrapolate: bool = EXTRAPOLATE,
    table: bool = TABLE,
    as_json: bool = JSON,
    plot: Path | None = PLOT,
    plot_x3: str = typer.Option(
        "0.02,0.05,0.1,0.2", "--plot-x3", help="Comma-separated x3 values for --plot."
    ),
) -> None:
    """3He-4He liquid at SVP: g, s, h, C, μ3, μ4, osmotic pressure, and which phase it is.

    x3 up to the dilute separation/lambda line: He II quasiparticle model ("dilute");
    x3 at or above the concentrated separation line (T ≤ 0.867 K): 3He-rich normal liquid
    ("concentrated"). In between the liquid separates into two phases (an error unless
    --extrapolate, which then evaluates the dilute model).
    """
    given = [v is not None for v in (temperature_K, entropy_J_molK, enthalpy_J_mol)]
    if sum(given) != 1:
        _fail(ValueError("give exactly one of --temperature-K, --entropy-J-molK, --enthalpy-J-mol"))
    xs: list[float] = []
    if plot is not None:  # checked before any work
        check_plot_path(plot)
        xs = float_list(plot_x3, "--plot-x3")
    try:
        if entropy_J_molK is not None:
            values = _values(entropy_J_molK, "--entropy-J-molK")
            temperatures = [float(t) for t in mixture.temperature_from_entropy_K(values, x3)]
        elif enthalpy_J_mol is not None:
            values = _values(enthalpy_J_mol, "--enthalpy-J-mol")
            temperatures = [float(t) for t in mixture.temperature_from_enthalpy_K(values, x3)]
        else:
            temperatures = _values(str(temperature_K), "--temperature-K")
        records = [_mixture_record(T, x3, extrapolate) for T in temperatures]
    except ValueError as exc:
        _fail(exc)
        return
    if plot is not None:
        from amrr.plots import mixture_ts_chart

        records[0]["plot"] = str(mixture_ts_chart(plot, xs))
    _output(records, table, as_json)


# ----------------------------------------------------------------------------- demo


DEMO_DIR = Path(tempfile.gettempdir()) / "amrr-demo"
DEMO_OUT = typer.Option(DEMO_DIR, "--out", help="Directory for the charts.")


@app.command("demo")
def demo(out: Path = DEMO_OUT) -> None:
    """A first look: key properties at the AMRR design point and T–S charts (PNG)."""
    from amrr.plots import mixture_ts_chart, paramagnet_ts_chart

    typer.echo(
        "AMRR design point: GGG regenerators, 3He-4He (x3 = 0.10) between 1.6 K and 0.75 K\n"
    )
    typer.echo("GGG, per kg                   ideal Brillouin       mean field θ = −2.3 K")
    typer.echo("  T [K]  B [T]       S [J/kg K]  dS/dB [J/kg K T]   S [J/kg K]  dS/dB [J/kg K T]")
    for T in (0.75, 0.9, 1.6):
        for B in (0.0, 0.75, 1.5):
            a = paramagnet_properties(T, B, "GGG", model="ideal")
            b = paramagnet_properties(T, B, "GGG", model="mean_field")
            typer.echo(
                f"  {T:5.2f}  {B:5.2f}  {_f(a.entropy_J_kgK):15.2f}  {_f(a.dS_dB_J_kgKT):16.2f}"
                f"  {_f(b.entropy_J_kgK):11.2f}  {_f(b.dS_dB_J_kgKT):16.2f}"
            )
    typer.echo("\nHe II at SVP (Donnelly & Barenghi 1998)")
    typer.echo("  T [K]   s [J/kg K]   rho_s/rho   rho s [kPa/K]")
    for T in (0.75, 0.9, 1.2, 1.6):
        h = helium4.helium4_svp(T)
        typer.echo(
            f"  {T:5.2f}  {_f(h.entropy_J_kgK):11.3f}  {_f(h.superfluid_fraction):10.4f}"
            f"  {_f(h.fountain_coefficient_Pa_K) / 1e3:13.3f}"
        )
    typer.echo("\n3He-4He mixture, x3 = 0.10 (quasiparticle model, calibrated on Chaudhry 2009)")
    typer.echo("  T [K]  s [J/mol K]  h [J/mol]  C [J/mol K]  pi [kPa]  mu4 [J/mol]")
    for T in (0.75, 0.9, 1.2, 1.6):
        m = mixture_properties(T, 0.10)
        typer.echo(
            f"  {T:5.2f}  {_f(m.entropy_J_molK):11.3f}  {_f(m.enthalpy_J_mol):9.3f}"
            f"  {_f(m.heat_capacity_J_molK):11.3f}  {_f(m.osmotic_pressure_Pa) / 1e3:8.2f}"
            f"  {_f(m.mu4_J_mol):11.4f}"
        )
    fountain = _f(helium4.fountain_pressure_Pa(1.6, 0.9))
    typer.echo(f"\nFountain pressure of pure He II, 0.9 K -> 1.6 K: {fountain / 1e3:.2f} kPa")
    ggg = paramagnet_ts_chart(
        out / "ggg_ts_chart.png", "GGG", (0.0, 0.5, 1.0, 1.5), mark_K=(0.75, 1.6)
    )
    mix = mixture_ts_chart(out / "mixture_ts_chart.png")
    typer.echo(f"\nT–S chart of GGG (ideal solid, mean field dashed): {ggg}")
    typer.echo(f"T–S chart of the mixture: {mix}")
    typer.echo("More: amrr props --help; models, sources and departures: docs/amrr/properties.md")


# The design tool's commands live in amrr.design_cli.
register_design_commands(app)


def main() -> None:
    """Entry point of the ``amrr`` console script."""
    app()
