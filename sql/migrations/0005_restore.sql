-- Restoring an earlier metadata version travels the same safe apply path as
-- a suggestion (read-modify-write, conflict check, a stored version before
-- and after), so a restore is a suggestions row of its own engine.
-- metadata_versions already allows source 'restore'.

ALTER TABLE suggestions DROP CONSTRAINT suggestions_engine_check;
ALTER TABLE suggestions
    ADD CONSTRAINT suggestions_engine_check CHECK (engine IN ('claude', 'heuristic', 'restore'));
