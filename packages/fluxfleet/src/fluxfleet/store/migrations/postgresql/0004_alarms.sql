-- fluxfleet store, postgresql: alarms (issue 10). The partial unique index keeps one open
-- alarm per (device, kind) even with two evaluators. Units: fluxfleet/store/schema.py.
CREATE TABLE alarms (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    raised TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    cleared TIMESTAMPTZ,
    repeats BIGINT NOT NULL,
    value DOUBLE PRECISION,
    detail TEXT,
    acked TIMESTAMPTZ,
    acked_by TEXT
);
CREATE UNIQUE INDEX alarms_open ON alarms (device, kind) WHERE cleared IS NULL;
