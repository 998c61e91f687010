-- Analytics ingest (jobs/analytics.py, optimizer/youtube/ingest.py).
-- The Analytics API's averageViewPercentage (and the Reporting API's
-- average_view_duration_percentage) is a share of the video's length, not a
-- duration: it gets a column of its own rather than a mislabelled one.
ALTER TABLE video_daily_stats ADD COLUMN average_view_percentage numeric;

-- The channel's Reporting API job (channel_basic_a3), created once by the
-- first ingest after connecting; its daily files replace per-video queries.
ALTER TABLE channels ADD COLUMN reporting_job_id text;

-- Each report file is downloaded once: a backfill arrives as a new report id.
CREATE TABLE reporting_files_read (
    report_id text PRIMARY KEY,
    channel_id bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    start_day date NOT NULL,
    rows_stored integer NOT NULL,
    read_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reporting_files_read_channel_idx ON reporting_files_read (channel_id);
