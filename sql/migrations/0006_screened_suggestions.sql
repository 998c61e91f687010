-- What the filter between untrusted text (transcripts, keyword research,
-- Claude) and the public fields removed from a suggestion, and why:
-- [{"field": "tags", "text": "...", "reason": "markup"}, ...], shown in the review.
ALTER TABLE suggestions ADD COLUMN removed jsonb NOT NULL DEFAULT '[]'::jsonb;
