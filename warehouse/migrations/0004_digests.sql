-- Digests as rendered (so a failed delivery can be retried later from the warehouse alone, even when the files
-- are gone) and a log of every delivery attempt (the `deliveries` row keeps only the latest state).
CREATE TABLE digests (
    id VARCHAR PRIMARY KEY,      -- hash of the window and the alert ids it carries: re-running adds nothing
    window_start DATE NOT NULL,
    window_end DATE NOT NULL,
    alert_ids JSON NOT NULL,
    title VARCHAR NOT NULL,
    markdown VARCHAR NOT NULL,
    html VARCHAR NOT NULL,       -- self-contained: charts as data: URIs
    summary JSON NOT NULL,       -- the structured digest the webhook sends
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE delivery_attempts (
    delivery_id VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,    -- 1, 2, ... over the delivery's whole life (later runs continue the count)
    attempted_at TIMESTAMP NOT NULL,
    ok BOOLEAN NOT NULL,
    error VARCHAR,
    PRIMARY KEY (delivery_id, attempt)
);
