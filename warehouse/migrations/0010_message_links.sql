-- Message links (#16): the group of translations and near-duplicates each document belongs to. Rows are written
-- once per document (a document is never re-linked); first_* and lag_hours are refreshed when a group gains an
-- earlier member. The document vectors are kept apart, insert-only, so the next run's new documents can be
-- compared with the window's earlier ones without embedding them again.
CREATE TABLE message_links (
    document_id VARCHAR PRIMARY KEY,
    group_id VARCHAR NOT NULL,      -- the id of the document that started the group
    lang VARCHAR,
    first_id VARCHAR NOT NULL,      -- the group's earliest document (by published_at)
    first_lang VARCHAR,
    first_source VARCHAR,
    lag_hours DOUBLE NOT NULL,      -- hours after first_id this document was published
    score DOUBLE,                   -- margin of the link that brought it in; NULL for a group's founder
    linked_at TIMESTAMP NOT NULL,
    run_id VARCHAR
);

CREATE TABLE message_vectors (
    document_id VARCHAR PRIMARY KEY,
    model VARCHAR NOT NULL,         -- vectors of different encoders are never compared
    vector FLOAT[] NOT NULL,        -- the document's: mean of its sentences, L2-normalised
    sentences FLOAT[] NOT NULL      -- its sentences' vectors, one after another (the alignment term)
);
