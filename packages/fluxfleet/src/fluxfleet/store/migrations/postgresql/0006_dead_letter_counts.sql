-- Dead letters deduplicated: one row per (topic, raw bytes), with how often it came.
-- A hostile or broken device repeating the same bad message no longer grows the table.
-- payload_sha256 keys the raw bytes (a payload may be 1 MB: too long for a B-tree).
CREATE TABLE dead_letters_counted (
    received TIMESTAMPTZ NOT NULL,          -- first received
    topic TEXT NOT NULL,
    payload BYTEA NOT NULL,
    reason TEXT NOT NULL,
    last_received TIMESTAMPTZ NOT NULL,
    received_count BIGINT NOT NULL,         -- messages with this topic and payload [-]
    payload_sha256 TEXT NOT NULL,           -- hex SHA-256 of payload
    PRIMARY KEY (topic, payload_sha256)
);
INSERT INTO dead_letters_counted
SELECT min(received), topic, (array_agg(payload ORDER BY received))[1],
       (array_agg(reason ORDER BY received))[1], max(received), count(*),
       encode(sha256(payload), 'hex')
FROM dead_letters GROUP BY topic, encode(sha256(payload), 'hex');
DROP TABLE dead_letters;
ALTER TABLE dead_letters_counted RENAME TO dead_letters;
