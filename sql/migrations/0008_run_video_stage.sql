-- What each video of an optimization run is doing right now, so the run page
-- can say "asking Claude (model)" instead of "working" while Claude is slow.
-- The labels live in optimizer/run_stages.py; NULL is "waiting its turn".
ALTER TABLE optimization_run_videos
    ADD COLUMN stage text CHECK (stage IN ('transcript', 'research', 'claude', 'next_model', 'heuristic')),
    ADD COLUMN stage_model text,
    ADD COLUMN stage_changed_at timestamptz;

-- A call the circuit breaker refused never reached Anthropic and cost
-- nothing: it is not a call. Earlier versions wrote one ledger row for it,
-- which the usage page counted.
DELETE FROM usage_ledger WHERE outcome = 'breaker_open';
