-- Incremental trend aggregates. A write that changes documents or detections records the (day, source) keys it
-- touched in `trends_dirty`, in the same transaction; `refresh_trends` recomputes the aggregate rows of those keys
-- only and clears them (a run killed before its refresh leaves them for the next one). `trends_state` has a row
-- once the aggregates were fully built; until then (a warehouse from before this migration) the next refresh is
-- a full rebuild.
CREATE TABLE trends_dirty (
    day DATE NOT NULL,
    source_id VARCHAR NOT NULL
);

CREATE TABLE trends_state (
    id INTEGER PRIMARY KEY,      -- always 1
    rebuilt_at TIMESTAMP NOT NULL
);
