-- GET /api/queues folds the survey answers on every call (the supervisor page polls it):
-- a partial index keeps that to the surveyed rows instead of a scan of the whole call log.
CREATE INDEX interactions_surveyed_idx ON interactions (queue_id, started_at)
    WHERE csat IS NOT NULL OR resolved IS NOT NULL;
