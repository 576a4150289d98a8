"""The AMRR design file (TOML) and the design orchestration — no physics of its own.

A design file has the sections ``[cycle]``, ``[refrigerant]``, ``[regenerator]``,
``[magnet]``, ``[pump]``, ``[suspension]`` and ``[parasitics]``; every key, its unit and
its allowed range are declared once in :data:`SCHEMA`. A file may give only the keys that
differ from the paper's design (``amrr/data/paper_design.toml``, shipped with the package);
unknown keys, wrong types and values outside their range are refused with a
:class:`DesignFileError` naming the file, line, key and range.

:func:`evaluate` runs the physical parts in order — pump (moles per blow), regenerator
(eqs. 1–3), magnet (eq. 4 and the winding), suspension and parasitic budget — and returns
a :class:`DesignResult` whose :meth:`~DesignResult.summary` is a flat dict of numbers with
their units in the keys.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np

from amrr.budget import (
    CoolingBudget,
    Suspension,
    cooling_budget,
    gross_cooling_W,
    magnetic_force_bound_N,
    radiation_heat_W,
    size_suspension,
)
from amrr.magnet import MagnetDesign, Wire, design_magnet, max_axial_gradient_T_m
from amrr.properties.mixture import mixture_properties
from amrr.properties.paramagnet import MATERIALS, Model, paramagnet_properties
from amrr.properties.phase_diagram import superfluid_boundary_x3
from amrr.properties.refrigerant import AnalyticRefrigerant, Refrigerant
from amrr.pump import PumpDisplacement, PumpFlow, PumpSpec, linear_ramp_flow, pump_displacement
from amrr.regenerator import (
    RegeneratorDesign,
    RegeneratorSpec,
    design_regenerator,
    length_sensitivities,
)

Design = dict[str, dict[str, Any]]

FLOW_PROFILES = ("constant", "magnetising_bed", "demagnetising_bed")
"""Values of ``pump.flow_profile`` (:func:`pump_flow_of`)."""


class DesignFileError(ValueError):
    """A design file (or a key set on the command line) that cannot be used."""


@dataclass(frozen=True)
class Param:
    """One key of the design file.

    Attributes
    ----------
    section, key : str
        ``[section]`` and key name (the unit is in the key).
    low, high : float
        Allowed range (numbers) — inclusive.
    kind : type
        ``float``, ``int`` or ``str``.
    choices : tuple of str
        Allowed values of a string key.
    help : str
        What it is.
    """

    section: str
    key: str
    low: float = -math.inf
    high: float = math.inf
    kind: type = float
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def name(self) -> str:
        """``section.key``."""
        return f"{self.section}.{self.key}"

    def describe_range(self) -> str:
        """The allowed values, for error messages and --help."""
        if self.kind is str:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kind = "an integer" if self.kind is int else "a number"
        return f"{kind} in [{self.low:g}, {self.high:g}]"


def _p(section: str, key: str, low: float, high: float, help: str, kind: type = float) -> Param:
    return Param(section, key, low, high, kind, (), help)


SCHEMA: tuple[Param, ...] = (
    _p("cycle", "hot_temperature_K", 0.8, 1.8, "hot heat exchanger temperature"),
    _p("cycle", "cold_outlet_temperature_K", 0.3, 1.5, "regenerator outlet (target) temperature"),
    _p("cycle", "load_temperature_K", 0.3, 1.7, "mixture temperature leaving the CHX"),
    _p("cycle", "blow_time_s", 1.0, 3600.0, "duration of one flow process"),
    _p("cycle", "hold_time_s", 0.0, 3600.0, "duration of one no-flow process"),
    _p("cycle", "x3", 1e-4, 0.4, "3He mole fraction of the mixture"),
    _p(
        "cycle",
        "hold_swing_fraction",
        0.0,
        1.0,
        "share of the regenerator field swing made in each no-flow process (cycle model)",
    ),
    Param(
        "refrigerant",
        "material",
        kind=str,
        choices=("GGG", "GLF"),
        help="paramagnetic refrigerant of the regenerators (the pump beds stay GGG)",
    ),
    Param(
        "refrigerant",
        "model",
        kind=str,
        choices=("ideal", "mean_field", "internal_field"),
        help="spin model of amrr.properties.paramagnet for the design equations",
    ),
    _p(
        "refrigerant",
        "internal_field_T",
        0.0,
        2.0,
        "internal field b of the internal_field spin model (the cycle model's refrigerant)",
    ),
    _p("refrigerant", "density_kg_m3", 1000.0, 20000.0, "density of the solid refrigerant"),
    _p("regenerator", "inner_diameter_m", 1e-3, 0.3, "canister inner diameter"),
    _p("regenerator", "high_field_T", 0.01, 10.0, "field at the start of the cold blow"),
    _p("regenerator", "low_field_T", 0.0, 10.0, "field at the end of the cold blow"),
    _p("regenerator", "porosity", 0.2, 0.8, "void fraction of the packed bed"),
    _p("regenerator", "particle_diameter_m", 1e-5, 1e-2, "particle size (reported only)"),
    _p("regenerator", "space_nodes", 1, 100_000, "N of eq. 2", int),
    _p("regenerator", "field_steps", 1, 1_000_000, "M of eq. 2", int),
    _p("regenerator", "wall_thickness_m", 1e-5, 1e-2, "canister wall thickness"),
    _p("regenerator", "wall_density_kg_m3", 1000.0, 20000.0, "canister wall density"),
    _p("regenerator", "end_parts_mass_kg", 0.0, 10.0, "end caps, screens, tubes"),
    _p("magnet", "centre_field_T", 0.01, 9.0, "design field at the coil centre"),
    _p("magnet", "current_A", 0.01, 1000.0, "operating current"),
    _p("magnet", "wire_insulated_diameter_m", 1e-5, 5e-3, "wire diameter with insulation"),
    _p("magnet", "wire_bare_diameter_m", 1e-5, 5e-3, "wire diameter without insulation"),
    _p("magnet", "filaments", 1, 100_000, "NbTi filaments in the wire", int),
    _p("magnet", "filament_diameter_m", 1e-7, 1e-3, "NbTi filament diameter"),
    _p("magnet", "copper_rrr", 1.0, 1000.0, "residual resistance ratio of the copper"),
    _p("magnet", "mandrel_radius_m", 1e-3, 0.5, "radius of the winding surface"),
    _p("magnet", "winding_length_m", 1e-3, 2.0, "winding length between flanges"),
    _p("magnet", "ground_insulation_m", 0.0, 1e-3, "insulation on the mandrel"),
    _p("magnet", "bath_temperature_K", 1.5, 9.0, "conductor temperature for the NbTi margin"),
    _p("magnet", "diode_forward_voltage_V", 0.1, 10.0, "protection diode forward voltage"),
    _p("pump", "ggg_mass_kg", 1e-4, 10.0, "GGG per pump bed"),
    _p("pump", "temperature_K", 0.8, 1.8, "pump bed temperature"),
    _p("pump", "low_field_T", 0.0, 10.0, "pump field swing, low end"),
    _p("pump", "high_field_T", 0.01, 10.0, "pump field swing, high end"),
    Param(
        "pump",
        "flow_profile",
        kind=str,
        choices=FLOW_PROFILES,
        help="the pump's flow over a blow in the cycle model: constant, or set by the "
        "magnetising or the demagnetising bed's heat on a linear field ramp",
    ),
    _p("suspension", "launch_acceleration_g", 1.0, 200.0, "quasi-static design acceleration"),
    _p("suspension", "safety_factor", 1.0, 50.0, "on Kevlar's tensile strength"),
    _p("suspension", "strands", 1, 1000, "Kevlar strands per centre disk", int),
    _p("suspension", "loaded_strands", 1, 1000, "strands sharing one load direction", int),
    _p("suspension", "strand_length_m", 1e-4, 1.0, "free strand length"),
    _p("suspension", "warm_temperature_K", 0.8, 3.2, "temperature of the suspension ring"),
    _p("parasitics", "radiation_emissivity", 0.0, 1.0, "effective emissivity for radiation"),
    _p("parasitics", "other_W", 0.0, 1.0, "lumped other parasitic heat at the cold end"),
)
PARAMS: dict[str, Param] = {p.name: p for p in SCHEMA}

PAPER_DESIGN_RESOURCE = "paper_design.toml"


def paper_design_text() -> str:
    """The shipped default design file (the paper's design, assumptions documented)."""
    return (resources.files("amrr") / "data" / PAPER_DESIGN_RESOURCE).read_text("utf-8")


def _line_of(text: str, section: str, key: str) -> int | None:
    """1-based line of ``key =`` inside ``[section]`` of a TOML text, if it is there."""
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        head = re.match(r"\s*\[([^\]]+)\]", line)
        if head:
            current = head.group(1).strip()
            continue
        if current == section and re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _where(source: str, text: str | None, section: str, key: str) -> str:
    line = _line_of(text, section, key) if text is not None else None
    return f"{source}:{line}" if line is not None else source


def coerce(param: Param, value: Any, where: str) -> Any:
    """Check one value against its :class:`Param`; return it as the declared kind.

    Raises
    ------
    DesignFileError
        Naming ``where``, the key and the allowed range.
    """
    bad = f"{where}: {param.name} = {value!r} is invalid: must be {param.describe_range()}"
    if param.kind is str:
        if not isinstance(value, str) or value not in param.choices:
            raise DesignFileError(bad)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DesignFileError(bad)
    if param.kind is int and not (isinstance(value, int) or float(value).is_integer()):
        raise DesignFileError(bad)
    number = float(value)
    if not math.isfinite(number) or not param.low <= number <= param.high:
        raise DesignFileError(bad)
    return int(number) if param.kind is int else number


def parse_design(text: str, source: str = "<design>", *, base: Design | None = None) -> Design:
    """Parse and validate a design file's text, over ``base`` (default: the paper's design).

    Parameters
    ----------
    text : str
        TOML text.
    source : str
        File name for messages.
    base : dict, optional
        Values for keys the file does not give (default: the shipped paper design; pass
        ``{}`` to require every key).

    Raises
    ------
    DesignFileError
        Bad TOML, an unknown section or key, a wrong type, a value out of its range, a
        missing key, or inconsistent keys — the message names the file, line and key.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DesignFileError(f"{source}: not valid TOML: {exc}") from None
    design: Design = {s: dict(v) for s, v in (default_design() if base is None else base).items()}
    sections = {p.section for p in SCHEMA}
    for section, table in raw.items():
        if section not in sections or not isinstance(table, dict):
            raise DesignFileError(
                f"{_where(source, text, section, '')}: unknown section [{section}]; "
                f"allowed: {', '.join(sorted(sections))}"
            )
        for key, value in table.items():
            name = f"{section}.{key}"
            where = _where(source, text, section, key)
            if name not in PARAMS:
                known = ", ".join(p.key for p in SCHEMA if p.section == section)
                raise DesignFileError(f"{where}: unknown key {name}; [{section}] has: {known}")
            design.setdefault(section, {})[key] = coerce(PARAMS[name], value, where)
    missing = [p.name for p in SCHEMA if p.key not in design.get(p.section, {})]
    if missing:
        raise DesignFileError(f"{source}: missing keys: {', '.join(missing)}")
    check_consistency(design, source, text)
    return design


def check_consistency(design: Design, source: str = "<design>", text: str | None = None) -> None:
    """Relations between keys that a single range cannot express.

    Raises
    ------
    DesignFileError
        Naming the keys and the relation they break.
    """
    c, r, m, p, s = (design[k] for k in ("cycle", "regenerator", "magnet", "pump", "suspension"))
    rf = design["refrigerant"]
    material = MATERIALS[rf["material"]]
    coldest = min(c["cold_outlet_temperature_K"], c["load_temperature_K"])
    x3_limit = float(superfluid_boundary_x3(np.asarray(coldest)))
    rules = [
        (
            rf["model"] != "mean_field" or material.curie_weiss_K is not None,
            "refrigerant",
            "model",
            f"{material.name} has no verified Curie–Weiss θ, so no mean_field model: "
            "use ideal or internal_field (with refrigerant.internal_field_T)",
        ),
        (
            coldest >= material.temperature_range.low,
            "cycle",
            "cold_outlet_temperature_K",
            f"{material.name}'s spin models hold down to {material.temperature_range.low:g} K "
            f"({material.temperature_range.source})",
        ),
        (
            c["x3"] <= x3_limit,
            "cycle",
            "x3",
            f"x3 = {c['x3']:g} phase-separates at {coldest:g} K: the dilute phase holds at "
            f"most x3 = {x3_limit:.4f} there (choose a smaller x3 or a warmer cold end)",
        ),
        (
            c["cold_outlet_temperature_K"] < c["load_temperature_K"] < c["hot_temperature_K"],
            "cycle",
            "load_temperature_K",
            "need cold_outlet_temperature_K < load_temperature_K < hot_temperature_K",
        ),
        (
            r["high_field_T"] > r["low_field_T"],
            "regenerator",
            "low_field_T",
            "need regenerator.low_field_T < regenerator.high_field_T",
        ),
        (
            r["high_field_T"] <= m["centre_field_T"],
            "regenerator",
            "high_field_T",
            "the regenerator's high field cannot exceed magnet.centre_field_T",
        ),
        (
            p["high_field_T"] > p["low_field_T"],
            "pump",
            "low_field_T",
            "need pump.low_field_T < pump.high_field_T",
        ),
        (
            m["wire_bare_diameter_m"] <= m["wire_insulated_diameter_m"],
            "magnet",
            "wire_bare_diameter_m",
            "need magnet.wire_bare_diameter_m ≤ magnet.wire_insulated_diameter_m",
        ),
        (
            s["loaded_strands"] <= s["strands"],
            "suspension",
            "loaded_strands",
            "need suspension.loaded_strands ≤ suspension.strands",
        ),
        (
            m["mandrel_radius_m"] > r["inner_diameter_m"] / 2 + r["wall_thickness_m"],
            "magnet",
            "mandrel_radius_m",
            "the canister (inner_diameter_m/2 + wall_thickness_m) must fit inside the mandrel",
        ),
    ]
    for ok, section, key, why in rules:
        if not ok:
            raise DesignFileError(f"{_where(source, text, section, key)}: {section}.{key}: {why}")


def default_design() -> Design:
    """The paper's design (shipped TOML), validated, as nested dicts."""
    return parse_design(paper_design_text(), PAPER_DESIGN_RESOURCE, base={})


def load_design(path: str | Path) -> Design:
    """Read and validate a design file (keys not given take the paper's values).

    Raises
    ------
    DesignFileError
        Unreadable file, bad TOML or bad values (naming file, line, key and range).
    """
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DesignFileError(f"{p}: cannot read the design file: {exc}") from None
    return parse_design(text, str(p))


def with_overrides(design: Design, overrides: dict[str, float | str]) -> Design:
    """A copy of ``design`` with ``section.key`` values replaced, validated.

    Raises
    ------
    DesignFileError
        For an unknown key or a bad value (naming the key and its range).
    """
    out: Design = {s: dict(v) for s, v in design.items()}
    for name, value in overrides.items():
        if name not in PARAMS:
            raise DesignFileError(f"unknown design key {name!r}; keys: {', '.join(PARAMS)}")
        param = PARAMS[name]
        out[param.section][param.key] = coerce(param, value, "override")
    check_consistency(out, "override")
    return out


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class DesignResult:
    """Everything :func:`evaluate` computed for one design.

    Attributes
    ----------
    design : dict
        The validated inputs.
    pump : PumpDisplacement
        Moles per blow.
    regenerator : RegeneratorDesign
        Bed length, GGG mass, per-node heat.
    regenerator_length_other_model_m : float
        The bed length with the other GGG spin model (the model spread) [m].
    sensitivities : dict
        d ln ℓ / d ln p of the regenerator length (see
        :func:`~amrr.regenerator.length_sensitivities`).
    magnet : MagnetDesign
        Winding, inductance, peak field, margin, quench.
    canister_mass_kg : float
        Suspended mass: GGG, helium, wall, end parts [kg].
    suspension : Suspension
        Kevlar sizing and heat.
    budget : CoolingBudget
        Gross and net cooling at the load temperature [W].
    warnings : list of str
        Design checks that failed (e.g. canister longer than the winding).
    """

    design: Design
    pump: PumpDisplacement
    regenerator: RegeneratorDesign
    regenerator_length_other_model_m: float
    sensitivities: dict[str, float]
    magnet: MagnetDesign
    canister_mass_kg: float
    suspension: Suspension
    budget: CoolingBudget
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | str]:
        """Flat numbers with units in the keys (for --json, tables and sweeps)."""
        r, m, p, s, b = self.regenerator, self.magnet, self.pump, self.suspension, self.budget
        out: dict[str, float | int | str] = {
            "regenerator_length_m": r.length_m,
            "regenerator_length_other_model_m": self.regenerator_length_other_model_m,
            "regenerator_ggg_mass_kg": r.ggg_mass_kg,
            "regenerator_porosity": r.spec.porosity,
            "regenerator_fill_fraction": r.fill_fraction,
            "regenerator_volume_m3": r.volume_m3,
            "regenerator_heat_per_blow_J": r.heat_to_ggg_J,
            "mixture_enthalpy_drop_J_mol": r.enthalpy_drop_J_mol,
            "pump_moles_per_blow_mol": p.moles_per_blow_mol,
            "pump_volume_per_blow_m3": p.mixture_volume_per_blow_m3,
            "pump_heat_per_bed_J": p.heat_per_bed_J,
            "magnet_layers": m.winding.layers,
            "magnet_turns_per_layer": m.winding.turns_per_layer,
            "magnet_turns": m.winding.turns,
            "magnet_turns_per_m": m.turns_per_m,
            "magnet_outer_radius_m": m.winding.outer_radius_m,
            "magnet_centre_field_T": m.centre_field_T,
            "magnet_centre_field_eq4_T": m.centre_field_eq4_T,
            "magnet_wire_length_m": m.wire_length_m,
            "magnet_inductance_H": m.inductance_H,
            "magnet_stored_energy_J": m.stored_energy_J,
            "magnet_peak_field_T": m.peak_field_T,
            "magnet_critical_current_A": m.load_line.critical_current_A,
            "magnet_current_margin": m.load_line.current_margin,
            "magnet_ramp_voltage_V": m.ramp_voltage_V,
            "magnet_quench_internal_voltage_bound_V": m.quench.internal_voltage_bound_V,
            "magnet_quench_diode_energy_J": m.quench.diode_energy_J,
            "canister_mass_kg": self.canister_mass_kg,
            "suspension_design_load_N": s.design_load_N,
            "suspension_magnetic_force_N": s.magnetic_force_N,
            "suspension_strand_diameter_m": s.strand_diameter_m,
            "suspension_heat_W": b.suspension_heat_W,
            "radiation_heat_W": b.radiation_heat_W,
            "other_parasitics_W": b.other_parasitics_W,
            "gross_cooling_W": b.gross_cooling_W,
            "net_cooling_W": b.net_cooling_W,
            "load_temperature_K": float(self.design["cycle"]["load_temperature_K"]),
        }
        for name, value in self.sensitivities.items():
            out[f"sensitivity_length_{name}"] = value
        return out


def refrigerant_of(design: Design, model: str | None = None) -> Refrigerant:
    """The regenerators' refrigerant the design names (``model`` overrides its spin model;
    ``internal_field`` takes the design's ``refrigerant.internal_field_T``)."""
    ref = design["refrigerant"]
    chosen = cast(Model, model or ref["model"])
    b = float(ref["internal_field_T"]) if chosen == "internal_field" else None
    return cast(Refrigerant, AnalyticRefrigerant(ref["material"], model=chosen, internal_field_T=b))


def band_models(design: Design) -> tuple[Model, ...]:
    """The spin models the design's refrigerant has (the model band): all three for GGG;
    no mean field for a material without a verified Curie–Weiss θ (GLF)."""
    material = MATERIALS[design["refrigerant"]["material"]]
    models: tuple[Model, ...] = ("ideal", "mean_field", "internal_field")
    return tuple(m for m in models if m != "mean_field" or material.curie_weiss_K is not None)


def pump_refrigerant_of(design: Design) -> Refrigerant:
    """The pump beds' refrigerant: always GGG at the hot end (the paper's superfluid
    magnetic pump); the design's spin model when the regenerators are GGG too, else GGG's
    documented default."""
    ref = design["refrigerant"]
    if ref["material"] == "GGG":
        return refrigerant_of(design)
    return cast(Refrigerant, AnalyticRefrigerant("GGG"))


def pump_flow_of(design: Design) -> PumpFlow | None:
    """The pump's flow over a blow that the design's ``pump.flow_profile`` names: None for
    a constant flow, else :func:`amrr.pump.linear_ramp_flow` of the pump beds' linear field
    ramp over the blow, with the magnetising or the demagnetising bed's heat setting it."""
    profile = design["pump"]["flow_profile"]
    if profile == "constant":
        return None
    c, pm = design["cycle"], design["pump"]
    spec = PumpSpec(
        pm["ggg_mass_kg"], pm["temperature_K"], pm["low_field_T"], pm["high_field_T"], c["x3"]
    )
    bed = "magnetising" if profile == "magnetising_bed" else "demagnetising"
    return linear_ramp_flow(spec, c["blow_time_s"], pump_refrigerant_of(design), bed=bed)


def evaluate(design: Design, *, sensitivities: bool = True) -> DesignResult:
    """Run pump → regenerator → magnet → suspension → budget for one validated design.

    Parameters
    ----------
    design : dict
        From :func:`load_design`, :func:`default_design` or :func:`with_overrides`.
    sensitivities : bool
        Also compute the regenerator length's sensitivities (2 × 9 extra solves).

    Raises
    ------
    ValueError
        When a physical model refuses the inputs (e.g. a temperature outside a property
        model's range); the message names the quantity.
    """
    c, rf, rg, mg, pm, sp, pa = (
        design[k]
        for k in (
            "cycle",
            "refrigerant",
            "regenerator",
            "magnet",
            "pump",
            "suspension",
            "parasitics",
        )
    )
    ggg = refrigerant_of(design)
    other_model = next(m for m in band_models(design) if m != rf["model"])
    x3 = c["x3"]

    pump = pump_displacement(
        PumpSpec(pm["ggg_mass_kg"], pm["temperature_K"], pm["low_field_T"], pm["high_field_T"], x3),
        pump_refrigerant_of(design),
    )
    spec = RegeneratorSpec(
        inner_diameter_m=rg["inner_diameter_m"],
        hot_temperature_K=c["hot_temperature_K"],
        cold_temperature_K=c["cold_outlet_temperature_K"],
        high_field_T=rg["high_field_T"],
        low_field_T=rg["low_field_T"],
        moles_per_blow_mol=pump.moles_per_blow_mol,
        x3=x3,
        porosity=rg["porosity"],
        ggg_density_kg_m3=rf["density_kg_m3"],
        space_nodes=rg["space_nodes"],
        field_steps=rg["field_steps"],
    )
    regen = design_regenerator(spec, ggg)
    other = design_regenerator(spec, refrigerant_of(design, other_model)).length_m
    sens = length_sensitivities(spec, ggg) if sensitivities else {}

    wire = Wire(
        bare_diameter_m=mg["wire_bare_diameter_m"],
        insulated_diameter_m=mg["wire_insulated_diameter_m"],
        filaments=mg["filaments"],
        filament_diameter_m=mg["filament_diameter_m"],
        copper_rrr=mg["copper_rrr"],
    )
    magnet = design_magnet(
        mg["centre_field_T"],
        wire,
        mg["current_A"],
        mg["mandrel_radius_m"],
        mg["winding_length_m"],
        ground_insulation_m=mg["ground_insulation_m"],
        bath_temperature_K=mg["bath_temperature_K"],
        diode_voltage_V=mg["diode_forward_voltage_V"],
        ramp_time_s=c["blow_time_s"],
        swing_field_T=rg["high_field_T"] - rg["low_field_T"],
    )

    # Suspended mass: GGG + the mixture in the pores + the tube wall + end parts.
    mix = mixture_properties(c["hot_temperature_K"], x3)
    molar_mass = x3 * 3.016029e-3 + (1 - x3) * 4.002602e-3
    helium_kg = regen.volume_m3 * rg["porosity"] / float(mix.molar_volume_m3_mol) * molar_mass
    outer_d = rg["inner_diameter_m"] + 2 * rg["wall_thickness_m"]
    wall_kg = (math.pi / 4 * (outer_d**2 - rg["inner_diameter_m"] ** 2) * regen.length_m) * rg[
        "wall_density_kg_m3"
    ]
    mass = regen.ggg_mass_kg + helium_kg + wall_kg + rg["end_parts_mass_kg"]

    params = MATERIALS[rf["material"]]
    t_mid = 0.5 * (c["hot_temperature_K"] + c["cold_outlet_temperature_K"])
    magnetisation = float(
        paramagnet_properties(
            t_mid,
            rg["high_field_T"],
            params,
            model=rf["model"],
            internal_field_T=rf["internal_field_T"] if rf["model"] == "internal_field" else None,
        ).magnetisation_Am2_mol
    )
    swing_current = mg["current_A"] * rg["high_field_T"] / magnet.centre_field_T
    gradient = max_axial_gradient_T_m(magnet.winding, swing_current)
    force = magnetic_force_bound_N(
        regen.ggg_mass_kg / params.molar_mass_kg_mol, magnetisation, gradient
    )
    suspension = size_suspension(
        mass,
        launch_acceleration_g=sp["launch_acceleration_g"],
        magnetic_force_N=force,
        safety_factor=sp["safety_factor"],
        strands=sp["strands"],
        loaded_strands=sp["loaded_strands"],
        strand_length_m=sp["strand_length_m"],
        cold_temperature_K=c["cold_outlet_temperature_K"],
        warm_temperature_K=sp["warm_temperature_K"],
    )

    dh_load = float(
        np.diff(
            mixture_properties(
                np.array([c["cold_outlet_temperature_K"], c["load_temperature_K"]]), x3
            ).enthalpy_J_mol
        )[0]
    )
    cycle_time = 2 * (c["blow_time_s"] + c["hold_time_s"])
    gross = gross_cooling_W(pump.moles_per_blow_mol, dh_load, cycle_time)
    # Cold parts that see the warm surroundings: both canisters' outer surface (upper bound:
    # the whole canister taken at the cold-end temperature) and the CHX is in "other".
    area = 2 * math.pi * outer_d * regen.length_m
    radiation = radiation_heat_W(
        area, c["cold_outlet_temperature_K"], c["hot_temperature_K"], pa["radiation_emissivity"]
    )
    # Two regenerators, one cold-end suspension disk each.
    budget = cooling_budget(gross, 2 * suspension.conducted_heat_W, radiation, pa["other_W"])

    warnings: list[str] = []
    if regen.length_m > mg["winding_length_m"]:
        warnings.append(
            f"regenerator length {regen.length_m * 1e3:.1f} mm exceeds the winding length "
            f"{mg['winding_length_m'] * 1e3:.1f} mm: the bed's ends sit in a weaker field"
        )
    if magnet.load_line.current_margin > 0.8:
        warnings.append(
            f"magnet runs at {magnet.load_line.current_margin:.0%} of its critical current on "
            "the load line (> 80 %)"
        )
    if magnet.ramp_voltage_V > mg["diode_forward_voltage_V"]:
        warnings.append(
            f"ramp voltage {magnet.ramp_voltage_V:.2f} V over the blow exceeds the diodes' "
            f"forward voltage {mg['diode_forward_voltage_V']:.2f} V: the diodes shunt current"
        )
    if budget.net_cooling_W <= 0:
        warnings.append("parasitic loads exceed the gross cooling power")
    return DesignResult(
        design=design,
        pump=pump,
        regenerator=regen,
        regenerator_length_other_model_m=other,
        sensitivities=sens,
        magnet=magnet,
        canister_mass_kg=mass,
        suspension=suspension,
        budget=budget,
        warnings=warnings,
    )


def assumptions(text: str | None = None) -> list[str]:
    """The ``[assumption]`` comments of a design file, as ``section.key = value — note``."""
    src = paper_design_text() if text is None else text
    out: list[str] = []
    section = ""
    for line in src.splitlines():
        head = re.match(r"\s*\[([^\]]+)\]", line)
        if head:
            section = head.group(1).strip()
            continue
        m = re.match(r"\s*(\w+)\s*=\s*([^#]+?)\s*#\s*\[assumption\]\s*(.*)", line)
        if m:
            out.append(f"{section}.{m.group(1)} = {m.group(2)} — {m.group(3)}")
    return out
