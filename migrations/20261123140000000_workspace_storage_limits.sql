-- Migration: workspace storage limits: values the schema accepted but PostgreSQL could not index.
--
-- What: (1) idx_gmail_search indexes the subject and the first 100,000 characters of body_text instead of the
--   whole body; queries/workspace/integrations.sql (SearchGmail) uses the same expression. (2) CHECK
--   devices_device_token_length bounds a push token by its UTF-8 size, 1 to 2,048 bytes, instead of 1 to
--   4,096 characters.
-- Why: both were found by the bad-input matrix (test/reliability/bad-input.test.ts, issue 7), each failing
--   with a raw 54000 "program limit exceeded" instead of a validation error:
--   * a tsvector holds at most 1 MB; measured here, distinct short words (e.g. two-character CJK words)
--     take up to ~4.7 bytes of tsvector per character of text, so a mail body of ~220,000 characters can
--     overflow it, and the insert (and every search that recomputes the vector) fails. Gmail bodies are
--     stored in full (up to 1,000,000 characters, src/workspace/integrations.ts); search covers the first
--     100,000 characters: the worst text measured (distinct two-character CJK words) gives a 467 kB
--     tsvector, and the 10,000-character subject adds at most ~50 kB, well under 1 MB.
--   * a btree entry holds at most 2,704 bytes, so the UNIQUE (user_id, device_token) key refused tokens
--     over ~2,690 bytes. APNs tokens are 64 hex characters, FCM tokens about 160, Web Push endpoints a few
--     hundred: 2,048 bytes leaves ample room and always fits the key.
-- Safety: rebuilding idx_gmail_search takes a SHARE lock on workspace.gmail_messages (reads continue, mail
--   sync writes wait) for the length of the build, inside the single migration transaction (which is why it
--   is not CONCURRENTLY). The CHECK is validated in place under an ACCESS EXCLUSIVE lock on
--   workspace.devices, a small table (one row per device). No existing token can exceed the new bound
--   except one of 2,049 to ~2,690 bytes; a DBA can find them with
--   SELECT id FROM workspace.devices WHERE octet_length(device_token) > 2048.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '300s';

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX workspace.idx_gmail_search;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_gmail_search ON workspace.gmail_messages
  USING gin (to_tsvector('english', coalesce(subject, '') || ' ' || left(coalesce(body_text, ''), 100000)));
COMMENT ON INDEX workspace.idx_gmail_search IS
  'Full-text search over subject and the first 100,000 characters of body_text (a tsvector holds at most 1 MB). SearchGmail uses the same expression.';

ALTER TABLE workspace.devices DROP CONSTRAINT devices_device_token_length;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE workspace.devices ADD CONSTRAINT devices_device_token_length
  CHECK (octet_length(device_token) BETWEEN 1 AND 2048);
COMMENT ON CONSTRAINT devices_device_token_length ON workspace.devices IS
  'At most 2,048 UTF-8 bytes, so the UNIQUE (user_id, device_token) btree entry always fits (2,704-byte limit).';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '300s';

ALTER TABLE workspace.devices DROP CONSTRAINT devices_device_token_length;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE workspace.devices ADD CONSTRAINT devices_device_token_length
  CHECK (char_length(device_token) BETWEEN 1 AND 4096);

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX workspace.idx_gmail_search;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_gmail_search ON workspace.gmail_messages
  USING gin (to_tsvector('english', coalesce(subject, '') || ' ' || coalesce(body_text, '')));
