-- What an analyst did with an alert in `pmon ui`: acknowledged (seen, keep it) or dismissed (noise: never sent
-- again; digests leave dismissed alerts out). One row per alert, the latest action wins.
CREATE TABLE alert_actions (
    alert_id VARCHAR PRIMARY KEY,
    action VARCHAR NOT NULL,     -- acknowledged | dismissed
    analyst VARCHAR,
    acted_at TIMESTAMP NOT NULL
);
