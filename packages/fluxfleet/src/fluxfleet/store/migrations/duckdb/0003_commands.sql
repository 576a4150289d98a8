-- fluxfleet store, duckdb: fleet commands and the devices' acks, the audit trail of issue 10
-- (see fluxfleet/store/schema.py for units).
CREATE TABLE commands (
    cmd_id VARCHAR PRIMARY KEY,
    cmd VARCHAR NOT NULL,
    args VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    operator VARCHAR NOT NULL,
    sent TIMESTAMPTZ NOT NULL,
    expires TIMESTAMPTZ NOT NULL,
    exec_at TIMESTAMPTZ,
    payload VARCHAR NOT NULL
);
CREATE TABLE command_targets (
    cmd_id VARCHAR NOT NULL,
    device VARCHAR NOT NULL,
    PRIMARY KEY (cmd_id, device)
);
CREATE TABLE command_acks (
    device VARCHAR NOT NULL,
    cmd_id VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    boot BIGINT,
    detail VARCHAR,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, cmd_id, state)
);
