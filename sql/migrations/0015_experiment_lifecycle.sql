-- The experiment lifecycle: judged weekly by cron (jobs/experiments.py), every
-- evaluation kept, the 'likely' leans and 'interrupted' added, and the
-- opt-in automatic restore of a change that hurt (at most once, guarded).

ALTER TABLE experiments DROP CONSTRAINT experiments_status_check;
ALTER TABLE experiments
    ADD CONSTRAINT experiments_status_check CHECK (status IN (
        'cooling', 'measuring', 'helped', 'likely_helped', 'inconclusive', 'likely_hurt', 'hurt', 'not_enough_data',
        'interrupted'));

ALTER TABLE experiments
    -- The latest evaluation, copied here so lists need no join: its outcome
    -- (a lean while measuring), which weekly look it was and its interval.
    ADD COLUMN outcome               text,
    ADD COLUMN look                  smallint NOT NULL DEFAULT 0,
    ADD COLUMN interval_low          double precision,
    ADD COLUMN interval_high         double precision,
    ADD COLUMN ended_at              timestamptz,
    -- Auto-restore after a final 'hurt': NULL until decided, then what was
    -- decided ('restored' or why not); set once, so a restore happens at most once.
    ADD COLUMN auto_restore          text,
    ADD COLUMN auto_restore_at       timestamptz,
    ADD COLUMN restore_suggestion_id bigint REFERENCES suggestions (id) ON DELETE SET NULL;

CREATE TABLE experiment_evaluations (
    id             bigserial PRIMARY KEY,
    experiment_id  bigint      NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    evaluated_at   timestamptz NOT NULL DEFAULT now(),
    evaluated_for  date        NOT NULL,  -- the day the judging ran for ("today" of the job)
    look           smallint    NOT NULL,
    outcome        text        NOT NULL,
    lift           double precision,  -- ratio - 1 (0.3 == +30 %)
    interval_low   double precision,
    interval_high  double precision,
    confidence     double precision,
    method         text        NOT NULL,
    metric         text        NOT NULL,
    post_days      integer     NOT NULL,
    controls       integer     NOT NULL,
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (experiment_id, look)
);

ALTER TABLE channels ADD COLUMN auto_restore boolean NOT NULL DEFAULT false;
