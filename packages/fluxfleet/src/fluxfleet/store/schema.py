"""The store's tables as Arrow schemas: what a batch carries into either backend.

Units are in the column names (``co2_ppm``, ``pressure_hpa``, ``temperature_c``); times are
UTC instants with millisecond resolution (the devices' ``ts``).

=====================  =====================================================================
table                  one row per
=====================  =====================================================================
``samples``            sample, unique on (``device``, ``seq``) — the device's own counter
``closures``           ``cycle`` message (a finished closure), unique on (``device``, ``cyc``)
``fluxes``             closure with a computed flux, unique on (``device``, ``cyc``)
``devices``            device: last seen, firmware, slot, boot count, location, state
``device_locations``   change of a device's location code (its history), on (device, since)
``dead_letters``       rejected message: topic, raw bytes, reason, first and last time and
                       count, unique on (``topic``, ``payload_sha256``)
``commands``           command sent to the fleet (who, what, expiry), on ``cmd_id``
``command_targets``    device a command was meant for, on (``cmd_id``, ``device``)
``command_acks``       state a device reached for a command, on (device, cmd_id, state)
``alarms``             alarm raised on a device (one open per device and kind), on ``id``
=====================  =====================================================================
"""

from __future__ import annotations

import pyarrow as pa  # type: ignore[import-untyped]

from fluxfleet.store.tables import TIME_COLUMN as TIME_COLUMN  # the column --from/--to select on

TIME = pa.timestamp("ms", tz="UTC")

SAMPLES = pa.schema(
    [
        ("device", pa.string()),
        ("seq", pa.int64()),
        ("time", TIME),
        ("location", pa.string()),
        ("boot", pa.int64()),
        ("cyc", pa.int64()),
        ("phase", pa.string()),  # the firmware's phase: open, closing, closed, extended, ...
        ("co2_ppm", pa.float64()),  # SCD30, wet mole fraction [µmol mol⁻¹]
        ("rh_percent", pa.float64()),  # SCD30 relative humidity [%]
        ("scd30_temperature_c", pa.float64()),  # SCD30's own (self-heated) temperature [°C]
        ("temperature_c", pa.float64()),  # QMP6988/BMP280 air temperature [°C]
        ("pressure_hpa", pa.float64()),  # [hPa]
        ("lux", pa.float64()),  # BH1750 illuminance [lx]
        ("lid_deg", pa.int16()),  # servo angle [°]
        ("fan_pct", pa.int16()),  # fan duty [%]
        ("flags", pa.int16()),  # protocol FL_* bits
        ("received", TIME),  # when the ingestor received the message (wall clock)
    ]
)

CLOSURES = pa.schema(
    [
        ("device", pa.string()),
        ("cyc", pa.int64()),
        ("boot", pa.int64()),
        ("location", pa.string()),
        ("time_close", TIME),  # lid-close command
        ("time_open", TIME),  # lid-open command (end of the closure)
        ("closed_ms", pa.int64()),  # [ms]
        ("extended_ms", pa.int64()),  # extension while the rise was small [ms]
        ("n", pa.int64()),  # samples the device fitted
        ("co2_start_ppm", pa.float64()),
        ("co2_end_ppm", pa.float64()),
        ("slope_ppm_s", pa.float64()),  # the device's own line fit [µmol mol⁻¹ s⁻¹]
        ("r2", pa.float64()),
        ("flags", pa.int16()),
        ("received", TIME),
    ]
)

FLUXES = pa.schema(
    [
        ("device", pa.string()),
        ("cyc", pa.int64()),
        ("location", pa.string()),
        ("start", TIME),  # closure start as soilflux segmented it
        ("end", TIME),
        ("flux_umol_m2_s", pa.float64()),
        ("flux_se_umol_m2_s", pa.float64()),  # the selected model's SE (NaN if it has none)
        ("model", pa.string()),
        ("flags", pa.string()),  # soilflux QC flags, comma-separated
        ("n_fit", pa.int64()),
        ("r2", pa.float64()),
        ("deadband_s", pa.float64()),
        ("computed", TIME),  # wall-clock time the flux was stored
    ]
)

DEVICES = pa.schema(
    [
        ("device", pa.string()),
        ("last_seen", TIME),  # wall clock of the last message
        ("location", pa.string()),
        ("firmware", pa.string()),
        ("slot", pa.string()),
        ("boot", pa.int64()),
        ("reset_cause", pa.string()),
        ("uptime_ms", pa.int64()),
        ("skew_ms", pa.int64()),
        ("ntp", pa.bool_()),
        ("lost", pa.int64()),  # samples the device's ring overwrote unsent
        ("state", pa.string()),  # online, offline, rebooting, alert
        ("state_time", TIME),
    ]
)

DEVICE_LOCATIONS = pa.schema([("device", pa.string()), ("location", pa.string()), ("since", TIME)])

DEAD_LETTERS = pa.schema(
    [
        ("received", TIME),  # first received
        ("topic", pa.string()),
        ("payload", pa.binary()),
        ("reason", pa.string()),
        ("last_received", TIME),
        ("received_count", pa.int64()),  # messages with this topic and payload [-]
        ("payload_sha256", pa.string()),  # hex SHA-256 of payload (with topic, the key)
    ]
)

COMMANDS = pa.schema(
    [
        ("cmd_id", pa.string()),
        ("cmd", pa.string()),  # frc, reboot, servo_test, set_location, set_schedule
        ("args", pa.string()),  # the command's arguments as compact JSON
        ("target", pa.string()),  # "all" (fleet topic) or the device ids, comma-separated
        ("operator", pa.string()),  # who sent it (--operator or $USER)
        ("sent", TIME),  # server wall clock at sending
        ("expires", TIME),  # a device runs it no later than this
        ("exec_at", TIME),  # synchronised execution time (null: at once)
        ("payload", pa.string()),  # the exact JSON published
    ]
)

COMMAND_TARGETS = pa.schema([("cmd_id", pa.string()), ("device", pa.string())])

COMMAND_ACKS = pa.schema(
    [
        ("device", pa.string()),
        ("cmd_id", pa.string()),
        ("state", pa.string()),  # accepted, done, failed, expired
        ("time", TIME),  # the device's clock at the ack (its ``ts``)
        ("boot", pa.int64()),  # the device's boot count at the ack
        ("detail", pa.string()),
        ("received", TIME),  # when the ingestor received it (wall clock)
    ]
)

ALARMS = pa.schema(
    [
        ("id", pa.int64()),
        ("device", pa.string()),
        ("kind", pa.string()),  # fluxfleet.ops.alarm_rules.KINDS
        ("severity", pa.string()),  # critical, major, minor
        ("raised", TIME),  # evaluation time at which it was raised
        ("last_seen", TIME),  # latest evaluation that found the condition (a repeat)
        ("cleared", TIME),  # null while open
        ("repeats", pa.int64()),  # evaluations that found it, the raising one included
        ("value", pa.float64()),  # the rule's measure (unit in fluxfleet.ops.alarm_rules)
        ("detail", pa.string()),
        ("acked", TIME),  # when an operator acknowledged it (null: not yet)
        ("acked_by", pa.string()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "samples": SAMPLES,
    "closures": CLOSURES,
    "fluxes": FLUXES,
    "devices": DEVICES,
    "device_locations": DEVICE_LOCATIONS,
    "dead_letters": DEAD_LETTERS,
    "commands": COMMANDS,
    "command_targets": COMMAND_TARGETS,
    "command_acks": COMMAND_ACKS,
    "alarms": ALARMS,
}
"""Every table, by name (the names ``fluxfleet export --table`` takes)."""


def empty(schema: pa.Schema) -> pa.Table:
    """An empty table of ``schema``."""
    return schema.empty_table()
