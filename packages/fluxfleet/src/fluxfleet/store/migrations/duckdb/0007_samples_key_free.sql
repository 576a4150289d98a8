-- Samples without the (device, seq) primary key. Its ART index cost about 48 µs a message
-- of the ingest drain (benchmarks/RESULTS.md, "ingest — key-free samples"); DuckDBStore.write
-- keeps (device, seq) unique itself: one writing process per file (DuckDB's file lock), one
-- lock per database in that process, each device's highest stored seq, and an anti-join
-- against the store for any sample at or below it. DuckDB cannot drop a key in place, so
-- the table is copied (in its stored order).
CREATE TABLE samples_0007 (
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
    received TIMESTAMPTZ NOT NULL
);
INSERT INTO samples_0007 SELECT * FROM samples;
DROP TABLE samples;
ALTER TABLE samples_0007 RENAME TO samples;
