-- fluxfleet store, DuckDB: the initial tables (see fluxfleet/store/schema.py for units).
CREATE TABLE samples (
    device VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    location VARCHAR,
    boot BIGINT,
    cyc BIGINT,
    phase VARCHAR,
    co2_ppm DOUBLE,
    rh_percent DOUBLE,
    scd30_temperature_c DOUBLE,
    temperature_c DOUBLE,
    pressure_hpa DOUBLE,
    lux DOUBLE,
    lid_deg SMALLINT,
    fan_pct SMALLINT,
    flags SMALLINT,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE TABLE closures (
    device VARCHAR NOT NULL,
    cyc BIGINT NOT NULL,
    boot BIGINT,
    location VARCHAR,
    time_close TIMESTAMPTZ NOT NULL,
    time_open TIMESTAMPTZ NOT NULL,
    closed_ms BIGINT,
    extended_ms BIGINT,
    n BIGINT,
    co2_start_ppm DOUBLE,
    co2_end_ppm DOUBLE,
    slope_ppm_s DOUBLE,
    r2 DOUBLE,
    flags SMALLINT,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, cyc)
);
CREATE TABLE fluxes (
    device VARCHAR NOT NULL,
    cyc BIGINT NOT NULL,
    location VARCHAR,
    "start" TIMESTAMPTZ,
    "end" TIMESTAMPTZ,
    flux_umol_m2_s DOUBLE,
    flux_se_umol_m2_s DOUBLE,
    model VARCHAR,
    flags VARCHAR,
    n_fit BIGINT,
    r2 DOUBLE,
    deadband_s DOUBLE,
    computed TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, cyc)
);
CREATE TABLE devices (
    device VARCHAR PRIMARY KEY,
    last_seen TIMESTAMPTZ NOT NULL,
    location VARCHAR,
    firmware VARCHAR,
    slot VARCHAR,
    boot BIGINT,
    reset_cause VARCHAR,
    uptime_ms BIGINT,
    skew_ms BIGINT,
    ntp BOOLEAN,
    lost BIGINT,
    state VARCHAR,
    state_time TIMESTAMPTZ
);
CREATE TABLE device_locations (
    device VARCHAR NOT NULL,
    location VARCHAR NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, since)
);
CREATE TABLE dead_letters (
    received TIMESTAMPTZ NOT NULL,
    topic VARCHAR NOT NULL,
    payload BLOB NOT NULL,
    reason VARCHAR NOT NULL
);
