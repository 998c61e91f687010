-- Data retention (DATA_RETENTION_DAYS, enforced daily by jobs/maintenance.py
-- enforce_data_retention; the table of what is kept is docs/data.md) and
-- account deletion's pseudonymised audit trail.

-- When the analytics ingest last wrote each day's numbers: a day not fetched
-- again within the limit is deleted. Rows that exist today get the
-- migration's time, so they have a whole period to be refreshed.
ALTER TABLE video_daily_stats ADD COLUMN refreshed_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX video_daily_stats_refreshed_idx ON video_daily_stats (refreshed_at);

-- videos.synced_at (the sync) and transcripts.fetched_at already say when
-- their rows were last refreshed. The retention job looks rows up by them.
CREATE INDEX videos_synced_idx ON videos (synced_at);
CREATE INDEX transcripts_fetched_idx ON transcripts (fetched_at);
CREATE INDEX metadata_versions_sync_idx ON metadata_versions (created_at) WHERE source = 'sync';

-- Set when a video's or channel's YouTube fields were blanked because no
-- sync refreshed them in time (the row stays because the creator's own
-- suggestions, versions or experiments hang on it); a sync clears it.
ALTER TABLE videos ADD COLUMN expired_at timestamptz;
ALTER TABLE channels ADD COLUMN expired_at timestamptz;

-- A deleted account's audit rows keep their events but name nobody: the
-- address and the IP are replaced by keyed hashes (HMAC), so one person's
-- events still read as one person's. inet cannot hold a hash, hence a column.
ALTER TABLE audit_log ADD COLUMN ip_hash text;
