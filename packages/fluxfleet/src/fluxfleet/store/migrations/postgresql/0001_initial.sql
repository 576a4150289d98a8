-- fluxfleet store, PostgreSQL: the initial tables (see fluxfleet/store/schema.py for units).
-- Samples are range-partitioned by time (native partitioning; the store creates each
-- partition before the first batch that needs it). A unique key on a partitioned table
-- must hold the partition key, so samples are unique on (device, seq, time): a replayed
-- sample carries the same time as the original (the device's ring keeps it).
CREATE TABLE samples (
    device TEXT NOT NULL,
    seq BIGINT NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    location TEXT,
    boot BIGINT,
    cyc BIGINT,
    phase TEXT,
    co2_ppm DOUBLE PRECISION,
    rh_percent DOUBLE PRECISION,
    scd30_temperature_c DOUBLE PRECISION,
    temperature_c DOUBLE PRECISION,
    pressure_hpa DOUBLE PRECISION,
    lux DOUBLE PRECISION,
    lid_deg SMALLINT,
    fan_pct SMALLINT,
    flags SMALLINT,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, seq, time)
) PARTITION BY RANGE (time);
CREATE TABLE closures (
    device TEXT NOT NULL,
    cyc BIGINT NOT NULL,
    boot BIGINT,
    location TEXT,
    time_close TIMESTAMPTZ NOT NULL,
    time_open TIMESTAMPTZ NOT NULL,
    closed_ms BIGINT,
    extended_ms BIGINT,
    n BIGINT,
    co2_start_ppm DOUBLE PRECISION,
    co2_end_ppm DOUBLE PRECISION,
    slope_ppm_s DOUBLE PRECISION,
    r2 DOUBLE PRECISION,
    flags SMALLINT,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, cyc)
);
CREATE TABLE fluxes (
    device TEXT NOT NULL,
    cyc BIGINT NOT NULL,
    location TEXT,
    "start" TIMESTAMPTZ,
    "end" TIMESTAMPTZ,
    flux_umol_m2_s DOUBLE PRECISION,
    flux_se_umol_m2_s DOUBLE PRECISION,
    model TEXT,
    flags TEXT,
    n_fit BIGINT,
    r2 DOUBLE PRECISION,
    deadband_s DOUBLE PRECISION,
    computed TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, cyc)
);
CREATE TABLE devices (
    device TEXT PRIMARY KEY,
    last_seen TIMESTAMPTZ NOT NULL,
    location TEXT,
    firmware TEXT,
    slot TEXT,
    boot BIGINT,
    reset_cause TEXT,
    uptime_ms BIGINT,
    skew_ms BIGINT,
    ntp BOOLEAN,
    lost BIGINT,
    state TEXT,
    state_time TIMESTAMPTZ
);
CREATE TABLE device_locations (
    device TEXT NOT NULL,
    location TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, since)
);
CREATE INDEX closures_time ON closures (time_close);
CREATE TABLE dead_letters (
    received TIMESTAMPTZ NOT NULL,
    topic TEXT NOT NULL,
    payload BYTEA NOT NULL,
    reason TEXT NOT NULL
);
