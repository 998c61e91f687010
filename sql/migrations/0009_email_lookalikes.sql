-- Look-alike accounts (issue 10, item 6): "über@x" typed in NFC and in NFD,
-- or a fullwidth "ａ@x", were separate accounts, because uniqueness was only
-- lower(email). From here on an address is compared by its key: NFKC, then
-- lower case, over the whole address.
--
-- Why a generated column and a partial unique index: accounts that already
-- collide must stay as they are (merging would hand one person's channels to
-- another), so a plain unique index on the key could not be built. Instead
-- every account except the oldest of each colliding group is marked
-- email_lookalike, and the unique index leaves the marked rows out. Every new
-- row is unmarked, so it can collide neither with another new row nor with
-- the oldest (unmarked) account of an old group. The key is a generated
-- column, so no code path can store a row whose key disagrees with its email.
--
-- lower() follows the database's LC_CTYPE, as the old lower(email) index did:
-- with a C locale only A-Z are folded (C.UTF-8 and the usual xx_YY.UTF-8
-- locales fold every letter).

CREATE FUNCTION email_key_of(address text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(normalize(address, NFKC)) $$;

ALTER TABLE users
    ADD COLUMN email_key text GENERATED ALWAYS AS (email_key_of(email)) STORED,
    ADD COLUMN email_lookalike boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN users.email_lookalike IS
    'Set by migration 0009 on an account whose email collided with an older one after normalisation; reported to admins, never merged.';

UPDATE users SET email_lookalike = true
FROM (SELECT id, row_number() OVER (PARTITION BY email_key ORDER BY id) AS n FROM users) AS ranked
WHERE ranked.id = users.id AND ranked.n > 1;

-- One audit line per colliding group, so the finding outlives later changes
-- (the admin users page lists the groups that collide now).
INSERT INTO audit_log (actor_email, action, target_type, target_id, details)
SELECT 'migration 0009', 'user.email_lookalikes_found', 'user', min(id)::text,
       jsonb_build_object('email_key', email_key,
                          'user_ids', jsonb_agg(id ORDER BY id),
                          'emails', jsonb_agg(email ORDER BY id))
FROM users
GROUP BY email_key
HAVING count(*) > 1;

CREATE UNIQUE INDEX users_email_key_unique ON users (email_key) WHERE NOT email_lookalike;
-- Lookups by key must also find the marked accounts, which the partial
-- index leaves out.
CREATE INDEX users_email_key_idx ON users (email_key);
