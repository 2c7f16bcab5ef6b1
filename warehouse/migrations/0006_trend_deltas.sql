-- What new documents add to the trend aggregates, written by `Warehouse.store_batch` in the batch's own transaction
-- (a killed run leaves them for the next refresh) and folded into doc_daily / narrative_daily by `refresh_trends`:
-- new documents only add counts, so nothing has to be recomputed from `detections` for them. Relabelled
-- documents (`replace_classifications`) still mark their (day, source) keys in `trends_dirty` for recomputation.
CREATE TABLE doc_daily_delta (
    day DATE, lang VARCHAR, source_id VARCHAR, documents BIGINT
);
CREATE TABLE narrative_daily_delta (
    day DATE, narrative VARCHAR, lang VARCHAR, source_id VARCHAR, documents BIGINT, promote BIGINT
);
