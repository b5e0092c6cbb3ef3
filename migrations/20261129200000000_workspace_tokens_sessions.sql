-- Migration: workspace tokens and sessions: disconnecting an integration wipes its tokens; refresh tokens rotate.
--
-- What:
--   * workspace.integrations gains CHECK integrations_disconnected_without_tokens: a disconnected integration
--     holds no access or refresh token (and no token expiry). The service wipes them in the same UPDATE that
--     sets the status; the CHECK makes hand-written SQL hold the same line. Existing disconnected rows that
--     still hold tokens are wiped first: keeping a disconnected user's OAuth tokens is the defect (issue 15),
--     and they cannot be used without reconnecting anyway.
--   * workspace.sessions: refresh_token_hash is kept and used. A refresh (platform operation: no tenant is
--     known yet) replaces both hashes in one UPDATE, so each refresh token works once; a unique index makes a
--     refresh-token hash identify one session. Expired sessions are purged by a platform operation
--     (`make purge-sessions`); idx_sessions_expires serves it.
-- Down: drops the CHECK and the index; the wiped tokens stay wiped (they were stale secrets).
-- Safety: the CHECK scans workspace.integrations once (small: one row per user and provider) under the
--   table lock; the unique index is built on the small sessions table inside the migration's transaction.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

UPDATE workspace.integrations
   SET access_token_encrypted = NULL, refresh_token_encrypted = NULL, token_expires_at = NULL
 WHERE status = 'disconnected' AND (access_token_encrypted IS NOT NULL OR refresh_token_encrypted IS NOT NULL OR token_expires_at IS NOT NULL);
-- Checked against the (small) table here, under the lock this migration holds anyway.
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE workspace.integrations ADD CONSTRAINT integrations_disconnected_without_tokens
  CHECK (status <> 'disconnected' OR (access_token_encrypted IS NULL AND refresh_token_encrypted IS NULL AND token_expires_at IS NULL));

-- A refresh-token hash names one session (a refresh looks it up and replaces it).
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX idx_sessions_refresh_token ON workspace.sessions (refresh_token_hash) WHERE refresh_token_hash IS NOT NULL;
COMMENT ON COLUMN workspace.sessions.refresh_token_hash IS 'Hex SHA-256 of the refresh token, if one was issued. A refresh replaces it (and token_hash): each refresh token works once.';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

COMMENT ON COLUMN workspace.sessions.refresh_token_hash IS 'Hex SHA-256 of the refresh token, if one was issued.';
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX workspace.idx_sessions_refresh_token;
ALTER TABLE workspace.integrations DROP CONSTRAINT integrations_disconnected_without_tokens;
