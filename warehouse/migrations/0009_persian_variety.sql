-- Persian variety per document (issue #17): 'prs' Dari, 'pes' Iranian Persian, 'und' when a Persian text does not
-- say; NULL for documents in other languages and for Persian documents stored before this migration (their
-- variety was never detected). The trend aggregates gain a `variety` key after `lang`. They are derived data, so
-- they are recreated with the new column and `trends_state` is emptied: the next `refresh_trends` rebuilds them
-- from `documents` and `detections` (pending deltas are dropped, the rebuild counts those documents too).
ALTER TABLE documents ADD COLUMN variety VARCHAR;
ALTER TABLE documents ADD COLUMN variety_confidence DOUBLE;

DROP TABLE doc_daily;
DROP TABLE narrative_daily;
DROP TABLE doc_daily_delta;
DROP TABLE narrative_daily_delta;
DROP TABLE doc_weekly;
DROP TABLE narrative_weekly;
CREATE TABLE doc_daily (
    day DATE, lang VARCHAR, variety VARCHAR, source_id VARCHAR, documents BIGINT
);
CREATE TABLE narrative_daily (
    day DATE, narrative VARCHAR, lang VARCHAR, variety VARCHAR, source_id VARCHAR, documents BIGINT, promote BIGINT
);
CREATE TABLE doc_daily_delta (
    day DATE, lang VARCHAR, variety VARCHAR, source_id VARCHAR, documents BIGINT
);
CREATE TABLE narrative_daily_delta (
    day DATE, narrative VARCHAR, lang VARCHAR, variety VARCHAR, source_id VARCHAR, documents BIGINT, promote BIGINT
);
CREATE TABLE doc_weekly (
    week DATE, lang VARCHAR, variety VARCHAR, source_id VARCHAR, documents BIGINT
);
CREATE TABLE narrative_weekly (
    week DATE, narrative VARCHAR, lang VARCHAR, variety VARCHAR, source_id VARCHAR, documents BIGINT, promote BIGINT
);
DELETE FROM trends_dirty;
DELETE FROM trends_state;
