-- Foundation: sources, documents, detections, runs, quarantine, trend aggregates.
CREATE TABLE sources (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    location VARCHAR NOT NULL,
    expected_langs VARCHAR[],
    tags VARCHAR[],
    grp VARCHAR,
    schedule VARCHAR,
    etag VARCHAR,               -- conditional GET state, saved only after the source's items are stored
    last_modified VARCHAR,
    last_fetched_at TIMESTAMP,
    last_published_at TIMESTAMP,
    updated_at TIMESTAMP
);

CREATE TABLE documents (
    id VARCHAR PRIMARY KEY,     -- hash of source id + normalised text (schemas.documents.document_id)
    source_id VARCHAR NOT NULL,
    external_id VARCHAR,
    url VARCHAR,
    title VARCHAR,
    text VARCHAR NOT NULL,
    author VARCHAR,
    forwarded_from VARCHAR,
    published_at TIMESTAMP,     -- UTC; falls back to fetched_at when the source gives none
    fetched_at TIMESTAMP NOT NULL,
    content_hash VARCHAR NOT NULL,
    lang VARCHAR,
    script VARCHAR,
    lang_confidence DOUBLE,
    lang_mix JSON,
    stance VARCHAR,
    classified_with VARCHAR,    -- model + codebook version tag; NULL = not classified yet
    run_id VARCHAR
);

CREATE TABLE detections (
    document_id VARCHAR NOT NULL,
    narrative VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    stance VARCHAR NOT NULL,
    evidence VARCHAR[],
    model_version VARCHAR NOT NULL,
    codebook_version VARCHAR NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (document_id, narrative)
);

CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    flow VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    documents_new INTEGER DEFAULT 0,
    detections_new INTEGER DEFAULT 0,
    quarantined INTEGER DEFAULT 0,
    stage_seconds JSON,
    sources JSON,
    errors JSON
);

CREATE TABLE quarantine (
    id VARCHAR PRIMARY KEY,     -- hash of source, stage, reason and payload: the same bad item is kept once
    source_id VARCHAR,
    run_id VARCHAR,
    stage VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    location VARCHAR,
    payload VARCHAR,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    times_seen INTEGER DEFAULT 1
);

-- Trend aggregates, rebuilt at the end of each run (cheap) so trend queries never scan detections.
CREATE TABLE doc_daily (
    day DATE, lang VARCHAR, source_id VARCHAR, documents BIGINT
);
CREATE TABLE narrative_daily (
    day DATE, narrative VARCHAR, lang VARCHAR, source_id VARCHAR, documents BIGINT, promote BIGINT
);
