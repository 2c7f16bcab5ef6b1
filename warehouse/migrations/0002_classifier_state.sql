-- Embedding cache (content hash of a sentence → vector) and analyst labels for `pmon review` / `pmon train`.
CREATE TABLE embeddings (
    content_hash VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    vector FLOAT[] NOT NULL,
    PRIMARY KEY (content_hash, model)
);

CREATE TABLE analyst_labels (
    document_id VARCHAR NOT NULL,
    narrative VARCHAR NOT NULL,  -- a leaf id, or '*' for "no narrative at all"
    verdict VARCHAR NOT NULL,    -- confirm | reject
    stance VARCHAR,
    analyst VARCHAR,
    labelled_at TIMESTAMP NOT NULL,
    PRIMARY KEY (document_id, narrative)
);
