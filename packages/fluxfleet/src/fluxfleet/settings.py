"""The server's settings, declared once.

Every server command (``fluxfleet ingest``, ``fluxfleet export``) reads them, in this order
of precedence: its own command-line options, then the environment (``FLUXFLEET_BROKER``,
``FLUXFLEET_STORE``, ``FLUXFLEET_DATA_DIR``, … — ``FLUXFLEET_`` + the field name in
capitals), then ``--config FILE.toml`` (top-level keys named like the fields), then the
defaults below (the numbers and paths in :mod:`fluxfleet.settings_defaults`, which also gives
them without this module's import when only a command's options can set them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fluxfleet.settings_defaults import (
    DEFAULT_AREA_CM2,
    DEFAULT_DATA_DIR,
    DEFAULT_VOLUME_CM3,
    ENV_PREFIX,
)
from fluxfleet.settings_defaults import store_url as _store_url


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the setting and the source."""


class Settings(BaseSettings):
    """What the server needs to know (units in the names)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    broker: str = "mqtt://127.0.0.1:1883"
    """The MQTT broker, ``mqtt://HOST:PORT``."""
    store: str = ""
    """Store URL (``duckdb:///PATH`` or ``postgresql://…``); empty: a DuckDB file in
    ``data_dir``."""
    data_dir: Path = DEFAULT_DATA_DIR
    """Where the embedded store and other server files live."""
    bundles: Path | None = None
    """The update server's directory (``fluxfleet bundle --out``) that ``fluxfleet serve``
    serves to the chambers' loader; None: no firmware is served."""
    mqtt_username: str | None = None
    """The ingestor's broker account (``ingest`` in ``fluxfleet broker``'s accounts.json)."""
    mqtt_password: str | None = None
    """Its password: from the environment or the settings file, never a command line."""
    client_id: str = "fluxfleet-ingest"
    """The ingestor's fixed MQTT client id (its persistent session)."""
    group: str | None = None
    """Shared-subscription group: several ingestors with one group split the messages."""
    receive_maximum: int = Field(1000, ge=1, le=65535)
    """Unacknowledged QoS 1 messages the broker may send the ingestor at once [-]."""
    linger_s: float = Field(0.2, gt=0, le=10)
    """Longest a message waits for its batch to fill [s]."""
    session_expiry_s: int = Field(7 * 24 * 3600, ge=60)
    """How long the broker keeps the ingestor's session (and queues for it) [s]."""
    live_fluxes: bool = True
    """Compute each closure's flux as its data arrive."""
    chamber_volume_cm3: float = Field(DEFAULT_VOLUME_CM3, gt=0)
    """Total system volume of every chamber [cm³]."""
    chamber_area_cm2: float = Field(DEFAULT_AREA_CM2, gt=0)
    """Soil area of every chamber [cm²]."""
    partition_days: int = Field(1, ge=1, le=366)
    """PostgreSQL: days per range partition of the samples [d]."""
    analysis: Path | None = None
    """The console's analysis file (TOML): control mapping, reference-instrument files,
    soil pCO₂ table, calibration session (docs/fleet/analysis.md)."""
    retention_days: float | None = Field(None, gt=0, le=36_500)
    """Raw samples older than this are removed by the ingestor (at start, then hourly) [d];
    unset keeps every sample. Closures, fluxes and dead letters are kept."""

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, v: str) -> str:
        parse_broker(v)
        return v

    @property
    def store_url(self) -> str:
        """The store URL, the default DuckDB file under ``data_dir`` when none is set."""
        return _store_url(self.store, self.data_dir)

    @property
    def broker_address(self) -> tuple[str, int]:
        """``(host, port)`` of :attr:`broker`."""
        return parse_broker(self.broker)


def parse_broker(url: str) -> tuple[str, int]:
    """``(host, port)`` of ``mqtt://HOST[:PORT]``; ValueError naming what is wrong."""
    import re

    m = re.fullmatch(r"mqtt://([^:/\s]+)(?::(\d{1,5}))?/?", url)
    if not m:
        raise ValueError(f"expected mqtt://HOST:PORT, got {url!r}")
    port = int(m.group(2) or 1883)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return m.group(1), port


def load_settings(config: Path | None = None, **options: Any) -> Settings:
    """Settings from ``options`` (None = not given), the environment and ``config``.

    Raises
    ------
    SettingsError
        A missing or unreadable config file, an unknown key, or a bad value (naming it).
    """
    if config is not None and not config.is_file():
        raise SettingsError(f"--config: {config} does not exist")

    class _Sourced(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if config is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
            return tuple(sources)

    given = {k: v for k, v in options.items() if v is not None}
    try:
        return _Sourced(**given)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            problems.append(f"{name}: {err['msg']}")
        where = f" (config {config}, environment FLUXFLEET_*, or options)"
        raise SettingsError("; ".join(problems) + where) from None
    except ValueError as exc:  # a TOML syntax error
        raise SettingsError(f"--config {config}: {exc}") from None
