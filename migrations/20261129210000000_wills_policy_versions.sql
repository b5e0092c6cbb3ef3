-- Migration: wills privacy-policy versions: which version is current, so consent is checked against it.
--
-- What: wills.privacy_policy_versions (version, effective_from, summary). The current version is the one with
--   the latest effective_from not in the future (ties: the greater version). currentConsent and hasConsent
--   answer for the current version only: a grant under a superseded version does not count until the data
--   subject grants again under the current one.
-- Why a table and not configuration (issue 15): the version history with its effective dates is evidence a
--   compliance officer needs ("which policy was in force when this subject consented?"), it must be the same
--   for every process reading the database, and publishing a new version is a recorded, audited act
--   (publishPolicyVersion, a platform operation) rather than a deploy. No FK from consent_records: a grant
--   under a version not published yet is kept as given (it simply is not current).
-- Backfill: every version consent was granted under becomes a row, effective from its first grant.
-- Safety: a new table; the backfill reads consent_records once.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE wills.privacy_policy_versions (
  version        text PRIMARY KEY,
  effective_from timestamptz NOT NULL,
  summary        text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT privacy_policy_versions_version_format CHECK (version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$'),
  CONSTRAINT privacy_policy_versions_summary_length CHECK (char_length(summary) <= 10000)
);
COMMENT ON TABLE wills.privacy_policy_versions IS 'Published privacy-policy versions; the current one has the latest effective_from not in the future. Consent counts only under it.';
COMMENT ON COLUMN wills.privacy_policy_versions.effective_from IS 'From when this version governs processing (consent granted under earlier versions stops counting then).';
CREATE INDEX privacy_policy_versions_effective_idx ON wills.privacy_policy_versions (effective_from DESC, version DESC);
GRANT SELECT ON wills.privacy_policy_versions TO app;

-- The rule "which version is in force" in one place, for every query that needs it.
CREATE FUNCTION wills.policy_in_force() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT v.version FROM wills.privacy_policy_versions v WHERE v.effective_from <= now()
         ORDER BY v.effective_from DESC, v.version DESC LIMIT 1 $$;
COMMENT ON FUNCTION wills.policy_in_force() IS 'The privacy-policy version in force: the latest effective_from not in the future (ties: the greater version); NULL when none.';

INSERT INTO wills.privacy_policy_versions (version, effective_from)
SELECT privacy_policy_version, min(granted_at) FROM wills.consent_records GROUP BY privacy_policy_version;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Down section: drops the table this migration created (the versions are derivable from consent_records).
DROP FUNCTION wills.policy_in_force();
-- squawk-ignore ban-drop-table
DROP TABLE wills.privacy_policy_versions;
