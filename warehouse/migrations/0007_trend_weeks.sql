-- Weekly trend aggregates (weeks start on Monday, as DuckDB's date_trunc('week')), kept by `refresh_trends` from
-- the daily ones: per-week trend queries over source-level shapes read one row per week instead of grouping
-- seven daily rows (at 10M detections: 2.8M daily rows into 490k weekly groups, most of those queries' time).
-- Filled here from the daily tables, so an upgraded warehouse answers at once.
CREATE TABLE doc_weekly (
    week DATE, lang VARCHAR, source_id VARCHAR, documents BIGINT
);
CREATE TABLE narrative_weekly (
    week DATE, narrative VARCHAR, lang VARCHAR, source_id VARCHAR, documents BIGINT, promote BIGINT
);
INSERT INTO doc_weekly
    SELECT CAST(date_trunc('week', day) AS DATE), lang, source_id, sum(documents) FROM doc_daily GROUP BY ALL;
INSERT INTO narrative_weekly
    SELECT CAST(date_trunc('week', day) AS DATE), narrative, lang, source_id, sum(documents), sum(promote)
    FROM narrative_daily GROUP BY ALL;
