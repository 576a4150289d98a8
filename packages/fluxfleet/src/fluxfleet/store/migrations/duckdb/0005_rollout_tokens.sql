-- fluxfleet store, duckdb: HTTP API bearer tokens (hashed) and firmware rollouts (issue 10).
-- A token is kept only as its scrypt hash; `prefix` (public, the token's first characters)
-- finds the row, the hash is then compared in constant time (fluxfleet/ops/tokens.py).
CREATE TABLE api_tokens (
    name VARCHAR PRIMARY KEY,
    prefix VARCHAR NOT NULL UNIQUE,
    salt VARCHAR NOT NULL,
    hash VARCHAR NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);
-- The version each device is served (`fluxfleet serve --bundles`): one row per device;
-- device '*' is the fleet's version (what devices without their own row get).
CREATE TABLE firmware_assignments (
    device VARCHAR PRIMARY KEY,
    version VARCHAR NOT NULL,
    since_ms BIGINT NOT NULL,
    rollout_id VARCHAR
);
-- A rollout and each of its devices: state machine in fluxfleet/ops/rollout.py.
-- Times (*_ms) are milliseconds since the Unix epoch, UTC.
CREATE TABLE rollouts (
    rollout_id VARCHAR PRIMARY KEY,
    version VARCHAR NOT NULL,
    previous VARCHAR,
    state VARCHAR NOT NULL,
    operator VARCHAR NOT NULL,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    window_ms BIGINT NOT NULL,
    then_all_after_ms BIGINT,
    detail VARCHAR
);
CREATE TABLE rollout_devices (
    rollout_id VARCHAR NOT NULL,
    device VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    previous VARCHAR,
    boot_before BIGINT,
    assigned_ms BIGINT,
    confirmed_ms BIGINT,
    state VARCHAR NOT NULL,
    PRIMARY KEY (rollout_id, device)
);
