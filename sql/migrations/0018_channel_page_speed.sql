-- The channel page's speed (issue 14).

-- Newest first, the page's default order over current videos: the first
-- page reads 50 index entries instead of sorting every video of the channel
-- (the older videos_channel_published_idx sorts NULLs first, the page last).
CREATE INDEX videos_channel_newest_idx ON videos (channel_id, published_at DESC NULLS LAST, id DESC)
    WHERE removed_at IS NULL;

-- A per-channel data version, bumped by the database itself whenever a row
-- the channel page shows changes (videos, their transcripts, suggestions
-- and experiments, the channel's syncs, usage, members and the channel row),
-- so that no writer, present or future, can forget to: the page caches what
-- it rendered under this version (webapp/channels/page_cache.py).
--
-- Versions come from one sequence, never reused, so a cache keyed by
-- (channel, version) cannot mistake a new channel for an old one with the
-- same id. The bump runs at commit (a deferred constraint trigger), once per
-- channel and transaction: the version row is locked only in the last
-- moment before the commit, after every other lock the transaction holds,
-- so it cannot deadlock with the transaction's own row locks, and a reader
-- that sees version v sees every change committed with v.
CREATE SEQUENCE channel_data_version_seq;

CREATE TABLE channel_data_versions (
    channel_id bigint PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    version    bigint NOT NULL
);

CREATE FUNCTION bump_channel_data_version(p_channel_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seen text := 'yco_data_version.bumped_' || p_channel_id;
BEGIN
    IF p_channel_id IS NULL OR current_setting(seen, true) = 'yes' THEN
        RETURN;
    END IF;
    PERFORM set_config(seen, 'yes', true);  -- until the end of this transaction
    INSERT INTO channel_data_versions (channel_id, version)
    SELECT c.id, nextval('channel_data_version_seq') FROM channels c WHERE c.id = p_channel_id
    ON CONFLICT (channel_id) DO UPDATE SET version = EXCLUDED.version;
END
$$;

-- Tables with a channel_id column (and channels itself, by id).
CREATE FUNCTION bump_data_version_by_channel() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'channels' THEN
        PERFORM bump_channel_data_version(CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    ELSE
        IF TG_OP <> 'INSERT' THEN
            PERFORM bump_channel_data_version(OLD.channel_id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM bump_channel_data_version(NEW.channel_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- Tables keyed by video_id: the video's channel.
CREATE FUNCTION bump_data_version_by_video() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM bump_channel_data_version((SELECT channel_id FROM videos WHERE id = OLD.video_id));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM bump_channel_data_version((SELECT channel_id FROM videos WHERE id = NEW.video_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER channels_data_version AFTER INSERT OR UPDATE OR DELETE ON channels
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_channel();
CREATE CONSTRAINT TRIGGER channel_members_data_version AFTER INSERT OR UPDATE OR DELETE ON channel_members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_channel();
CREATE CONSTRAINT TRIGGER videos_data_version AFTER INSERT OR UPDATE OR DELETE ON videos
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_channel();
CREATE CONSTRAINT TRIGGER sync_runs_data_version AFTER INSERT OR UPDATE OR DELETE ON sync_runs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_channel();
CREATE CONSTRAINT TRIGGER usage_ledger_data_version AFTER INSERT OR UPDATE OR DELETE ON usage_ledger
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_channel();
CREATE CONSTRAINT TRIGGER suggestions_data_version AFTER INSERT OR UPDATE OR DELETE ON suggestions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_video();
CREATE CONSTRAINT TRIGGER experiments_data_version AFTER INSERT OR UPDATE OR DELETE ON experiments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_video();
CREATE CONSTRAINT TRIGGER transcripts_data_version AFTER INSERT OR UPDATE OR DELETE ON transcripts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_version_by_video();

-- Every existing channel starts with a version.
INSERT INTO channel_data_versions (channel_id, version)
SELECT id, nextval('channel_data_version_seq') FROM channels;
