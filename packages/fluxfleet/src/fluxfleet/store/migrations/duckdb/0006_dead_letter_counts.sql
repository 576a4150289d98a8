-- Dead letters deduplicated: one row per (topic, raw bytes), with how often it came.
-- A hostile or broken device repeating the same bad message no longer grows the table.
-- payload_sha256 keys the raw bytes (a payload may be 1 MB: too long for an index).
CREATE TABLE dead_letters_counted (
    received TIMESTAMPTZ NOT NULL,          -- first received
    topic VARCHAR NOT NULL,
    payload BLOB NOT NULL,
    reason VARCHAR NOT NULL,
    last_received TIMESTAMPTZ NOT NULL,
    received_count BIGINT NOT NULL,         -- messages with this topic and payload [-]
    payload_sha256 VARCHAR NOT NULL,        -- hex SHA-256 of payload
    PRIMARY KEY (topic, payload_sha256)
);
INSERT INTO dead_letters_counted
SELECT min(received), topic, first(payload ORDER BY received), first(reason ORDER BY received),
       max(received), count(*), sha256(payload)
FROM dead_letters GROUP BY topic, sha256(payload);
DROP TABLE dead_letters;
ALTER TABLE dead_letters_counted RENAME TO dead_letters;
