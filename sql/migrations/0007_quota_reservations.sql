-- The YouTube quota belongs to the whole Google project, so an accepted
-- action holds the units it will spend (a reservation) until its job ends:
-- two batches checked at the same moment cannot both pass on the same units.
-- Taken under one advisory lock (optimizer/youtube/quota.py reserve); a
-- reservation counts only what its ledger rows have not yet spent, is
-- released when the work ends, and expires if its job vanishes.
CREATE TABLE quota_reservations (
    id             bigserial PRIMARY KEY,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    released_at    timestamptz,
    units          integer     NOT NULL CHECK (units > 0),
    purpose        text        NOT NULL CHECK (purpose IN ('optimize', 'apply')),
    channel_id     bigint REFERENCES channels (id) ON DELETE SET NULL,
    user_id        bigint REFERENCES users (id) ON DELETE SET NULL,
    run_id         bigint REFERENCES optimization_runs (id) ON DELETE CASCADE,
    suggestion_id  bigint REFERENCES suggestions (id) ON DELETE CASCADE
);
CREATE INDEX quota_reservations_open_idx ON quota_reservations (expires_at) WHERE released_at IS NULL;
CREATE INDEX quota_reservations_run_idx ON quota_reservations (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX quota_reservations_suggestion_idx ON quota_reservations (suggestion_id) WHERE suggestion_id IS NOT NULL;

-- What a reservation has spent so far.
ALTER TABLE quota_ledger ADD COLUMN reservation_id bigint REFERENCES quota_reservations (id) ON DELETE SET NULL;
CREATE INDEX quota_ledger_reservation_idx ON quota_ledger (reservation_id) WHERE reservation_id IS NOT NULL;

-- "Without transcripts": the creator chose not to spend captions units on this run.
ALTER TABLE optimization_runs ADD COLUMN without_transcripts boolean NOT NULL DEFAULT false;
