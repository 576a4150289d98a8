-- fluxfleet store, postgresql: fleet commands and the devices' acks, the audit trail of issue 10
-- (see fluxfleet/store/schema.py for units).
CREATE TABLE commands (
    cmd_id TEXT PRIMARY KEY,
    cmd TEXT NOT NULL,
    args TEXT NOT NULL,
    target TEXT NOT NULL,
    operator TEXT NOT NULL,
    sent TIMESTAMPTZ NOT NULL,
    expires TIMESTAMPTZ NOT NULL,
    exec_at TIMESTAMPTZ,
    payload TEXT NOT NULL
);
CREATE TABLE command_targets (
    cmd_id TEXT NOT NULL,
    device TEXT NOT NULL,
    PRIMARY KEY (cmd_id, device)
);
CREATE TABLE command_acks (
    device TEXT NOT NULL,
    cmd_id TEXT NOT NULL,
    state TEXT NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    boot BIGINT,
    detail TEXT,
    received TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device, cmd_id, state)
);
