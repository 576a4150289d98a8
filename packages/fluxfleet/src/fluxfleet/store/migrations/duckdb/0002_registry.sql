-- The device registry: what the operators declared (fluxfleet devices add/retire), kept apart
-- from `devices`, which holds what the devices report (a report never edits a registration).
CREATE TABLE device_registry (
    device VARCHAR PRIMARY KEY,
    location VARCHAR,
    registered TIMESTAMPTZ NOT NULL,
    retired TIMESTAMPTZ
);
