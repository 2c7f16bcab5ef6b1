-- Alerts (never sent twice: the id is a hash of kind, subject and window) and their deliveries.
CREATE TABLE alerts (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,       -- spike | spread | emerging | silence
    narrative VARCHAR,
    lang VARCHAR,
    source_id VARCHAR,
    window_start TIMESTAMP,
    window_end TIMESTAMP,
    observed DOUBLE,
    expected DOUBLE,
    score DOUBLE,
    summary VARCHAR,
    details JSON,
    evidence JSON,               -- [{document_id, url, title, excerpt, lang, published_at}]
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE deliveries (
    id VARCHAR PRIMARY KEY,      -- hash of what was delivered and where
    subject VARCHAR NOT NULL,    -- digest id or alert id
    channel VARCHAR NOT NULL,    -- file | email | webhook
    target VARCHAR NOT NULL,
    status VARCHAR NOT NULL,     -- pending | delivered | failed
    attempts INTEGER DEFAULT 0,
    last_error VARCHAR,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
