-- A run or a sync whose job could not be put on the queue (Redis was
-- unreachable when the button was pressed): pressing the button again, or
-- the cron sweep (jobs/maintenance.py, every minute), queues it. NULL when
-- its job was queued. See jobs/queueing.py.
ALTER TABLE optimization_runs ADD COLUMN not_queued_since timestamptz;
ALTER TABLE sync_runs ADD COLUMN not_queued_since timestamptz;
CREATE INDEX optimization_runs_active_idx ON optimization_runs (created_at) WHERE status IN ('queued', 'running');
