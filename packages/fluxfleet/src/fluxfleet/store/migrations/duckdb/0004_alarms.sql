-- fluxfleet store, duckdb: alarms (issue 10). One open alarm per (device, kind) is kept by
-- the store's raise_alarm (DuckDB has no partial unique index; one process writes a file).
-- Units and meanings: fluxfleet/store/schema.py (ALARMS).
CREATE SEQUENCE alarm_ids START 1;
CREATE TABLE alarms (
    id BIGINT PRIMARY KEY DEFAULT nextval('alarm_ids'),
    device VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    raised TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    cleared TIMESTAMPTZ,
    repeats BIGINT NOT NULL,
    value DOUBLE,
    detail VARCHAR,
    acked TIMESTAMPTZ,
    acked_by VARCHAR
);
CREATE INDEX alarms_device_kind ON alarms (device, kind);
